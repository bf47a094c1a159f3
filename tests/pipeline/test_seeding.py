import numpy as np
import pytest

from pipeline.seeding import DocumentStreams

KEYS = [0, 5, 2**32 - 1, 2**32, 2**63 + 12345, 2**64 - 1] + [int(k) for k in
        np.random.default_rng(0).integers(0, 2**63, 200, dtype=np.int64)]


def replay(seed: int, keys: list[int], calls) -> list[list]:
    """Each call `(name, docs, args)` made on `default_rng([seed, key])` for each listed document."""
    generators = [np.random.default_rng([seed, key]) for key in keys]
    out = []
    for name, docs, args in calls:
        out.append([int(generators[d].integers(*[a[i] for a in args])) if name == "integers"
                    else generators[d].random() for i, d in enumerate(docs.tolist())])
    return out


def draw(streams: DocumentStreams, calls) -> list[list]:
    return [getattr(streams, name)(docs, *args).tolist() for name, docs, args in calls]


def planning_like_calls(count: int) -> list:
    """The calls SOP planning makes, on changing subsets of documents, so streams move apart and run
    past the prefetched outputs; a span near 2**31 makes Lemire's method reject half its draws."""
    rng = np.random.default_rng(5)
    calls = []
    for _ in range(6):
        docs = np.flatnonzero(rng.random(count) < 0.7)
        n = len(docs)
        calls += [("random", docs, ()),
                  ("integers", docs, (np.full(n, 2), np.full(n, 510))),
                  ("integers", docs, (np.full(n, 1), rng.integers(2, 9, n))),
                  ("integers", docs, (np.full(n, 7), np.full(n, 7 + 2**31 + 1)))]
    return calls


@pytest.mark.parametrize("seed", [0, 7, 1234, 2**40, 2**64 + 3])
def test_batch_streams_draw_what_default_rng_draws(seed):
    calls = planning_like_calls(len(KEYS))
    assert draw(DocumentStreams(seed, np.array(KEYS, dtype=np.uint64)), calls) == replay(seed, KEYS, calls)


def test_a_resumed_generator_draws_what_the_document_stream_draws_next():
    keys = np.array(KEYS, dtype=np.uint64)
    calls = planning_like_calls(len(KEYS))[:3] * 4  # past the prefetched outputs, a 32-bit half kept
    for seed in (1234, 2**64 + 3):
        streams = DocumentStreams(seed, keys)
        assert streams.resumed(7).random(3).tolist() == np.random.default_rng([seed, KEYS[7]]).random(3).tolist()
        draw(streams, calls)
        for doc in (0, 3, 150):
            expected = np.random.default_rng([seed, KEYS[doc]])
            for name, docs, args in calls:
                if doc in docs:
                    getattr(expected, name)(*[int(a[docs == doc][0]) for a in args])
            assert streams.resumed(doc).integers(0, 1000, 9).tolist() == expected.integers(0, 1000, 9).tolist()
