"""`erlangshen-data validate`: exit status, terminal summary and the Data Docs path."""
from __future__ import annotations

from pathlib import Path

import pytest

from erlangshen_data.cli import main
from tests.schemas.shard_fixtures import VOCAB, make_shards, write_output


@pytest.fixture
def output(tmp_path: Path) -> Path:
    if not VOCAB.is_file():
        pytest.skip(f"shared vocab missing: {VOCAB}")
    return write_output(tmp_path / "out", make_shards())


def test_valid_output_exits_0_and_prints_the_data_docs_path(output: Path, capsys) -> None:
    assert main(["validate", str(output), "--workers", "1"]) == 0
    captured = capsys.readouterr()
    assert "validation PASSED" in captured.out
    assert (
        f"Data Docs: {output / 'gx' / 'uncommitted' / 'data_docs' / 'local_site' / 'index.html'}"
        in captured.out
    )
    assert "validated 2/2 shards" in captured.err


def test_failing_expectation_exits_1_and_names_it(output: Path, capsys) -> None:
    shard = output / "shards" / "part-00001-0000.parquet"
    shard.write_bytes(shard.read_bytes()[:100])
    assert main(["validate", str(output), "--workers", "1", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "FAIL shard_readable [shard_files]" in captured.out
    assert captured.err == ""


def test_missing_directory_exits_2_with_one_line(tmp_path: Path, capsys) -> None:
    assert main(["validate", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
