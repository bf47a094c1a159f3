import numpy as np
import pytest

from pipeline.seeding import document_generators

KEYS = [0, 5, 2**32 - 1, 2**32, 2**63 + 12345, 2**64 - 1] + [int(k) for k in
        np.random.default_rng(0).integers(0, 2**63, 200, dtype=np.int64)]


def draws(rng: np.random.Generator) -> tuple:
    """The calls SOP planning makes, in its order."""
    return rng.random(), int(rng.integers(1, 9)), rng.random(), int(rng.binomial(37, 0.5)), int(rng.binomial(3, 0.5))


@pytest.mark.parametrize("seed", [0, 7, 1234, 2**40, 2**64 + 3])
def test_batch_generators_draw_the_streams_of_default_rng(seed):
    expected = [draws(np.random.default_rng([seed, key])) for key in KEYS]
    assert [draws(rng) for rng in document_generators(seed, KEYS)] == expected
