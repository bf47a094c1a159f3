import numpy as np
import pytest

from pipeline.seeding import MAX_INVERTED_TRIALS, DocumentStreams

KEYS = [0, 5, 2**32 - 1, 2**32, 2**63 + 12345, 2**64 - 1] + [int(k) for k in
        np.random.default_rng(0).integers(0, 2**63, 200, dtype=np.int64)]


def replay(seed: int, keys: list[int], calls) -> list[list]:
    """Each call `(name, docs, args)` made on `default_rng([seed, key])` for each listed document."""
    generators = [np.random.default_rng([seed, key]) for key in keys]
    out = []
    for name, docs, args in calls:
        method = "binomial" if name == "binomial_half" else name
        extra = (0.5,) if name == "binomial_half" else ()
        out.append([int(getattr(generators[d], method)(*[a[i] for a in args], *extra)) if name != "random"
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
                  ("integers", docs, (np.full(n, 7), np.full(n, 7 + 2**31 + 1))),
                  ("binomial_half", docs, (rng.integers(1, MAX_INVERTED_TRIALS + 1, n),))]
    return calls


@pytest.mark.parametrize("seed", [0, 7, 1234, 2**40, 2**64 + 3])
def test_batch_streams_draw_what_default_rng_draws(seed):
    calls = planning_like_calls(len(KEYS))
    assert draw(DocumentStreams(seed, np.array(KEYS, dtype=np.uint64)), calls) == replay(seed, KEYS, calls)


def test_binomial_half_matches_numpy_for_every_trial_count_it_takes():
    keys = list(range(3000))
    trials = np.arange(len(keys)) % MAX_INVERTED_TRIALS + 1
    calls = [("binomial_half", np.arange(len(keys)), (trials,))] * 2
    assert draw(DocumentStreams(99, np.array(keys, dtype=np.uint64)), calls) == replay(99, keys, calls)
    with pytest.raises(ValueError):
        DocumentStreams(99, np.array([1], dtype=np.uint64)).binomial_half(np.array([0]), np.array([61]))


def test_generator_replays_a_document_stream_from_its_start():
    streams = DocumentStreams(1234, np.array(KEYS, dtype=np.uint64))
    streams.random(np.arange(len(KEYS)))
    for doc in (0, 3, 150):
        expected = np.random.default_rng([1234, KEYS[doc]])
        assert streams.generator(doc).random(5).tolist() == expected.random(5).tolist()
