"""Array idioms that several batch stages share: each replaces a Python loop over rows of a batch."""
from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


def ragged_range(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """concatenate([arange(s, s + n) for s, n in zip(starts, lengths)]) without the Python loop."""
    out_starts = np.cumsum(lengths) - lengths
    return np.repeat(starts - out_starts, lengths) + np.arange(int(lengths.sum()))


def code_points(text: str) -> np.ndarray:
    """The text's code points, one uint32 each, so character offsets index them. Lone surrogates pass
    as themselves (readers reject them; a stage never raises on one)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def blake2b_64(texts: Sequence[str]) -> np.ndarray:
    """The 8-byte blake2b digest of each text's UTF-8 bytes, as little-endian uint64: the one 64-bit key
    of a string the stages share (lone surrogates pass as themselves, as in `code_points`)."""
    joined = b"".join(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest() for text in texts)
    return np.frombuffer(joined, dtype="<u8")
