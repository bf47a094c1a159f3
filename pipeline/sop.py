"""Sentence Order Prediction rows with Megatron-LM's semantics, planned as token ranges.

Sentences fill a chunk up to a target length (short targets with `short_seq_prob`); a chunk closes
only when it and the rest of the document can each form a pair. Segment A ends at a random sentence
boundary, A and B swap with `swap_prob` (label 1), and an over-long pair loses tokens from random
ends of its longer segment. A document of one sentence becomes a single segment, label -1.

A document's sentences are contiguous in its token array, so every segment (a run of sentences, maybe
truncated) is one range of it: planning only decides ranges and never copies tokens; the columnar
assembly in `pipeline/examples.py` gathers them for a whole batch at once.
"""
from __future__ import annotations

from operator import sub
from typing import NamedTuple

import numpy as np

from pipeline.config import SopConfig
from schemas.shard import SOP_ORIGINAL, SOP_SINGLE, SOP_SWAPPED


class RowPlan(NamedTuple):
    """One row: segment A is tokens [a_start, a_end), B is [b_start, b_end) (empty for a single).
    A tuple, so a batch of plans becomes one numpy array in one call."""

    a_start: int
    a_end: int
    b_start: int
    b_end: int
    sop_label: int


def split_long_sentences(bounds: list[int], word_start: np.ndarray, limit: int) -> tuple[list[int], list[int]]:
    """Piece bounds with no piece over `limit` tokens, and the cuts that made them: a long sentence is
    cut at word starts where one exists, so no text is lost to truncation just because a line has no
    punctuation. A cut opens a unit, and an entity it crosses is dropped."""
    if max(map(sub, bounds[1:], bounds)) <= limit:
        return bounds, []
    pieces, cuts = [], []
    for start, end in zip(bounds, bounds[1:]):
        pieces.append(start)
        while end - start > limit:
            candidates = np.flatnonzero(word_start[start + 1 : start + limit + 1])
            start = start + 1 + int(candidates[-1]) if len(candidates) else start + limit
            pieces.append(start)
            cuts.append(start)
    pieces.append(bounds[-1])
    return pieces, cuts


def _target_length(rng: np.random.Generator, config: SopConfig, max_tokens: int) -> int:
    if rng.random() < config.short_seq_prob:
        return int(rng.integers(2, max_tokens + 1))
    return max_tokens


def plan_rows(
    bounds: list[int], word_start: np.ndarray, config: SopConfig, rng: np.random.Generator
) -> tuple[list[RowPlan], list[int]]:
    """Rows of one document whose sentences start at `bounds[:-1]` and which ends at `bounds[-1]`
    (positions in `word_start`), and the cuts made inside long sentences. Plain Python on lists: a
    document has a handful of sentences, where numpy's per-call cost would dominate."""
    if len(bounds) < 2:
        return [], []
    if len(bounds) == 2:
        start, end = _truncate(bounds[0], bounds[1], config.max_seq_len - 2, rng)
        return [RowPlan(start, end, end, end, SOP_SINGLE)], []
    max_pair_tokens = config.max_seq_len - 3
    pieces, cuts = split_long_sentences(bounds, word_start, max_pair_tokens)
    count = len(pieces) - 1
    rows = []
    target = _target_length(rng, config, max_pair_tokens)
    chunk_first = 0
    for index in range(count):
        length = pieces[index + 1] - pieces[chunk_first]
        chunk_size = index + 1 - chunk_first
        remaining = count - index - 1
        if (length >= target and chunk_size >= 2 and remaining > 1) or remaining == 0:
            rows.append(_pair_row(pieces, chunk_first, index + 1, config, rng, max_pair_tokens))
            chunk_first = index + 1
            if remaining:  # after the last row nothing is drawn: the generator is the document's own
                target = _target_length(rng, config, max_pair_tokens)
    return rows, cuts


def _pair_row(pieces: list[int], first: int, after: int, config: SopConfig, rng, max_pair_tokens: int) -> RowPlan:
    split = first + int(rng.integers(1, after - first))
    a, b = (pieces[first], pieces[split]), (pieces[split], pieces[after])
    label = SOP_ORIGINAL
    if rng.random() < config.swap_prob:
        a, b, label = b, a, SOP_SWAPPED
    len_a, len_b = _truncated_lengths(a[1] - a[0], b[1] - b[0], max_pair_tokens)
    a = _truncate(*a, len_a, rng)
    b = _truncate(*b, len_b, rng)
    return RowPlan(a[0], a[1], b[0], b[1], label)


def _truncated_lengths(len_a: int, len_b: int, budget: int) -> tuple[int, int]:
    """Megatron trims the longer segment one token at a time; this is where that loop ends."""
    excess = len_a + len_b - budget
    if excess <= 0:
        return len_a, len_b
    if len_a > len_b:
        cut = min(excess, len_a - len_b)
        len_a, excess = len_a - cut, excess - cut
    elif len_b > len_a:
        cut = min(excess, len_b - len_a)
        len_b, excess = len_b - cut, excess - cut
    return len_a - excess // 2, len_b - (excess + 1) // 2  # equal lengths: Megatron trims B first


def _truncate(start: int, end: int, keep: int, rng: np.random.Generator) -> tuple[int, int]:
    """Drops tokens from random ends, as many from the front as a fair coin per token would."""
    removed = end - start - keep
    if removed <= 0:
        return start, end
    front = int(rng.binomial(removed, 0.5))
    return start + front, start + front + keep
