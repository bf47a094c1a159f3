"""The vectorised row-check columns agree with a plain per-row reading of the contract."""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from schemas import shard
from schemas import shard_checks as checks
from schemas.contract import ShardContract
from tests.schemas.shard_fixtures import ENTITY_TYPES, MAX_SEQ_LEN, SPECIALS

CONTRACT = ShardContract(
    vocab_size=21128,
    max_seq_len=MAX_SEQ_LEN,
    entity_type_count=len(ENTITY_TYPES),
    pad_id=SPECIALS.pad,
    cls_id=SPECIALS.cls,
    sep_id=SPECIALS.sep,
    mask_id=SPECIALS.mask,
)


def reference(row: dict) -> dict:
    """The same columns, one row at a time, written for reading rather than speed."""
    ids, len_a = row[shard.INPUT_IDS], row[shard.LEN_A]
    starts, ends, types = row[shard.ENTITY_START], row[shard.ENTITY_END], row[shard.ENTITY_TYPE]
    aligned_ws = len(row[shard.WORD_START]) == len(ids)
    aligned_spans = len(ends) == len(starts) == len(types)
    spans = list(zip(starts, ends, types)) if aligned_spans else []
    pairs = list(zip(spans, spans[1:]))
    return {
        checks.SEQ_LEN: len(ids),
        checks.LEN_B: len(ids) - len_a,
        checks.MAX_ID: max(ids, default=checks.NO_TOKEN),
        checks.FIRST_ID: ids[0] if ids else checks.NO_TOKEN,
        checks.LAST_ID: ids[-1] if ids else checks.NO_TOKEN,
        checks.ID_AT_LEN_A_MINUS_1: ids[len_a - 1] if 1 <= len_a <= len(ids) else checks.NO_TOKEN,
        checks.CLS_COUNT: ids.count(SPECIALS.cls),
        checks.SEP_COUNT: ids.count(SPECIALS.sep),
        checks.PAD_COUNT: ids.count(SPECIALS.pad),
        checks.MASK_COUNT: ids.count(SPECIALS.mask),
        checks.WORD_START_LEN: len(row[shard.WORD_START]),
        checks.SPECIALS_NOT_WORD_START: sum(
            1 for i, w in zip(ids, row[shard.WORD_START]) if i in (SPECIALS.cls, SPECIALS.sep) and not w
        )
        if aligned_ws
        else 0,
        checks.ENTITY_START_LEN: len(starts),
        checks.ENTITY_END_LEN: len(ends),
        checks.ENTITY_TYPE_LEN: len(types),
        checks.EMPTY_SPANS: sum(1 for s, e, _ in spans if e <= s),
        checks.UNSORTED_SPANS: sum(1 for (s0, _, _), (s1, _, _) in pairs if s1 < s0),
        checks.OVERLAPPING_SPANS: sum(1 for (s0, e0, _), (s1, _, _) in pairs if s0 <= s1 < e0),
        checks.SPANS_OUTSIDE_SEGMENT: sum(
            1
            for s, e, _ in spans
            if not (1 <= s and e <= len_a - 1) and not (s >= len_a and e <= len(ids) - 1)
        ),
        checks.UNKNOWN_ENTITY_TYPES: sum(1 for _, _, t in spans if t >= len(ENTITY_TYPES)),
    }


def _scramble(rows: list[dict], seed: int) -> list[dict]:
    """Rows with random damage to every list, so the zero counts are not all the test sees."""
    rng = np.random.default_rng(seed)
    rows = copy.deepcopy(rows)
    for row in rows:
        for column in (
            shard.INPUT_IDS,
            shard.WORD_START,
            shard.ENTITY_START,
            shard.ENTITY_END,
            shard.ENTITY_TYPE,
        ):
            values = row[column]
            if values and rng.random() < 0.3:
                values.pop(int(rng.integers(len(values))))
            if values and rng.random() < 0.3:
                values[int(rng.integers(len(values)))] = type(values[0])(rng.integers(0, 110))
        if rng.random() < 0.2:
            row[shard.LEN_A] = int(rng.integers(0, 60))
        if rng.random() < 0.05:
            row[shard.INPUT_IDS] = []
    return rows


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_vectorised_columns_match_the_per_row_reading(valid_shards: list[list[dict]], seed: int) -> None:
    rows = _scramble(valid_shards[0] + valid_shards[1], seed)
    # Several chunks, one of them a slice: offsets must be read relative to each chunk's start.
    table = pa.Table.from_pylist(rows, schema=shard.SHARD_SCHEMA)
    chunked = pa.concat_tables([table.slice(0, 7), table.slice(7, 50), table.slice(57)])
    derived = checks.derive_row_checks(chunked, CONTRACT)
    expected = pd.DataFrame([reference(row) for row in rows])
    pd.testing.assert_frame_equal(derived[expected.columns], expected, check_dtype=False)
    assert derived[shard.DOC_ID].tolist() == [row[shard.DOC_ID] for row in rows]


def test_valid_rows_break_no_rule(valid_shards: list[list[dict]]) -> None:
    derived = checks.derive_row_checks(
        pa.Table.from_pylist(valid_shards[0], schema=shard.SHARD_SCHEMA), CONTRACT
    )
    counts = [
        checks.PAD_COUNT,
        checks.MASK_COUNT,
        checks.SPECIALS_NOT_WORD_START,
        checks.EMPTY_SPANS,
        checks.UNSORTED_SPANS,
        checks.OVERLAPPING_SPANS,
        checks.SPANS_OUTSIDE_SEGMENT,
        checks.UNKNOWN_ENTITY_TYPES,
    ]
    assert (derived[counts] == 0).all().all()
    assert (derived[checks.ID_AT_LEN_A_MINUS_1] == SPECIALS.sep).all()
    assert derived[checks.ENTITY_START_LEN].sum() > 0  # the fixture does exercise the span checks


def test_empty_table_gives_an_empty_frame() -> None:
    empty = shard.SHARD_SCHEMA.empty_table()
    assert len(checks.derive_row_checks(empty, CONTRACT)) == 0
