"""Per-document random streams, those of `np.random.default_rng([seed, key])`, for a whole batch at once.

Simple twin: `np.random.default_rng([seed, key])`, one generator per document (`pipeline.rows.
document_rng`, and `sop.plan_rows` draws from it). Read that first: this module only draws the same
numbers for many documents at once, and is worth reading only when NumPy changes its seeding.
tests/pipeline/test_seeding.py pins the two bit for bit (`test_batch_streams_draw_what_default_rng_draws`,
`test_a_resumed_generator_draws_what_the_document_stream_draws_next`), which keeps every shard
byte-identical to what per-document seeding produces.

Why: seeding one generator per document costs more than everything else the pipeline does for a short
document (bench/README.md, "Seeding"). Both of its steps are fixed integer arithmetic, so NumPy's
SeedSequence mixing runs here as uint32 array operations over the batch, and PCG64 itself (a 128-bit
LCG with an XSL-RR output) as uint64 array operations: a document's k-th output is a jump of k steps
from its seed, so the draws of many documents come from one array expression.
"""
from __future__ import annotations

import numpy as np

# numpy/random/bit_generator.pyx (SeedSequence) and pcg64.h (PCG64 seeding) constants.
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_MULT_L, _MIX_MULT_R = 0xCA01F9DD, 0x4973F715
_POOL = 4
_MASK32, _MASK64, _MASK128 = 0xFFFFFFFF, (1 << 64) - 1, (1 << 128) - 1
_PCG_MULTIPLIER = 0x2360ED051FC65DA44385DF649FCCF645
_PCG_INVERSE = pow(_PCG_MULTIPLIER, -1, 1 << 128)
_U32, _U64 = np.uint64(_MASK32), np.uint64(32)


