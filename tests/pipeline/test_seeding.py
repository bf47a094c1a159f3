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


def test_generators_replay_a_document_stream_from_its_start_or_where_it_stands():
    streams = DocumentStreams(1234, np.array(KEYS, dtype=np.uint64))
    calls = planning_like_calls(len(KEYS))[:3] * 4  # past the prefetched outputs, a 32-bit half kept
    draw(streams, calls)
    for doc in (0, 3, 150):
        expected = np.random.default_rng([1234, KEYS[doc]])
        assert streams.generator(doc).random(5).tolist() == expected.random(5).tolist()
        replay_of_doc = [(name, np.array([0]), tuple(a[docs_of == doc] for a in args))
                         for name, docs_of, args in calls if doc in docs_of]
        expected = np.random.default_rng([1234, KEYS[doc]])
        for name, _, args in replay_of_doc:
            getattr(expected, name)(*[int(a[0]) for a in args])
        assert streams.resumed(doc).integers(0, 1000, 9).tolist() == expected.integers(0, 1000, 9).tolist()
