"""Corruption suite: each defect the expectation suites claim to catch, injected into valid shards.

Every case asserts that validation fails and that the failing checks are exactly the ones named: the
defect is caught by the right expectation, and nothing unrelated fires. The list of cases is the list
of defects tried.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest

from schemas import shard
from schemas.manifest import MANIFEST_NAME, VOCAB_NAME, DocumentAccounting
from schemas.validate import validate_output
from schemas.validation_report import ValidationReport
from tests.schemas.shard_fixtures import write_output

Rows = list[list[dict]]
CORRUPTED_SHARD = "shards/part-00000-0000.parquet"


@dataclass(frozen=True)
class RowDefect:
    corrupt: Callable[[dict, int], None]  # (row, index of the example to corrupt in it)
    expected: set[str]
    pair: bool = True  # the kind of example it is injected into
    with_entities: bool | None = None
    example: int = -1  # which example of a row of several: the last by default, not the first


def _offset(row: dict, k: int) -> int:
    """Where example `k` starts in its row."""
    return sum(row[shard.EXAMPLE_LEN][:k])


def _length(row: dict, k: int) -> int:
    return row[shard.EXAMPLE_LEN][k]


def _set_spans(row: dict, spans: list[tuple[int, int, int]]) -> None:
    row[shard.ENTITY_START] = [s for s, _, _ in spans]
    row[shard.ENTITY_END] = [e for _, e, _ in spans]
    row[shard.ENTITY_TYPE] = [t for _, _, t in spans]


def _id(position: int, token: int) -> Callable[[dict, int], None]:
    """Token at `position` of the example (negative: from its end) becomes `token`."""
    def corrupt(row: dict, k: int) -> None:
        at = position if position >= 0 else _length(row, k) + position
        row[shard.INPUT_IDS][_offset(row, k) + at] = token

    return corrupt


def _single_row(ids: list[int]) -> Callable[[dict, int], None]:
    """The whole row becomes one single-segment example with these ids."""
    def corrupt(row: dict, k: int) -> None:
        row.update({shard.INPUT_IDS: ids, shard.WORD_START: [True] * len(ids), shard.EXAMPLE_LEN: [len(ids)],
                    shard.LEN_A: [len(ids)], shard.SOP_LABEL: [shard.SOP_SINGLE],
                    shard.DOC_ID: row[shard.DOC_ID][:1], shard.EXAMPLE_IN_DOC: [0]})
        _set_spans(row, [])

    return corrupt


def _per_example(column: str, value: Callable[[dict, int], object]) -> Callable[[dict, int], None]:
    def corrupt(row: dict, k: int) -> None:
        row[column][k] = value(row, k)

    return corrupt


def _shift_len_a(delta: int) -> Callable[[dict, int], None]:
    def corrupt(row: dict, k: int) -> None:
        _set_spans(row, [])  # spans would straddle the moved boundary and fire a second check
        row[shard.LEN_A][k] += delta

    return corrupt


def _label(label: int) -> Callable[[dict, int], None]:
    return _per_example(shard.SOP_LABEL, lambda row, k: label)


def _spans(make: Callable[[int, int, int], list[tuple[int, int, int]]]) -> Callable[[dict, int], None]:
    """The row's spans become `make(offset, length, len_a)` of the example."""
    return lambda row, k: _set_spans(row, make(_offset(row, k), _length(row, k), row[shard.LEN_A][k]))


def _drop_last(column: str) -> Callable[[dict, int], None]:
    return lambda row, k: row[column].pop()


def _move_boundary(row: dict, k: int) -> None:
    """Example 0 takes the first token of example 1: the lengths still sum to the row's."""
    _set_spans(row, [])
    row[shard.EXAMPLE_LEN][0] += 1
    row[shard.EXAMPLE_LEN][1] -= 1


