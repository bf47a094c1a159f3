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


def _example_reading(row: dict) -> dict:
    """The example rules, example by example, for a row whose boundaries are coherent."""
    ids = row[shard.INPUT_IDS]
    counts = dict.fromkeys(
        [checks.NOT_STARTING_WITH_CLS, checks.NOT_ONE_CLS, checks.SHORT_SEGMENT_A, checks.NO_SEP_AT_LEN_A,
         checks.NOT_ENDING_WITH_SEP, checks.SINGLE_NOT_ONE_SEP, checks.PAIR_NOT_TWO_SEPS, checks.PAIR_WITHOUT_B], 0)
    offset = 0
    bounds = []
    for length, len_a, label in zip(row[shard.EXAMPLE_LEN], row[shard.LEN_A], row[shard.SOP_LABEL]):
        example = ids[offset : offset + length]
        pair = label != shard.SOP_SINGLE
        counts[checks.NOT_STARTING_WITH_CLS] += not example or example[0] != SPECIALS.cls
        counts[checks.NOT_ONE_CLS] += example.count(SPECIALS.cls) != 1
        counts[checks.SHORT_SEGMENT_A] += len_a < 3
        counts[checks.NO_SEP_AT_LEN_A] += not (1 <= len_a <= length and example[len_a - 1] == SPECIALS.sep)
        counts[checks.NOT_ENDING_WITH_SEP] += not example or example[-1] != SPECIALS.sep
        counts[checks.SINGLE_NOT_ONE_SEP] += not pair and example.count(SPECIALS.sep) != 1
        counts[checks.PAIR_NOT_TWO_SEPS] += pair and example.count(SPECIALS.sep) != 2
        counts[checks.PAIR_WITHOUT_B] += pair and length - len_a < 2
        bounds.append((offset, length, len_a))
        offset += length
    return counts, bounds


def _inside_one_segment(start: int, end: int, bounds: list[tuple[int, int, int]]) -> bool:
    """Inside segment A or B of the example whose tokens hold `start` (offset, length, len_a)."""
    for offset, length, len_a in bounds:
        if offset <= start < offset + length:
            return (offset + 1 <= start and end <= offset + len_a - 1) or (
                start >= offset + len_a and end <= offset + length - 1
            )
    return False


def reference(row: dict) -> dict:
    """The same columns, one row at a time, written for reading rather than speed."""
    ids = row[shard.INPUT_IDS]
    starts, ends, types = row[shard.ENTITY_START], row[shard.ENTITY_END], row[shard.ENTITY_TYPE]
    examples = len(row[shard.EXAMPLE_LEN])
    misaligned = sum(len(row[name]) != examples
                     for name in (shard.LEN_A, shard.SOP_LABEL, shard.DOC_ID, shard.EXAMPLE_IN_DOC))
    coherent = misaligned == 0 and sum(row[shard.EXAMPLE_LEN]) == len(ids)
    example_counts, bounds = _example_reading(row) if coherent else (dict.fromkeys(
        [checks.NOT_STARTING_WITH_CLS, checks.NOT_ONE_CLS, checks.SHORT_SEGMENT_A, checks.NO_SEP_AT_LEN_A,
         checks.NOT_ENDING_WITH_SEP, checks.SINGLE_NOT_ONE_SEP, checks.PAIR_NOT_TWO_SEPS, checks.PAIR_WITHOUT_B],
        0), [])
    aligned_ws = len(row[shard.WORD_START]) == len(ids)
    aligned_spans = len(ends) == len(starts) == len(types)
    spans = list(zip(starts, ends, types)) if aligned_spans else []
    pairs = list(zip(spans, spans[1:]))
    return {
        checks.SEQ_LEN: len(ids),
        checks.EXAMPLES: examples,
        checks.EXAMPLE_TOKENS: sum(row[shard.EXAMPLE_LEN]),
        checks.MISALIGNED_EXAMPLE_COLUMNS: misaligned,
        checks.MAX_ID: max(ids, default=checks.NO_TOKEN),
        checks.PAD_COUNT: ids.count(SPECIALS.pad),
        checks.MASK_COUNT: ids.count(SPECIALS.mask),
        checks.BAD_SOP_LABELS: sum(label not in (-1, 0, 1) for label in row[shard.SOP_LABEL]),
        checks.NULL_DOC_IDS: sum(doc_id is None for doc_id in row[shard.DOC_ID]),
        **example_counts,
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
        checks.SPANS_OUTSIDE_SEGMENT: sum(1 for s, e, _ in spans if not _inside_one_segment(s, e, bounds))
        if coherent
        else 0,
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
            shard.EXAMPLE_LEN,
            shard.LEN_A,
            shard.SOP_LABEL,
            shard.EXAMPLE_IN_DOC,
        ):
            values = row[column]
            if values and rng.random() < 0.2:
                values.pop(int(rng.integers(len(values))))
            if values and rng.random() < 0.3:
                values[int(rng.integers(len(values)))] = type(values[0])(rng.integers(0, 110))
        if rng.random() < 0.2:
            row[shard.LEN_A] = [int(rng.integers(0, 30)) for _ in row[shard.EXAMPLE_LEN]]
        if rng.random() < 0.2:
            row[shard.SOP_LABEL] = [int(rng.integers(-2, 3)) for _ in row[shard.EXAMPLE_LEN]]
        if rng.random() < 0.1:
            row[shard.DOC_ID] = [None if rng.random() < 0.5 else d for d in row[shard.DOC_ID]]
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
    assert (expected[checks.SPANS_OUTSIDE_SEGMENT] > 0).any() and (expected[checks.NO_SEP_AT_LEN_A] > 0).any()
    pd.testing.assert_frame_equal(derived[expected.columns], expected, check_dtype=False)


def test_valid_rows_break_no_rule(valid_shards: list[list[dict]]) -> None:
    derived = checks.derive_row_checks(
        pa.Table.from_pylist(valid_shards[0], schema=shard.SHARD_SCHEMA), CONTRACT
    )
    counts = [
        checks.MISALIGNED_EXAMPLE_COLUMNS,
        checks.PAD_COUNT,
        checks.MASK_COUNT,
        checks.BAD_SOP_LABELS,
        checks.NULL_DOC_IDS,
        checks.NOT_STARTING_WITH_CLS,
        checks.NOT_ONE_CLS,
        checks.SHORT_SEGMENT_A,
        checks.NO_SEP_AT_LEN_A,
        checks.NOT_ENDING_WITH_SEP,
        checks.SINGLE_NOT_ONE_SEP,
        checks.PAIR_NOT_TWO_SEPS,
        checks.PAIR_WITHOUT_B,
        checks.SPECIALS_NOT_WORD_START,
        checks.EMPTY_SPANS,
        checks.UNSORTED_SPANS,
        checks.OVERLAPPING_SPANS,
        checks.SPANS_OUTSIDE_SEGMENT,
        checks.UNKNOWN_ENTITY_TYPES,
    ]
    assert (derived[counts] == 0).all().all()
    assert (derived[checks.EXAMPLE_TOKENS] == derived[checks.SEQ_LEN]).all()
    assert derived[checks.ENTITY_START_LEN].sum() > 0  # the fixture does exercise the span checks
    assert (derived[checks.EXAMPLES] > 1).mean() > 0.5  # and packed rows, not one example a row


def test_empty_table_gives_an_empty_frame() -> None:
    empty = shard.SHARD_SCHEMA.empty_table()
    assert len(checks.derive_row_checks(empty, CONTRACT)) == 0
