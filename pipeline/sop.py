"""Sentence Order Prediction rows with Megatron-LM's semantics, planned as token ranges.

Sentences fill a chunk up to a target length (short targets with `short_seq_prob`); a chunk closes
only when it and the rest of the document can each form a pair. Segment A ends at a random sentence
boundary, A and B swap with `swap_prob` (label 1), and an over-long pair loses tokens from random
ends of its longer segment. A document of one sentence becomes a single segment, label -1.

A document's sentences are contiguous in its token array, so every segment (a run of sentences, maybe
truncated) is one range of it: planning only decides ranges and never copies tokens; the columnar
assembly in `pipeline/rows.py` gathers them for a whole batch at once.

Simple twin: `plan_rows`, one document in plain Python with its own `np.random.default_rng([seed,
key])`. Read it first; it is the meaning. `plan_batch` is the fast path the pipeline calls: all
documents of a batch in lockstep, one row each per round of array operations, drawing from each
document's own stream (pipeline/seeding.py) exactly what `plan_rows` draws from its generator, so the
rows are the same whatever the batch. Read it only when the planning itself changes. A document goes
on in Python, from where its stream stands, when its next pair is truncated (NumPy's binomial draws) or
when too few documents are left for a round to pay; one with a sentence to cut for length is planned
by `plan_rows` itself. tests/pipeline/test_sop.py pins the two together
(`test_batch_planning_equals_planning_each_document_with_its_own_generator`,
`test_batch_planning_covers_truncated_pairs_and_long_sentences_on_real_lengths`).
"""
from __future__ import annotations

from collections.abc import Callable
from operator import sub
from typing import NamedTuple

import numpy as np

from pipeline.config import SopConfig
from pipeline.seeding import DocumentStreams
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
    pieces, cuts = split_long_sentences(bounds, word_start, config.max_seq_len - 3)
    return _plan_pairs(pieces, 0, _target_length(rng, config, config.max_seq_len - 3), config, rng), cuts


def _plan_pairs(
    pieces: list[int], chunk_first: int, target: int, config: SopConfig, rng: np.random.Generator
) -> list[RowPlan]:
    """The pair rows from the chunk that opens at piece `chunk_first`, of length `target`, on."""
    max_pair_tokens = config.max_seq_len - 3
    count = len(pieces) - 1
    rows = []
    for index in range(chunk_first, count):
        length = pieces[index + 1] - pieces[chunk_first]
        chunk_size = index + 1 - chunk_first
        remaining = count - index - 1
        if (length >= target and chunk_size >= 2 and remaining > 1) or remaining == 0:
            rows.append(_pair_row(pieces, chunk_first, index + 1, config, rng, max_pair_tokens))
            chunk_first = index + 1
            if remaining:  # after the last row nothing is drawn: the generator is the document's own
                target = _target_length(rng, config, max_pair_tokens)
    return rows


# Below this many documents planning on, a round of array operations costs more than finishing each
# document in Python.
LOCKSTEP_MIN_DOCUMENTS = 32


