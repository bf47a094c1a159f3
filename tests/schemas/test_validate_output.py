"""`validate_output` end to end: pass, persisted GX project, parallel, sampling, bad input, real shards."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from schemas import expectations, shard
from schemas.accounting_suite import ACCOUNTING_SUITE, CHECKS
from schemas.contract import ShardContract
from schemas.errors import UserInputError
from schemas.expectations import FILES_SUITE, ROWS_SUITE, RUN_SUITE
from schemas.manifest import MANIFEST_NAME, read_manifest
from schemas.validate import validate_output
from tests.schemas.shard_fixtures import make_shards
from tests.schemas.shard_fixtures import write_output


def test_valid_output_passes_with_data_docs_and_persisted_suites(valid_output: Path) -> None:
    report = validate_output(valid_output, workers=1)
    assert report.success, report.summary()
    assert (report.shards, report.rows_checked) == (2, 120)
    rows_suite = expectations.rows_suite(ShardContract.from_manifest(read_manifest(valid_output)))
    assert report.expectations_evaluated == 2 * len(rows_suite.expectations) + 8 + 6 + len(CHECKS)
    assert report.data_docs.is_file() and report.data_docs.name == "index.html"
    assert report.data_docs.is_relative_to(valid_output / "gx")
    for suite in (ROWS_SUITE, FILES_SUITE, RUN_SUITE, ACCOUNTING_SUITE):
        assert (valid_output / "gx" / "expectations" / f"{suite}.json").is_file()
    assert "validation PASSED" in report.summary() and str(report.data_docs) in report.summary()


def test_second_run_adds_results_and_keeps_passing(valid_output: Path) -> None:
    validate_output(valid_output, workers=1)
    assert validate_output(valid_output, workers=1).success
    runs = list((valid_output / "gx" / "uncommitted" / "validations" / ROWS_SUITE).glob("*/*"))
    assert len(runs) == 2


def test_data_docs_page_shows_each_shard(valid_output: Path) -> None:
    report = validate_output(valid_output, workers=1)
    pages = {p.name for p in report.data_docs.parent.glob(f"validations/{ROWS_SUITE}/**/*.html")}
    assert pages == {"part-00000-0000.parquet.html", "part-00001-0000.parquet.html"}


def test_parallel_workers_report_what_one_process_reports(
    tmp_path: Path, shard_rows: list[list[dict]]
) -> None:
    shard_rows[1][3][shard.INPUT_IDS][1] = 21128
    output = write_output(tmp_path / "out", shard_rows)
    seen: list[tuple[int, int, str]] = []
    parallel = validate_output(output, workers=2, progress=lambda *p: seen.append(p))
    serial = validate_output(output, workers=1)
    assert parallel.failures == serial.failures and parallel.failed_checks == {"ids_below_vocab_size"}
    assert sorted(done for done, _, _ in seen) == [1, 2] and {total for _, total, _ in seen} == {2}


def test_sampling_checks_fewer_rows_but_every_file(tmp_path: Path, shard_rows: list[list[dict]]) -> None:
    output = write_output(tmp_path / "out", shard_rows)
    (output / "shards" / "part-00001-0000.parquet").write_bytes(b"PAR1 not really")
    report = validate_output(output, workers=1, sample_rows=10)
    assert report.rows_checked == 10
    assert report.failed_checks == {"shard_readable", "shard_sha256"}


def test_sampled_failure_names_the_row_of_the_shard(tmp_path: Path, shard_rows: list[list[dict]]) -> None:
    for row in shard_rows[0]:
        row[shard.INPUT_IDS][1] = 21128
    report = validate_output(write_output(tmp_path / "out", shard_rows), workers=1, sample_rows=5)
    (failure,) = [f for f in report.failures if f.batch.endswith("part-00000-0000.parquet")]
    assert len(failure.where) == 5 and max(failure.where) >= 5  # shard row numbers, not 0..4


def test_output_of_single_segments_only_passes(tmp_path: Path) -> None:
    singles = [[row for row in rows if set(row[shard.SOP_LABEL]) == {shard.SOP_SINGLE}] for rows in make_shards()]
    assert validate_output(write_output(tmp_path / "out", singles), workers=1).success


def test_missing_directory_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="is not a directory"):
        validate_output(tmp_path / "nowhere")


def test_directory_without_manifest_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="has no manifest.json"):
        validate_output(tmp_path)


@pytest.mark.parametrize(
    "setting", [{"workers": 0}, {"sample_rows": 0}, {"max_reject_rate": 1.5}, {"sop_tolerance": -0.1}]
)
def test_out_of_range_setting_is_a_user_error(valid_output: Path, setting: dict) -> None:
    with pytest.raises(UserInputError, match="not"):
        validate_output(valid_output, **setting)


def test_unreadable_manifest_is_a_user_error(valid_output: Path) -> None:
    data = json.loads((valid_output / MANIFEST_NAME).read_text(encoding="utf-8"))
    del data["vocab"]
    (valid_output / MANIFEST_NAME).write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(UserInputError, match="is not a valid manifest"):
        validate_output(valid_output)


def test_prepared_sample_corpus_passes(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    pytest.importorskip("pipeline.beam.prepare", reason="the pipeline is not importable here: no real shards")
    # A copy: validation writes OUTPUT/gx/, and the session's prepared sample is shared with other tests.
    output = Path(shutil.copytree(request.getfixturevalue("prepared_sample"), tmp_path / "sample"))
    report = validate_output(output, workers=1)
    assert report.success, report.summary()
    assert report.rows_checked > 0