ROW_DEFECTS: dict[str, RowDefect] = {
    "id_out_of_vocab": RowDefect(_id(1, 21128), {"ids_below_vocab_size"}),
    "missing_cls": RowDefect(_id(0, 700), {"examples_start_with_cls", "one_cls_per_example"}),
    "second_cls_inside": RowDefect(_id(1, 101), {"one_cls_per_example"}),
    "missing_final_sep": RowDefect(_id(-1, 700), {"examples_end_with_sep", "two_seps_in_pair"}),
    "sep_inside_segment_a": RowDefect(_id(1, 102), {"two_seps_in_pair"}),
    "sep_inside_single_segment": RowDefect(_id(1, 102), {"one_sep_in_single_segment"}, pair=False),
    "pad_inside": RowDefect(_id(2, 0), {"no_pad_inside"}),
    "mask_inside": RowDefect(_id(2, 103), {"no_mask_inside"}),
    "too_long": RowDefect(_single_row([101, *[700] * 60, 102]), {"seq_len_in_range"}, pair=False),
    "too_short": RowDefect(_single_row([101, 102]), {"seq_len_in_range", "segment_a_not_empty"}, pair=False),
    "len_a_one_too_long": RowDefect(_shift_len_a(+1), {"sep_at_len_a_minus_1"}),
    "len_a_one_too_short": RowDefect(_shift_len_a(-1), {"sep_at_len_a_minus_1"}),
    "single_len_a_short": RowDefect(_shift_len_a(-1), {"sep_at_len_a_minus_1"}, pair=False),
    "pair_without_segment_b": RowDefect(_per_example(shard.LEN_A, _length), {"pair_has_segment_b"}),
    "single_labelled_as_pair": RowDefect(
        _label(shard.SOP_ORIGINAL), {"two_seps_in_pair", "pair_has_segment_b"}, pair=False
    ),
    "pair_labelled_as_single": RowDefect(_label(shard.SOP_SINGLE), {"one_sep_in_single_segment"}),
    "bad_sop_label": RowDefect(_label(2), {"sop_label_valid"}),
    "null_doc_id": RowDefect(_per_example(shard.DOC_ID, lambda row, k: None), {"doc_id_present"}),
    "example_len_too_long": RowDefect(
        _per_example(shard.EXAMPLE_LEN, lambda row, k: _length(row, k) + 1), {"example_len_sums_to_row"}
    ),
    "example_boundary_moved": RowDefect(
        _move_boundary,
        {"examples_end_with_sep", "examples_start_with_cls", "one_cls_per_example", "sep_at_len_a_minus_1"},
    ),
    "len_a_list_short": RowDefect(_drop_last(shard.LEN_A), {"per_example_columns_aligned"}),
    "sop_label_list_short": RowDefect(_drop_last(shard.SOP_LABEL), {"per_example_columns_aligned"}),
    "doc_id_list_short": RowDefect(_drop_last(shard.DOC_ID), {"per_example_columns_aligned"}),
    "example_in_doc_list_short": RowDefect(_drop_last(shard.EXAMPLE_IN_DOC), {"per_example_columns_aligned"}),
    "word_start_too_short": RowDefect(_drop_last(shard.WORD_START), {"word_start_aligned"}),
    "word_start_false_on_cls": RowDefect(
        lambda row, k: row[shard.WORD_START].__setitem__(_offset(row, k), False), {"specials_start_words"}
    ),
    "span_past_the_end": RowDefect(
        _spans(lambda o, n, a: [(o + n - 1, o + n + 2, 0)]), {"entity_spans_inside_one_segment"}
    ),
    "span_across_two_examples": RowDefect(
        _spans(lambda o, n, a: [(o + n - 2, o + n + 2, 0)]), {"entity_spans_inside_one_segment"}, example=0
    ),
    "span_across_middle_sep": RowDefect(
        _spans(lambda o, n, a: [(o + a - 2, o + a + 1, 0)]), {"entity_spans_inside_one_segment"}
    ),
    "span_over_cls": RowDefect(_spans(lambda o, n, a: [(o, o + 2, 0)]), {"entity_spans_inside_one_segment"}),
    "empty_span": RowDefect(_spans(lambda o, n, a: [(o + 1, o + 1, 0)]), {"entity_spans_not_empty"}),
    "unsorted_spans": RowDefect(
        _spans(lambda o, n, a: [(o + 3, o + 4, 0), (o + 1, o + 2, 1)]), {"entity_spans_sorted"}
    ),
    "overlapping_spans": RowDefect(
        _spans(lambda o, n, a: [(o + 1, o + 3, 0), (o + 2, o + 4, 1)]), {"entity_spans_disjoint"}
    ),
    "unknown_entity_type": RowDefect(_spans(lambda o, n, a: [(o + 1, o + 2, 3)]), {"entity_type_in_table"}),
    "entity_end_missing": RowDefect(_drop_last(shard.ENTITY_END), {"entity_end_aligned"}, with_entities=True),
    "entity_type_missing": RowDefect(
        _drop_last(shard.ENTITY_TYPE), {"entity_type_aligned"}, with_entities=True
    ),
}


