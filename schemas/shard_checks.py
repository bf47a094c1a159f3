"""Per-row scalar columns derived from a shard's list columns, for the expectation suite to test.

Great Expectations checks scalar columns well and list columns hardly at all, so each rule of the
shard contract that looks inside a list becomes one scalar per row here: a length, a maximum, or a
count of tokens, examples or spans that break the rule (0 when the row is sound). A packed row (layout
3.0) holds several examples, so the example rules (`[CLS] A [SEP] (B [SEP])`, `len_a`, the SOP label)
count the row's examples that break them. They are read only in rows whose boundaries are coherent
(every per-example list as long as `example_len`, which sums to the row's length); a row that is not
fails the boundary checks instead, once. Everything is computed on the flat list values and offsets
with pyarrow and numpy: no Python loop over rows or examples, so a 100k-row shard costs milliseconds.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas import shard
from schemas.contract import ShardContract

SEQ_LEN = "seq_len"
EXAMPLES = "examples"  # entries of `example_len`
EXAMPLE_TOKENS = "example_tokens"  # sum of `example_len`: must equal seq_len
MISALIGNED_EXAMPLE_COLUMNS = "misaligned_example_columns"  # per-example lists not as long as example_len
MAX_ID = "max_id"
PAD_COUNT = "pad_count"
MASK_COUNT = "mask_count"
WORD_START_LEN = "word_start_len"
SPECIALS_NOT_WORD_START = "specials_not_word_start"
BAD_SOP_LABELS = "bad_sop_labels"
NULL_DOC_IDS = "null_doc_ids"
# Examples of the row that break a rule (coherent rows only).
NOT_STARTING_WITH_CLS = "examples_not_starting_with_cls"
NOT_ONE_CLS = "examples_without_exactly_one_cls"
SHORT_SEGMENT_A = "examples_with_empty_segment_a"
NO_SEP_AT_LEN_A = "examples_without_sep_at_len_a_minus_1"
NOT_ENDING_WITH_SEP = "examples_not_ending_with_sep"
SINGLE_NOT_ONE_SEP = "single_segments_without_one_sep"
PAIR_NOT_TWO_SEPS = "pairs_without_two_seps"
PAIR_WITHOUT_B = "pairs_without_segment_b"
ENTITY_START_LEN = "entity_start_len"
ENTITY_END_LEN = "entity_end_len"
ENTITY_TYPE_LEN = "entity_type_len"
EMPTY_SPANS = "empty_entity_spans"
UNSORTED_SPANS = "unsorted_entity_spans"
OVERLAPPING_SPANS = "overlapping_entity_spans"
SPANS_OUTSIDE_SEGMENT = "entity_spans_outside_one_segment"
UNKNOWN_ENTITY_TYPES = "unknown_entity_types"

# A position that does not exist (empty example, len_a out of range) reads as this id, never a real one.
NO_TOKEN = -1
_ROW_STRIDE = 1 << 32  # row * stride + position orders (row, position) pairs in one int64


class _Lists:
    """One list column as per-row lengths, flat values and each value's row: the vectorised view."""

    def __init__(self, table: pa.Table, name: str, fill: object) -> None:
        column = table.column(name).combine_chunks()
        flat = pc.list_flatten(column)
        self.lengths = pc.list_value_length(column).fill_null(0).to_numpy().astype(np.int64)
        self.nulls = pc.is_null(flat).to_numpy(zero_copy_only=False)
        self.values = flat.fill_null(fill).to_numpy(zero_copy_only=False)
        self.starts = np.cumsum(self.lengths) - self.lengths
        self.rows = np.repeat(np.arange(len(self.lengths)), self.lengths)

    def where_rows(self, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values and row numbers of the rows in `keep` only."""
        selected = np.repeat(keep, self.lengths)
        return self.values[selected].astype(np.int64), self.rows[selected]


def _count_per_row(condition: np.ndarray, row_of: np.ndarray, rows: int) -> np.ndarray:
    """How many elements meet `condition` in each row: the shape every "must be 0" check takes."""
    return np.bincount(row_of[condition], minlength=rows)


class _Examples:
    """The examples of the coherent rows: row, start in the row, length, len_a, label, and the flat
    position of the first token in the input_ids values."""

    def __init__(self, table: pa.Table, ids: _Lists, coherent: np.ndarray) -> None:
        self.length, self.row = _Lists(table, shard.EXAMPLE_LEN, 0).where_rows(coherent)
        self.len_a, _ = _Lists(table, shard.LEN_A, 0).where_rows(coherent)
        self.label, _ = _Lists(table, shard.SOP_LABEL, 0).where_rows(coherent)
        ends = np.cumsum(self.length)
        first_of_row = np.flatnonzero(np.r_[True, self.row[1:] != self.row[:-1]]) if len(self.row) else self.row
        per_row = np.diff(np.append(first_of_row, len(self.row)))
        before_row = np.repeat((ends - self.length)[first_of_row], per_row)
        self.start = ends - self.length - before_row
        self.flat_start = ids.starts[self.row] + self.start
        self.pair = self.label != shard.SOP_SINGLE


def derive_row_checks(table: pa.Table, contract: ShardContract) -> pd.DataFrame:
    """One row per shard row: the derived columns above."""
    rows = table.num_rows
    ids = _Lists(table, shard.INPUT_IDS, 0)
    seq_len = ids.lengths
    token_ids = ids.values.astype(np.int64)
    example_len = _Lists(table, shard.EXAMPLE_LEN, 0)
    examples = example_len.lengths
    misaligned = sum(
        (_Lists(table, name, 0 if name != shard.DOC_ID else "").lengths != examples).astype(np.int64)
        for name in (shard.LEN_A, shard.SOP_LABEL, shard.DOC_ID, shard.EXAMPLE_IN_DOC)
    )
    example_tokens = np.bincount(example_len.rows, weights=example_len.values.astype(np.int64), minlength=rows)
    example_tokens = example_tokens.astype(np.int64)
    coherent = (misaligned == 0) & (example_tokens == seq_len)

    nonempty = seq_len > 0
    max_id = np.full(rows, NO_TOKEN, dtype=np.int64)
    if nonempty.any():
        max_id[nonempty] = np.maximum.reduceat(token_ids, ids.starts[nonempty])
    labels = _Lists(table, shard.SOP_LABEL, 0)
    doc_ids = _Lists(table, shard.DOC_ID, "")

    columns: dict[str, object] = {
        SEQ_LEN: seq_len,
        EXAMPLES: examples,
        EXAMPLE_TOKENS: example_tokens,
        MISALIGNED_EXAMPLE_COLUMNS: misaligned,
        MAX_ID: max_id,
        PAD_COUNT: _count_per_row(token_ids == contract.pad_id, ids.rows, rows),
        MASK_COUNT: _count_per_row(token_ids == contract.mask_id, ids.rows, rows),
        BAD_SOP_LABELS: _count_per_row(
            ~np.isin(labels.values, [shard.SOP_SINGLE, shard.SOP_ORIGINAL, shard.SOP_SWAPPED]), labels.rows, rows
        ),
        NULL_DOC_IDS: _count_per_row(doc_ids.nulls, doc_ids.rows, rows),
    }
    found = _Examples(table, ids, coherent)
    columns.update(_example_checks(found, ids, coherent, contract, rows))
    columns.update(_word_start_checks(table, ids, contract))
    columns.update(_entity_checks(table, found, coherent, contract))
    return pd.DataFrame(columns)


def _example_checks(
    found: _Examples, ids: _Lists, coherent: np.ndarray, contract: ShardContract, rows: int
) -> dict[str, np.ndarray]:
    """`[CLS] A [SEP] B [SEP]` (or `[CLS] A [SEP]`) for every example of the coherent rows."""
    token_ids, _ = ids.where_rows(coherent)
    example_of_token = np.repeat(np.arange(len(found.length)), found.length)
    cls = np.bincount(example_of_token[token_ids == contract.cls_id], minlength=len(found.length))
    sep = np.bincount(example_of_token[token_ids == contract.sep_id], minlength=len(found.length))
    ids_then_no_token = np.append(ids.values.astype(np.int64), NO_TOKEN)

    def id_at(offset: np.ndarray, valid: np.ndarray) -> np.ndarray:
        return ids_then_no_token[np.where(valid, found.flat_start + offset, len(ids.values))]

    nonempty = found.length > 0
    first = id_at(np.zeros_like(found.length), nonempty)
    last = id_at(found.length - 1, nonempty)
    at_len_a = id_at(found.len_a - 1, (found.len_a >= 1) & (found.len_a <= found.length))

    def per_row(bad: np.ndarray) -> np.ndarray:
        return _count_per_row(bad, found.row, rows)

    return {
        NOT_STARTING_WITH_CLS: per_row(first != contract.cls_id),
        NOT_ONE_CLS: per_row(cls != 1),
        SHORT_SEGMENT_A: per_row(found.len_a < 3),
        NO_SEP_AT_LEN_A: per_row(at_len_a != contract.sep_id),
        NOT_ENDING_WITH_SEP: per_row(last != contract.sep_id),
        SINGLE_NOT_ONE_SEP: per_row(~found.pair & (sep != 1)),
        PAIR_NOT_TWO_SEPS: per_row(found.pair & (sep != 2)),
        PAIR_WITHOUT_B: per_row(found.pair & (found.length - found.len_a < 2)),
    }


def _word_start_checks(table: pa.Table, ids: _Lists, contract: ShardContract) -> dict[str, np.ndarray]:
    """Specials must start a word; compared only on rows whose two lists align (else a length check fails)."""
    word_start = _Lists(table, shard.WORD_START, False)
    aligned = word_start.lengths == ids.lengths
    row_ids, rows = ids.where_rows(aligned)
    starts_word, _ = word_start.where_rows(aligned)
    special = (row_ids == contract.cls_id) | (row_ids == contract.sep_id)
    return {
        WORD_START_LEN: word_start.lengths,
        SPECIALS_NOT_WORD_START: _count_per_row(special & (starts_word == 0), rows, table.num_rows),
    }


def _entity_checks(
    table: pa.Table, found: _Examples, coherent: np.ndarray, contract: ShardContract
) -> dict[str, np.ndarray]:
    """Span rules, tested on rows whose start/end/type lists align (else a length check fails). Whether
    a span lies inside one segment of one example is read in coherent rows only (else a boundary check
    fails): the example holding its start is found by searching the examples' (row, start) keys."""
    starts = _Lists(table, shard.ENTITY_START, 0)
    ends = _Lists(table, shard.ENTITY_END, 0)
    types = _Lists(table, shard.ENTITY_TYPE, 0)
    aligned = (ends.lengths == starts.lengths) & (types.lengths == starts.lengths)
    start, rows = starts.where_rows(aligned)
    end, _ = ends.where_rows(aligned)
    entity_type, _ = types.where_rows(aligned)

    example_keys = found.row * _ROW_STRIDE + found.start
    holder = np.searchsorted(example_keys, rows * _ROW_STRIDE + start, side="right") - 1
    has_holder = (holder >= 0) & (found.row[np.maximum(holder, 0)] == rows) if len(found.row) else holder >= 0
    holder = np.maximum(holder, 0)
    if len(found.row):
        offset, length, len_a = found.start[holder], found.length[holder], found.len_a[holder]
    else:
        offset = length = len_a = np.zeros_like(start)
    # End exclusive: A's tokens are 1..len_a-2 and B's len_a..len-2 of the example, so no span touches a
    # special or reaches into another example.
    in_a = (start >= offset + 1) & (end <= offset + len_a - 1)
    in_b = (start >= offset + len_a) & (end <= offset + length - 1)
    outside = coherent[rows] & ~(has_holder & (start < offset + length) & (in_a | in_b))
    same_row = rows[1:] == rows[:-1]
    n = table.num_rows
    after_previous = start[1:] >= start[:-1]
    return {
        ENTITY_START_LEN: starts.lengths,
        ENTITY_END_LEN: ends.lengths,
        ENTITY_TYPE_LEN: types.lengths,
        EMPTY_SPANS: _count_per_row(end <= start, rows, n),
        UNSORTED_SPANS: _count_per_row(same_row & ~after_previous, rows[1:], n),
        OVERLAPPING_SPANS: _count_per_row(same_row & after_previous & (start[1:] < end[:-1]), rows[1:], n),
        SPANS_OUTSIDE_SEGMENT: _count_per_row(outside, rows, n),
        UNKNOWN_ENTITY_TYPES: _count_per_row(entity_type >= contract.entity_type_count, rows, n),
    }