def _hash_constants(init: int, mult: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """SeedSequence's hash constant at each use, and after it (what the value is multiplied by): they do
    not depend on the data. As columns, to hash many words of many documents in one operation."""
    values = [init]
    for _ in range(count):
        values.append((values[-1] * mult) & _MASK32)
    return np.array(values[:-1], dtype=np.uint32)[:, None], np.array(values[1:], dtype=np.uint32)[:, None]


_MIX_XOR, _MIX_MUL = _hash_constants(_INIT_A, _MULT_A, _POOL + _POOL * (_POOL - 1))
_STATE_XOR, _STATE_MUL = _hash_constants(_INIT_B, _MULT_B, 2 * _POOL)
_SHIFT16 = np.uint32(16)


def _hashmix(values: np.ndarray, uses: slice) -> np.ndarray:
    values = (values ^ _MIX_XOR[uses]) * _MIX_MUL[uses]
    return values ^ (values >> _SHIFT16)


def _mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    result = np.uint32(_MIX_MULT_L) * x - np.uint32(_MIX_MULT_R) * y
    return result ^ (result >> _SHIFT16)


def _uint32_words(value: int) -> list[int]:
    words = []
    while value > 0:
        words.append(value & _MASK32)
        value >>= 32
    return words or [0]


def _seed_sequence_states(seed: int, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`SeedSequence([seed, key]).generate_state(4, np.uint64)` per key, as four uint64 arrays: PCG64's
    initial state (high, low half) and sequence (high, low half)."""
    seed_words = _uint32_words(seed)
    entropy = np.zeros((_POOL, len(keys)), dtype=np.uint32)  # a key below 2**32 pads with a zero word
    entropy[: len(seed_words)] = np.asarray(seed_words, dtype=np.uint32)[:, None]
    entropy[len(seed_words)] = (keys & np.uint64(_MASK32)).astype(np.uint32)
    entropy[len(seed_words) + 1] = (keys >> np.uint64(32)).astype(np.uint32)
    with np.errstate(over="ignore"):
        pool = _hashmix(entropy, slice(0, _POOL))
        for source in range(_POOL):  # a source's three targets take consecutive hash constants
            targets = [target for target in range(_POOL) if target != source]
            uses = slice(_POOL + 3 * source, _POOL + 3 * source + 3)
            pool[targets] = _mix(pool[targets], _hashmix(pool[source][None, :], uses))
        words = (pool[np.arange(2 * _POOL) % _POOL] ^ _STATE_XOR) * _STATE_MUL
        words = (words ^ (words >> _SHIFT16)).astype(np.uint64)
    state_hi, state_lo, seq_hi, seq_lo = (lo | (hi << _U64) for lo, hi in zip(words[0::2], words[1::2]))
    return state_hi, state_lo, seq_hi, seq_lo


def _split(values: list[int]) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([value >> 64 for value in values], dtype=np.uint64),
            np.array([value & _MASK64 for value in values], dtype=np.uint64))


def _mul_high(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The high 64 bits of the 128-bit products of two uint64 arrays, from 32-bit halves."""
    a_lo, a_hi, b_lo, b_hi = a & _U32, a >> _U64, b & _U32, b >> _U64
    low, cross_a, cross_b = a_lo * b_lo, a_lo * b_hi, a_hi * b_lo
    middle = (low >> _U64) + (cross_a & _U32) + (cross_b & _U32)
    return a_hi * b_hi + (cross_a >> _U64) + (cross_b >> _U64) + (middle >> _U64)


def _mul(a_hi, a_lo, b_hi, b_lo) -> tuple[np.ndarray, np.ndarray]:
    """128-bit products modulo 2**128, as (high, low) uint64 halves."""
    return _mul_high(a_lo, b_lo) + a_hi * b_lo + a_lo * b_hi, a_lo * b_lo


def _add(a_hi, a_lo, b_hi, b_lo) -> tuple[np.ndarray, np.ndarray]:
    low = a_lo + b_lo
    return a_hi + b_hi + (low < a_lo), low


def _same(values: np.ndarray) -> np.ndarray:
    return values


def _doubles(outputs: np.ndarray) -> np.ndarray:
    """What `Generator.random()` makes of outputs: their top 53 bits, scaled to [0, 1)."""
    return (outputs >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


class _Jumps:
    """For k steps of PCG64's LCG, `state_k = A_k * state_0 + C_k * increment`: the 128-bit constants
    A_k = M**k and C_k = M**(k-1) + ... + 1, as Python ints and as uint64 halves, built up to the
    furthest step asked. The table is replaced whole when it grows: threads sharing it (a runner's
    worker threads) never see it half built."""

    def __init__(self) -> None:
        self._table = self._build([1], [0])

    @staticmethod
    def _build(powers: list[int], sums: list[int]) -> tuple[list[int], list[int], tuple[np.ndarray, ...]]:
        return powers, sums, (*_split(powers), *_split(sums))

    def reach(self, steps: int) -> tuple[list[int], list[int], tuple[np.ndarray, ...]]:
        table = self._table
        if steps >= len(table[0]):
            powers, sums = list(table[0]), list(table[1])
            for _ in range(max(steps + 1, 2 * len(powers)) - len(powers)):
                powers.append((powers[-1] * _PCG_MULTIPLIER) & _MASK128)
                sums.append((sums[-1] * _PCG_MULTIPLIER + 1) & _MASK128)
            table = self._table = self._build(powers, sums)
        return table


_JUMPS = _Jumps()


class DocumentStreams:
    """The streams of `default_rng([seed, key]) for key in keys` (64-bit keys), drawn for many documents
    at once: each call takes the next value of each document it lists (each listed once).

    Each document's first `prefetch` outputs come from one array expression at construction (three
    cover a first row: the target, the split's 32 bits, the swap); later ones are computed as asked.
    `resumed(doc)` hands a stream on to code that wants a Generator."""

    def __init__(self, seed: int, keys: np.ndarray, prefetch: int = 3) -> None:
        keys = np.asarray(keys, dtype=np.uint64)
        seed_words = _uint32_words(seed) if seed >= 0 else []
        if seed_words and len(seed_words) <= _POOL - 2:
            state_hi, state_lo, seq_hi, seq_lo = _seed_sequence_states(seed, keys)
            one = np.uint64(1)
            inc_hi, inc_lo = (seq_hi << one) | (seq_lo >> np.uint64(63)), (seq_lo << one) | one
            # pcg_setseq_128_srandom_r steps once from zero (to the increment), adds the initial state and
            # steps again: the seeded state is one step on from `base`, the initial state plus increment.
            base = _add(inc_hi, inc_lo, state_hi, state_lo)
        else:  # SeedSequence pools such seeds differently: let NumPy seed them, one by one
            states = [np.random.default_rng([seed, int(key)]).bit_generator.state["state"] for key in keys.tolist()]
            base = _split([((s["state"] - s["inc"]) * _PCG_INVERSE) & _MASK128 for s in states])
            inc_hi, inc_lo = _split([s["inc"] for s in states])
        self._base, self._inc = base, (inc_hi, inc_lo)
        self._position = np.zeros(len(keys), dtype=np.int64)
        self._has_half = np.zeros(len(keys), dtype=bool)
        self._half = np.zeros(len(keys), dtype=np.uint64)
        self._prefetch = prefetch
        self._generator: np.random.Generator | None = None  # made once, on first use: seeding one is not free
        self._prefetched = self._outputs(np.arange(len(keys))[:, None], np.arange(prefetch)[None, :]).ravel()
        self._prefetched_doubles = _doubles(self._prefetched)

    def _outputs(self, docs: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """PCG64's outputs number `positions` of `docs` (broadcast): XSL-RR of the state one step on,
        two steps from `base`. (Integer arrays wrap around silently, as arithmetic modulo 2**64 wants.)"""
        arrays = _JUMPS.reach(int(positions.max(initial=0)) + 2)[2]
        a_hi, a_lo, c_hi, c_lo = (array[positions + 2] for array in arrays)
        hi, lo = _add(*_mul(a_hi, a_lo, self._base[0][docs], self._base[1][docs]),
                      *_mul(c_hi, c_lo, self._inc[0][docs], self._inc[1][docs]))
        value, rotation = hi ^ lo, hi >> np.uint64(58)
        return (value >> rotation) | (value << ((np.uint64(64) - rotation) & np.uint64(63)))

    def _take(self, docs: np.ndarray, prefetched: np.ndarray, convert) -> np.ndarray:
        """The next output of each document, from `prefetched` (a view of the prefetched outputs) while
        there is one, else computed and passed through `convert`."""
        positions = self._position[docs]
        self._position[docs] = positions + 1
        if not len(docs) or positions.max() < self._prefetch:
            return prefetched[docs * self._prefetch + positions]
        values = prefetched[docs * self._prefetch + np.minimum(positions, self._prefetch - 1)]
        later = positions >= self._prefetch
        values[later] = convert(self._outputs(docs[later], positions[later]))
        return values

    def _next_uint32(self, docs: np.ndarray) -> np.ndarray:
        """PCG64's 32-bit draw: the low half of a fresh output, keeping the high half for the next one."""
        has_half = self._has_half[docs]
        values = self._half[docs]
        fresh = docs[~has_half]
        output = self._take(fresh, self._prefetched, _same)
        values[~has_half] = output & _U32
        self._half[fresh] = output >> _U64
        self._has_half[docs] = ~has_half
        return values

    def random(self, docs: np.ndarray) -> np.ndarray:
        """`Generator.random()` per document."""
        return self._take(docs, self._prefetched_doubles, _doubles)

    def integers(self, docs: np.ndarray, low: np.ndarray | int, high: np.ndarray | int) -> np.ndarray:
        """`Generator.integers(low, high)` per document (high - low <= 2**32): Lemire's bounded draw from
        32-bit halves, with NumPy's rejection; a range of one value draws nothing."""
        span = high - low - 1
        if np.ndim(span) == 0:
            span = np.full(len(docs), span, dtype=np.int64)
        values = np.zeros(len(docs), dtype=np.int64)
        pending = np.flatnonzero(span)
        while len(pending):
            exclusive = span[pending].astype(np.uint64) + np.uint64(1)
            product = self._next_uint32(docs[pending]) * exclusive
            values[pending] = product >> _U64
            leftover = product & _U32
            low_leftover = leftover < exclusive  # the rejection threshold lies below `exclusive`
            if not low_leftover.any():
                break
            pending = pending[low_leftover & (leftover < (np.uint64(1 << 32) - exclusive) % exclusive)]
        return values + low

    def resumed(self, doc: int) -> np.random.Generator:
        """A Generator that draws what this document's stream draws next. One generator object serves
        every call, re-seeded: each one returned is valid only until the next call."""
        steps = int(self._position[doc]) + 1
        inc = (int(self._inc[0][doc]) << 64) | int(self._inc[1][doc])
        base = (int(self._base[0][doc]) << 64) | int(self._base[1][doc])
        powers, sums, _ = _JUMPS.reach(steps)
        state = (powers[steps] * base + sums[steps] * inc) & _MASK128
        if self._generator is None:
            self._generator = np.random.Generator(np.random.PCG64(0))
        self._generator.bit_generator.state = {"bit_generator": "PCG64", "state": {"state": state, "inc": inc},
                                               "has_uint32": int(self._has_half[doc]), "uinteger": int(self._half[doc])}
        return self._generator