def _inject_each_in_its_own_row(rows: list[dict]) -> dict[str, int]:
    """Row number of each defect: one shard, one validation, and every defect still told apart. Each
    goes into a row of several examples, into its `example` (the last unless said), of its kind."""
    placed: dict[str, int] = {}
    for name, defect in ROW_DEFECTS.items():
        index = next(
            i
            for i, row in enumerate(rows)
            if i not in placed.values()
            and len(row[shard.SOP_LABEL]) > 1
            and (row[shard.SOP_LABEL][defect.example] != shard.SOP_SINGLE) == defect.pair
            and (defect.with_entities is None or bool(row[shard.ENTITY_START]) == defect.with_entities)
        )
        defect.corrupt(rows[index], defect.example % len(rows[index][shard.SOP_LABEL]))
        placed[name] = index
    return placed


@pytest.fixture(scope="module")
def row_defects(
    valid_shards: Rows, tmp_path_factory: pytest.TempPathFactory
) -> tuple[ValidationReport, dict]:
    shards = copy.deepcopy(valid_shards)
    placed = _inject_each_in_its_own_row(shards[0])
    output = write_output(tmp_path_factory.mktemp("row_defects") / "out", shards)
    return validate_output(output, workers=1), placed


@pytest.mark.parametrize("defect", ROW_DEFECTS)
def test_row_defect_is_caught_by_its_expectation(
    defect: str, row_defects: tuple[ValidationReport, dict]
) -> None:
    report, placed = row_defects
    caught = {f.check for f in report.failures if f.batch == CORRUPTED_SHARD and placed[defect] in f.where}
    assert caught == ROW_DEFECTS[defect].expected, report.summary()


def test_row_defects_fail_validation_and_flag_no_sound_row(
    row_defects: tuple[ValidationReport, dict],
) -> None:
    report, placed = row_defects
    assert not report.success
    assert {f.batch for f in report.failures} == {CORRUPTED_SHARD}
    assert {row for f in report.failures for row in f.where} == set(placed.values())


def test_all_pairs_swapped_breaks_the_sop_balance(tmp_path: Path, shard_rows: Rows) -> None:
    for rows in shard_rows:
        for row in rows:
            row[shard.SOP_LABEL] = [shard.SOP_SWAPPED if label == shard.SOP_ORIGINAL else label
                                    for label in row[shard.SOP_LABEL]]
    report = validate_output(write_output(tmp_path / "out", shard_rows), workers=1)
    assert report.failed_checks == {"sop_balance"}, report.summary()


def test_empty_shard_is_caught(tmp_path: Path, shard_rows: Rows) -> None:
    shard_rows[1].clear()
    report = validate_output(write_output(tmp_path / "out", shard_rows), workers=1)
    assert report.failed_checks == {"rows_present"}, report.summary()


