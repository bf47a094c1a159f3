"""Per-document random generators, `np.random.default_rng([seed, key])` for a whole batch at once.

`default_rng` costs ~25 us per call (SeedSequence hashing and PCG64 seeding, with Python-int
handling), more than everything else the pipeline does for a short document. Both steps are fixed
integer arithmetic, so this module runs NumPy's SeedSequence mixing as uint32 array operations over
the batch and seeds one PCG64 per document from the result: the streams are bit-identical to
`default_rng([seed, key])` (tests/pipeline/test_seeding.py pins it), which keeps every shard
byte-identical to what per-document seeding produced.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

# numpy/random/bit_generator.pyx (SeedSequence) and pcg64.h (PCG64 seeding) constants.
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_MULT_L, _MIX_MULT_R = 0xCA01F9DD, 0x4973F715
_POOL = 4
_MASK32, _MASK128 = 0xFFFFFFFF, (1 << 128) - 1
_PCG_MULTIPLIER = 0x2360ED051FC65DA44385DF649FCCF645


def _hash_constants(init: int, mult: int, count: int) -> list[np.uint32]:
    """SeedSequence's hash constant after each use: it does not depend on the data."""
    constants, value = [], init
    for _ in range(count):
        constants.append(np.uint32(value))
        value = (value * mult) & _MASK32
    return constants


_MIX_CONSTANTS = _hash_constants(_INIT_A, _MULT_A, _POOL + _POOL * (_POOL - 1))
_STATE_CONSTANTS = _hash_constants(_INIT_B, _MULT_B, 2 * _POOL)


def _hashmix(value: np.ndarray, constant: np.uint32) -> np.ndarray:
    value = (value ^ constant) * np.uint32((int(constant) * _MULT_A) & _MASK32)
    return value ^ (value >> np.uint32(16))


def _mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    result = np.uint32(_MIX_MULT_L) * x - np.uint32(_MIX_MULT_R) * y
    return result ^ (result >> np.uint32(16))


def _uint32_words(value: int) -> list[int]:
    words = []
    while value > 0:
        words.append(value & _MASK32)
        value >>= 32
    return words or [0]


def document_generators(seed: int, keys: list[int]) -> Iterator[np.random.Generator]:
    """The generators of `np.random.default_rng([seed, key]) for key in keys`, for 64-bit keys.

    One generator object is re-seeded for each key (a PCG64 costs as much to create as to seed it the
    slow way), so each one yielded is valid only until the next is drawn: plan one document at a time."""
    seed_words = _uint32_words(seed) if seed >= 0 else []
    if not seed_words or len(seed_words) > _POOL - 2 or not keys:
        yield from (np.random.default_rng([seed, key]) for key in keys)
        return
    key_array = np.asarray(keys, dtype=np.uint64)
    entropy = np.zeros((_POOL, len(keys)), dtype=np.uint32)  # a key below 2**32 pads with a zero word
    entropy[: len(seed_words)] = np.asarray(seed_words, dtype=np.uint32)[:, None]
    entropy[len(seed_words)] = (key_array & np.uint64(_MASK32)).astype(np.uint32)
    entropy[len(seed_words) + 1] = (key_array >> np.uint64(32)).astype(np.uint32)

    with np.errstate(over="ignore"):
        constants = iter(_MIX_CONSTANTS)
        pool = [_hashmix(entropy[i], next(constants)) for i in range(_POOL)]
        for source in range(_POOL):
            for target in range(_POOL):
                if source != target:
                    pool[target] = _mix(pool[target], _hashmix(pool[source], next(constants)))
        words = []
        for index, constant in enumerate(_STATE_CONSTANTS):
            value = (pool[index % _POOL] ^ constant) * np.uint32((int(constant) * _MULT_B) & _MASK32)
            words.append(value ^ (value >> np.uint32(16)))
    halves = [(lo.astype(np.uint64) | (hi.astype(np.uint64) << np.uint64(32))).tolist()
              for lo, hi in zip(words[0::2], words[1::2])]
    bit_generator = np.random.PCG64(0)
    generator = np.random.Generator(bit_generator)
    for seed_hi, seed_lo, inc_hi, inc_lo in zip(*halves):
        bit_generator.state = _pcg64_state((seed_hi << 64) | seed_lo, (inc_hi << 64) | inc_lo)
        yield generator


def _pcg64_state(initstate: int, initseq: int) -> dict:
    """pcg_setseq_128_srandom_r: the state PCG64 reaches from its (state, sequence) seed."""
    increment = ((initseq << 1) | 1) & _MASK128
    state = increment  # 0 * multiplier + increment
    state = (state + initstate) & _MASK128
    state = (state * _PCG_MULTIPLIER + increment) & _MASK128
    return {"bit_generator": "PCG64", "state": {"state": state, "inc": increment}, "has_uint32": 0, "uinteger": 0}