def plan_batch(
    bounds: np.ndarray, doc_sentences: np.ndarray, word_start: np.ndarray, config: SopConfig, seed: int,
    keys: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows of every document of a batch, as `plan_rows` plans each with `default_rng([seed, key])`:
    an (n, 5) array of `RowPlan` fields, each row's document, and the cuts made inside long sentences
    (ascending). Document d's sentences start at `bounds[doc_sentences[d] : doc_sentences[d + 1]]`.

    Every document takes one of three roads: a single segment (no draw), pairs planned in lockstep and
    finished in Python, or `plan_rows` whole when a sentence is over budget. Rows are gathered per
    document at the end, in the order each road planned them."""
    first, last = doc_sentences[:-1], doc_sentences[1:]
    sentences = last - first
    has_long = _holds_long_sentence(bounds, sentences, config.max_seq_len - 3)
    single = (sentences == 1) & (bounds[last] - bounds[first] <= config.max_seq_len - 2)
    pairs = np.flatnonzero((sentences >= 2) & ~has_long)  # each with its stream ("lane")
    slow = ((sentences == 1) & ~single) | ((sentences >= 2) & has_long)  # a sentence over budget: seldom

    singles = np.flatnonzero(single)
    plans, row_docs = [_single_rows(bounds, first[singles], last[singles])], [singles]
    streams = DocumentStreams(seed, keys[pairs])
    lockstep, lockstep_docs, unfinished = _lockstep_rounds(bounds, first[pairs], last[pairs], streams, config)
    plans += lockstep
    row_docs += [pairs[lanes] for lanes in lockstep_docs]

    bound_list, first_list, last_list = bounds.tolist(), first.tolist(), last.tolist()

    def doc_bounds(doc: int) -> list[int]:
        return bound_list[first_list[doc] : last_list[doc] + 1]

    python_rows, python_docs = _finish_in_python(unfinished, pairs, streams, doc_bounds, first_list, config)
    cuts: list[int] = []
    for doc in np.flatnonzero(slow).tolist():
        doc_plans, doc_cuts = plan_rows(doc_bounds(doc), word_start, config,
                                        np.random.default_rng([seed, int(keys[doc])]))
        python_rows += doc_plans
        python_docs += [doc] * len(doc_plans)
        cuts += doc_cuts
    plans.append(np.asarray(python_rows, dtype=np.int64).reshape(-1, 5))
    row_docs.append(np.asarray(python_docs, dtype=np.int64))
    plan, row_doc = np.concatenate(plans), np.concatenate(row_docs)
    order = np.argsort(row_doc, kind="stable")
    return plan[order], row_doc[order], np.asarray(cuts, dtype=np.int64)


def _holds_long_sentence(bounds: np.ndarray, sentences: np.ndarray, max_pair_tokens: int) -> np.ndarray:
    """Per document (with `sentences` sentences each, laid end to end): does one run over the budget?"""
    long_sentence = np.diff(bounds) > max_pair_tokens
    has_long = np.zeros(len(sentences), dtype=bool)
    has_long[np.repeat(np.arange(len(sentences)), sentences)[long_sentence]] = True
    return has_long


def _single_rows(bounds: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """The one row of each one-sentence document that fits: the whole sentence, no draw."""
    start, end = bounds[first], bounds[last]
    return np.stack([start, end, end, end, np.full_like(start, SOP_SINGLE)], axis=1)


# (lanes, chunk start, target or None) of documents that go on in Python; None: draw the next target.
_Unfinished = tuple[np.ndarray, np.ndarray, np.ndarray | None]


def _lockstep_rounds(
    bounds: np.ndarray, chunk: np.ndarray, doc_last: np.ndarray, streams: DocumentStreams, config: SopConfig,
) -> tuple[list[np.ndarray], list[np.ndarray], list[_Unfinished]]:
    """Pair rows for many documents at once, one row per document a round, as `_plan_pairs` draws them:
    each round's (n, 5) plans and lanes, and what is left to finish in Python (documents whose next pair
    is truncated, with their drawn target, and the last few, before they draw one)."""
    max_pair_tokens = config.max_seq_len - 3
    lanes = np.arange(len(chunk))
    plans, plan_lanes, left = [], [], []
    while len(lanes) >= LOCKSTEP_MIN_DOCUMENTS:
        target = np.full(len(lanes), max_pair_tokens)
        short = streams.random(lanes) < config.short_seq_prob
        target[short] = streams.integers(lanes[short], 2, max_pair_tokens + 1)
        # The chunk closes at the first sentence end that reaches the target with two sentences in it and
        # two left after it; failing that, at the document's end.
        after = np.maximum(np.searchsorted(bounds, bounds[chunk] + target), chunk + 2)
        after = np.where(after <= doc_last - 2, after, doc_last)
        over = bounds[after] - bounds[chunk] > max_pair_tokens  # its pair is truncated: binomial draws
        if over.any():
            left.append((lanes[over], chunk[over], target[over]))
            lanes, chunk, doc_last, after = lanes[~over], chunk[~over], doc_last[~over], after[~over]
        split = streams.integers(lanes, chunk + 1, after)
        swapped = streams.random(lanes) < config.swap_prob
        a, middle, b = bounds[chunk], bounds[split], bounds[after]
        plans.append(np.stack([np.where(swapped, middle, a), np.where(swapped, b, middle),
                               np.where(swapped, a, middle), np.where(swapped, middle, b),
                               np.where(swapped, SOP_SWAPPED, SOP_ORIGINAL)], axis=1))
        plan_lanes.append(lanes)
        going = after < doc_last
        lanes, chunk, doc_last = lanes[going], after[going], doc_last[going]
    left.append((lanes, chunk, None))
    return plans, plan_lanes, left


def _finish_in_python(
    unfinished: list[_Unfinished], pairs: np.ndarray, streams: DocumentStreams, doc_bounds: Callable[[int], list[int]],
    first_list: list[int], config: SopConfig,
) -> tuple[list[RowPlan], list[int]]:
    """The rest of each unfinished document's rows by `_plan_pairs`, from where its stream stands."""
    rows: list[RowPlan] = []
    docs: list[int] = []
    for lanes, chunks, targets in unfinished:
        for index, (lane, chunk_at) in enumerate(zip(lanes.tolist(), chunks.tolist())):
            doc = int(pairs[lane])
            rng = streams.resumed(lane)
            target = _target_length(rng, config, config.max_seq_len - 3) if targets is None else int(targets[index])
            doc_plans = _plan_pairs(doc_bounds(doc), chunk_at - first_list[doc], target, config, rng)
            rows += doc_plans
            docs += [doc] * len(doc_plans)
    return rows, docs


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
