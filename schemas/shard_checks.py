"""Per-row scalar columns derived from a shard's list columns, for the expectation suite to test.

Great Expectations checks scalar columns well and list columns hardly at all, so each rule of the
shard contract that looks inside a list becomes one scalar per row here: a length, an id at a fixed
position, or a count of tokens/spans that break the rule (0 when the row is sound). Everything is
computed on the flat list values and offsets with pyarrow and numpy: no Python loop over rows, so a
100k-row shard costs milliseconds.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas import shard
from schemas.contract import ShardContract

SEQ_LEN = "seq_len"
LEN_B = "len_b"  # tokens of `B [SEP]`; 0 for a single segment
MAX_ID = "max_id"
FIRST_ID = "first_id"
LAST_ID = "last_id"
ID_AT_LEN_A_MINUS_1 = "id_at_len_a_minus_1"
CLS_COUNT = "cls_count"
SEP_COUNT = "sep_count"
PAD_COUNT = "pad_count"
MASK_COUNT = "mask_count"
WORD_START_LEN = "word_start_len"
SPECIALS_NOT_WORD_START = "specials_not_word_start"
ENTITY_START_LEN = "entity_start_len"
ENTITY_END_LEN = "entity_end_len"
ENTITY_TYPE_LEN = "entity_type_len"
EMPTY_SPANS = "empty_entity_spans"
UNSORTED_SPANS = "unsorted_entity_spans"
OVERLAPPING_SPANS = "overlapping_entity_spans"
SPANS_OUTSIDE_SEGMENT = "entity_spans_outside_one_segment"
UNKNOWN_ENTITY_TYPES = "unknown_entity_types"

# A position that does not exist (empty row, len_a out of range) reads as this id, never a real one.
NO_TOKEN = -1


class _Lists:
    """One list column as per-row lengths, flat values and each value's row: the vectorised view."""

    def __init__(self, table: pa.Table, name: str, fill: object) -> None:
        column = table.column(name).combine_chunks()
        self.lengths = pc.list_value_length(column).fill_null(0).to_numpy().astype(np.int64)
        self.values = pc.list_flatten(column).fill_null(fill).to_numpy(zero_copy_only=False)
        self.starts = np.cumsum(self.lengths) - self.lengths
        self.rows = np.repeat(np.arange(len(self.lengths)), self.lengths)

    def where_rows(self, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values and row numbers of the rows in `keep` only."""
        selected = np.repeat(keep, self.lengths)
        return self.values[selected].astype(np.int64), self.rows[selected]


def _count_per_row(condition: np.ndarray, row_of: np.ndarray, rows: int) -> np.ndarray:
    """How many elements meet `condition` in each row: the shape every "must be 0" check takes."""
    return np.bincount(row_of[condition], minlength=rows)


def derive_row_checks(table: pa.Table, contract: ShardContract) -> pd.DataFrame:
    """One row per shard row: `len_a`, `sop_label`, `doc_id` as stored plus the derived columns above."""
    rows = table.num_rows
    ids = _Lists(table, shard.INPUT_IDS, 0)
    seq_len = ids.lengths
    len_a = table.column(shard.LEN_A).to_numpy().astype(np.int64)
    token_ids = ids.values.astype(np.int64)

    ids_then_no_token = np.append(token_ids, NO_TOKEN)

    def id_at(positions: np.ndarray, valid: np.ndarray) -> np.ndarray:
        return ids_then_no_token[np.where(valid, ids.starts + positions, len(token_ids))]

    nonempty = seq_len > 0
    max_id = np.full(rows, NO_TOKEN, dtype=np.int64)
    if nonempty.any():
        max_id[nonempty] = np.maximum.reduceat(token_ids, ids.starts[nonempty])

    columns: dict[str, object] = {
        shard.LEN_A: len_a,
        shard.SOP_LABEL: table.column(shard.SOP_LABEL).to_numpy().astype(np.int64),
        shard.DOC_ID: table.column(shard.DOC_ID).to_pandas(),
        SEQ_LEN: seq_len,
        LEN_B: seq_len - len_a,
        MAX_ID: max_id,
        FIRST_ID: id_at(np.zeros(rows, dtype=np.int64), nonempty),
        LAST_ID: id_at(seq_len - 1, nonempty),
        ID_AT_LEN_A_MINUS_1: id_at(len_a - 1, (len_a >= 1) & (len_a <= seq_len)),
        CLS_COUNT: _count_per_row(token_ids == contract.cls_id, ids.rows, rows),
        SEP_COUNT: _count_per_row(token_ids == contract.sep_id, ids.rows, rows),
        PAD_COUNT: _count_per_row(token_ids == contract.pad_id, ids.rows, rows),
        MASK_COUNT: _count_per_row(token_ids == contract.mask_id, ids.rows, rows),
    }
    columns.update(_word_start_checks(table, ids, contract))
    columns.update(_entity_checks(table, seq_len, len_a, contract))
    return pd.DataFrame(columns)


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
    table: pa.Table, seq_len: np.ndarray, len_a: np.ndarray, contract: ShardContract
) -> dict[str, np.ndarray]:
    """Span rules, tested on rows whose start/end/type lists align (else a length check fails)."""
    starts = _Lists(table, shard.ENTITY_START, 0)
    ends = _Lists(table, shard.ENTITY_END, 0)
    types = _Lists(table, shard.ENTITY_TYPE, 0)
    aligned = (ends.lengths == starts.lengths) & (types.lengths == starts.lengths)
    start, rows = starts.where_rows(aligned)
    end, _ = ends.where_rows(aligned)
    entity_type, _ = types.where_rows(aligned)

    # End exclusive: A's tokens are 1..len_a-2 and B's are len_a..len-2, so no span touches a special.
    in_a = (start >= 1) & (end <= len_a[rows] - 1)
    in_b = (start >= len_a[rows]) & (end <= seq_len[rows] - 1)
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
        SPANS_OUTSIDE_SEGMENT: _count_per_row(~(in_a | in_b), rows, n),
        UNKNOWN_ENTITY_TYPES: _count_per_row(entity_type >= contract.entity_type_count, rows, n),
    }