def _edit_manifest(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def corrupt(output: Path) -> None:
        data = json.loads((output / MANIFEST_NAME).read_text(encoding="utf-8"))
        edit(data)
        (output / MANIFEST_NAME).write_text(json.dumps(data), encoding="utf-8")

    return corrupt


def _first_shard(output: Path) -> Path:
    return sorted((output / "shards").iterdir())[0]


def _truncate(output: Path) -> None:
    path = _first_shard(output)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _stray_copy(output: Path) -> None:
    (output / "shards" / "part-00002-0000.parquet").write_bytes(_first_shard(output).read_bytes())


def _no_shards(output: Path) -> None:
    _edit_manifest(lambda m: m.update(shards=[]))(output)
    for path in (output / "shards").iterdir():
        path.unlink()


def _rewrite_vocab_line(output: Path) -> None:
    lines = (output / VOCAB_NAME).read_text(encoding="utf-8").splitlines()
    lines[700] = "不是原来的词"
    (output / VOCAB_NAME).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _bump(section: str, key: str, delta: int) -> Callable[[dict], None]:
    def edit(data: dict) -> None:
        target = data[section][0] if isinstance(data[section], list) else data[section]
        target[key] += delta

    return edit


FILE_DEFECTS: dict[str, tuple[Callable[[Path], None], set[str]]] = {
    "truncated_file": (_truncate, {"shard_readable", "shard_sha256"}),
    "sha256_mismatch": (_edit_manifest(lambda m: m["shards"][0].update(sha256="0" * 64)), {"shard_sha256"}),
    "rows_mismatch": (_edit_manifest(_bump("shards", "rows", 1)), {"shard_rows"}),
    "tokens_mismatch": (_edit_manifest(_bump("shards", "tokens", -1)), {"shard_tokens"}),
    "missing_shard": (lambda out: _first_shard(out).unlink(), {"shard_file_present"}),
    "stray_shard": (_stray_copy, {"shard_listed_in_manifest"}),
    "no_shards_listed": (_edit_manifest(lambda m: m.update(shards=[])), {"shard_listed_in_manifest"}),
    "no_shards_at_all": (_no_shards, {"shards_present"}),
    "vocab_file_changed": (_rewrite_vocab_line, {"vocab_sha256"}),
    "vocab_size_wrong": (_edit_manifest(_bump("vocab", "size", 1)), {"vocab_size"}),
    "vocab_missing": (
        lambda out: (out / VOCAB_NAME).unlink(),
        {"vocab_sha256", "vocab_size", "special_tokens_in_vocab"},
    ),
    "special_id_wrong": (_edit_manifest(_bump("special_tokens", "mask", 1)), {"special_tokens_in_vocab"}),
    "documents_unaccounted": (_edit_manifest(_bump("documents", "read", 1)), {"documents_accounted"}),
}


@pytest.mark.parametrize("defect", FILE_DEFECTS)
def test_file_defect_is_caught_by_its_expectation(defect: str, valid_output: Path) -> None:
    corrupt, expected = FILE_DEFECTS[defect]
    corrupt(valid_output)
    report = validate_output(valid_output, workers=1)
    assert not report.success
    assert report.failed_checks == expected, report.summary()


def test_reject_rate_above_the_bound_fails(tmp_path: Path, shard_rows: Rows) -> None:
    kept = sum(len(row[shard.EXAMPLE_LEN]) for rows in shard_rows for row in rows)
    documents = DocumentAccounting(read=kept * 3, kept=kept, rejected={"too_short": kept * 2})
    output = write_output(tmp_path / "out", shard_rows, documents=documents)
    assert validate_output(output, workers=1).failed_checks == {"reject_rate_within_bound"}
    assert validate_output(output, workers=1, max_reject_rate=0.7).success


def test_schema_drift_is_caught_and_its_rows_are_not_misread(tmp_path: Path, shard_rows: Rows) -> None:
    wide_ids = shard.SHARD_SCHEMA.set(0, pa.field(shard.INPUT_IDS, pa.list_(pa.int32()), nullable=False))
    report = validate_output(write_output(tmp_path / "out", shard_rows, schema=wide_ids), workers=1)
    assert report.failed_checks == {"shard_schema"}


def test_null_doc_id_list_is_caught(tmp_path: Path, shard_rows: Rows) -> None:
    at = shard.SHARD_SCHEMA.get_field_index(shard.DOC_ID)
    nullable = shard.SHARD_SCHEMA.set(at, pa.field(shard.DOC_ID, pa.list_(pa.string()), nullable=True))
    shard_rows[0][5][shard.DOC_ID] = None
    report = validate_output(write_output(tmp_path / "out", shard_rows, schema=nullable), workers=1)
    assert report.failed_checks == {"per_example_columns_aligned", "shard_schema"}


def test_failure_points_at_the_shard_and_the_row(tmp_path: Path, shard_rows: Rows) -> None:
    shard_rows[1][17][shard.INPUT_IDS][1] = 21128
    report = validate_output(write_output(tmp_path / "out", shard_rows), workers=1)
    (failure,) = report.failures
    assert (failure.batch, failure.check, failure.where) == (
        "shards/part-00001-0000.parquet",
        "ids_below_vocab_size",
        (17,),
    )
    assert failure.detail == "1 of 60 unexpected, values [21128]"


def test_file_failure_names_the_file(valid_output: Path) -> None:
    _truncate(valid_output)
    report = validate_output(valid_output, workers=1)
    assert {f.where for f in report.failures} == {(CORRUPTED_SHARD,)}, report.summary()
