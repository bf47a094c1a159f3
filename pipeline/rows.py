"""From cleaned documents to a columnar batch of training examples: the pure heart of `prepare`.

An example is one SOP pair or single segment, one per row of `EXAMPLE_SCHEMA`; the shard writer packs
a window of them into shard rows (pipeline/packing.py, layout 3.0 in schemas/shard.py).

Randomness comes from (seed, doc_id) alone, so a document yields the same rows whichever worker,
bundle or batch it lands in. Rows are planned as token ranges (pipeline/sop.py) and assembled for the
whole batch with a few numpy gathers: no per-row or per-token Python, no per-row arrays. The
generators are those of `document_rng`, drawn for the whole batch at once (pipeline/seeding.py).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.annotate import AnnotatedBatch, BatchAnnotator
from pipeline.arrays import blake2b_64, ragged_range
from pipeline.config import SopConfig
from pipeline.documents import CleanDocument
from pipeline.sop import RowPlan, plan_batch
from schemas import shard
from schemas.manifest import SpecialTokens
from schemas.shard import SOP_SINGLE, SOP_SWAPPED

# One example a row, its per-example fields as scalars: what `build_rows` hands the shard writer.
EXAMPLE_SCHEMA = pa.schema(
    [
        pa.field(shard.INPUT_IDS, pa.list_(pa.uint16()), nullable=False),
        pa.field(shard.LEN_A, pa.uint16(), nullable=False),
        pa.field(shard.WORD_START, pa.list_(pa.bool_()), nullable=False),
        pa.field(shard.ENTITY_START, pa.list_(pa.uint16()), nullable=False),
        pa.field(shard.ENTITY_END, pa.list_(pa.uint16()), nullable=False),
        pa.field(shard.ENTITY_TYPE, pa.list_(pa.uint16()), nullable=False),
        pa.field(shard.SOP_LABEL, pa.int8(), nullable=False),
        pa.field(shard.DOC_ID, pa.string(), nullable=False),
        pa.field(shard.EXAMPLE_IN_DOC, pa.uint32(), nullable=False),
    ]
)


@dataclass(frozen=True)
class BatchRows:
    """A batch's examples (`EXAMPLE_SCHEMA`), and for each example its document (index into the batch)
    and its position among that document's examples; `sentences` counts each document's non-empty
    sentences. `document_tokens` are the batch's content tokens (specials aside) and `trimmed_tokens`
    those of them that no example holds: truncation to max_seq_len, counted so it is never silent."""

    batch: pa.RecordBatch
    row_doc: np.ndarray
    row_in_doc: np.ndarray
    sentences: np.ndarray
    document_tokens: int = 0
    trimmed_tokens: int = 0


def _rng_keys(doc_ids: list[str]) -> np.ndarray:
    """Each document's 64-bit key, the second word of its generator's seed (readers never pass an id
    holding a lone surrogate, so the key is that of the id's UTF-8 bytes)."""
    return blake2b_64(doc_ids)


def document_rng(seed: int, doc_id: str) -> np.random.Generator:
    """The document's generator; `build_rows` draws the same streams batch-wide (pipeline/seeding.py)."""
    return np.random.default_rng([seed, int(_rng_keys([doc_id])[0])])


# Characters annotated in one go: the batch arrays cost ~50 bytes per character at their peak, so this
# bounds a worker's working set (~100 MB) whatever the batch size and the documents' lengths.
MAX_BATCH_CHARS = 2_000_000


def split_by_chars(docs: list[CleanDocument], limit: int = MAX_BATCH_CHARS) -> list[list[CleanDocument]]:
    """Consecutive runs of documents of at most `limit` characters together (a longer document alone)."""
    parts: list[list[CleanDocument]] = [[]]
    size = 0
    for doc in docs:
        if parts[-1] and size + len(doc.text) > limit:
            parts.append([])
            size = 0
        parts[-1].append(doc)
        size += len(doc.text)
    return parts if parts[0] else []


def build_rows(
    docs: list[CleanDocument], annotator: BatchAnnotator, config: SopConfig, special: SpecialTokens, seed: int
) -> BatchRows:
    """The training examples of a batch of documents: annotate (sentences, words, tokens, entities), plan
    each document's SOP examples as token ranges, then gather them into columns.

    The plain version of the planning step is `pipeline.sop.plan_rows`, one document at a time; read it
    first. `tests/pipeline/test_rows.py` pins this batch path to it row for row."""
    annotated = annotator.annotate([doc.text for doc in docs])
    doc_ids = [doc.doc_id for doc in docs]
    plan, row_doc, cuts = plan_batch(annotated.sentence_bounds, annotated.doc_sentences, annotated.word_start,
                                     config, seed, _rng_keys(doc_ids))
    counts = np.bincount(row_doc, minlength=len(docs))
    row_in_doc = np.arange(len(row_doc)) - np.repeat(np.cumsum(counts) - counts, counts)
    row_doc_ids = pa.array(doc_ids, type=pa.string()).take(row_doc)
    sentences = np.diff(annotated.doc_sentences)
    a_start, a_end, b_start, b_end, labels = np.asarray(plan, dtype=np.int64).reshape(-1, 5).T
    kept = int((a_end - a_start).sum() + np.where(labels != SOP_SINGLE, b_end - b_start, 0).sum())
    examples = assemble_rows(annotated, plan, cuts, row_doc_ids, special, example_in_doc=row_in_doc)
    return BatchRows(examples, row_doc, row_in_doc, sentences,
                     document_tokens=len(annotated.ids), trimmed_tokens=len(annotated.ids) - kept)


def _array(values: np.ndarray) -> pa.Array:
    """`pa.array` with the type spelled out: inferring it, pyarrow 25 converts uint16 and bool value by
    value (~15 ns each, 60 times a copy). Booleans are packed by numpy, 10 times faster than pyarrow."""
    if values.dtype == np.bool_:
        bits = np.packbits(values, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])
    return pa.array(values, type=pa.from_numpy_dtype(values.dtype))


def _offsets(lengths: np.ndarray) -> pa.Array:
    """List offsets for lists of these lengths, shared by the columns of the same lists."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return _array(offsets)


def assemble_rows(
    annotated: AnnotatedBatch, rows: np.ndarray | list[RowPlan], cuts: np.ndarray | list[int], doc_ids: pa.Array,
    special: SpecialTokens, example_in_doc: np.ndarray | None = None,
) -> pa.RecordBatch:
    """Examples `[CLS] A [SEP] B [SEP]` (or `[CLS] A [SEP]`) gathered from the batch's token arrays, one a
    row of `EXAMPLE_SCHEMA`. `example_in_doc` is each example's index in its document (`build_rows`
    knows it); without it, it is counted along runs of equal doc_ids, right for plans of distinct ids.

    A cut inside a long sentence opens a unit and drops the entities it crosses; the first token of
    each segment opens a unit (truncation may have cut into a word)."""
    plan = np.asarray(rows, dtype=np.int64).reshape(-1, 5)
    a_start, a_end, b_start, b_end, labels = plan.T
    word_start = annotated.word_start
    entities = annotated.entities
    if len(cuts):
        cut_at = np.asarray(cuts, dtype=np.int64)
        word_start = word_start.copy()
        word_start[cut_at] = True
        if len(entities):
            next_cut = np.searchsorted(cut_at, entities[:, 0], side="right")
            crossed = cut_at[np.minimum(next_cut, len(cut_at) - 1)]
            entities = entities[~((next_cut < len(cut_at)) & (crossed < entities[:, 1]))]

    has_b = labels != SOP_SINGLE
    len_a = a_end - a_start + 2
    len_b = np.where(has_b, b_end - b_start + 1, 0)
    row_lengths = len_a + len_b
    # Specials sit at pool positions 0 ([CLS]) and 1 ([SEP]), the batch's tokens from 2 on.
    pool_ids = np.empty(len(annotated.ids) + 2, dtype=np.uint16)
    pool_ids[:2] = special.cls, special.sep
    pool_ids[2:] = annotated.ids
    pool_word_start = np.concatenate(([True, True], word_start))
    zeros, ones = np.zeros_like(a_start), np.ones_like(a_start)
    sources = np.stack([zeros, a_start + 2, ones, b_start + 2, ones], axis=1).ravel()
    lengths = np.stack([ones, len_a - 2, ones, np.maximum(len_b - 1, 0), has_b.astype(np.int64)], axis=1).ravel()
    positions = ragged_range(sources, lengths)
    input_ids = pool_ids[positions]
    row_word_start = pool_word_start[positions]
    row_offsets = np.cumsum(row_lengths) - row_lengths
    row_word_start[row_offsets + 1] = True
    row_word_start[(row_offsets + len_a)[has_b]] = True

    # Entities fully inside a segment, in A-then-B order, shifted to row positions.
    segment_start = np.stack([a_start, b_start], axis=1).ravel()
    segment_end = np.stack([a_end, np.where(has_b, b_end, b_start)], axis=1).ravel()
    first = np.searchsorted(entities[:, 0], segment_start, side="left")
    after = np.searchsorted(entities[:, 1], segment_end, side="right")
    counts = np.maximum(after - first, 0)
    shift = np.stack([1 - a_start, len_a - b_start], axis=1).ravel()
    chosen = ragged_range(first, counts)
    shifts = np.repeat(shift, counts)
    row_entities = counts.reshape(-1, 2).sum(axis=1)

    token_offsets, entity_offsets = _offsets(row_lengths), _offsets(row_entities)
    columns = [
        pa.ListArray.from_arrays(token_offsets, _array(input_ids)),
        _array(len_a.astype(np.uint16)),
        pa.ListArray.from_arrays(token_offsets, _array(row_word_start)),
        pa.ListArray.from_arrays(entity_offsets, _array((entities[chosen, 0] + shifts).astype(np.uint16))),
        pa.ListArray.from_arrays(entity_offsets, _array((entities[chosen, 1] + shifts).astype(np.uint16))),
        pa.ListArray.from_arrays(entity_offsets, _array(entities[chosen, 2].astype(np.uint16))),
        _array(labels.astype(np.int8)),
        doc_ids,
        _array(_index_in_run(doc_ids) if example_in_doc is None else np.asarray(example_in_doc, dtype=np.uint32)),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=EXAMPLE_SCHEMA)


def _index_in_run(doc_ids: pa.Array) -> np.ndarray:
    """Each example's index among its document's examples (`example_in_doc`): a document's examples are
    consecutive in a plan, so this counts along runs of equal doc_ids (two documents sharing an id side
    by side would count on as one, which is why `build_rows` passes the true index)."""
    count = len(doc_ids)
    if count == 0:
        return np.zeros(0, dtype=np.uint32)
    changed = pc.not_equal(doc_ids.slice(1), doc_ids.slice(0, count - 1)).to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(np.concatenate(([True], changed)))
    run_lengths = np.diff(np.append(starts, count))
    return (np.arange(count) - np.repeat(starts, run_lengths)).astype(np.uint32)


def batch_stats(rows: BatchRows, entity_types: tuple[str, ...]) -> Counter:
    """Counts of a batch's examples for the run summary, from the columns (no per-example Python). Shard
    rows, their lengths and [UNK]s are `corpus_profile.row_counts`'s, counted where rows are packed."""
    stats: Counter = Counter()
    batch = rows.batch
    if batch.num_rows == 0:
        return stats
    labels = batch.column(shard.SOP_LABEL).to_numpy()
    types = batch.column(shard.ENTITY_TYPE).values.to_numpy()
    singles = int((labels == SOP_SINGLE).sum())
    stats["examples"] = batch.num_rows
    stats["tokens"] = len(batch.column(shard.INPUT_IDS).values)
    stats["document_tokens"] = rows.document_tokens
    if rows.trimmed_tokens:
        stats["trimmed_tokens"] = rows.trimmed_tokens
    stats["entities"] = len(types)
    stats["swapped_pairs"] = int((labels == SOP_SWAPPED).sum())
    stats["sentences"] = int(rows.sentences.sum())
    for name, count in (("single_segments", singles), ("pairs", batch.num_rows - singles)):
        if count:
            stats[name] = count
    for type_index, count in enumerate(np.bincount(types, minlength=len(entity_types)).tolist()):
        if count:
            stats[f"entities.{entity_types[type_index]}"] = count
    return stats
