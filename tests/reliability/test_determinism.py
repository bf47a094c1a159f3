"""Same input and seed, same bytes: whatever order the input files are named in.

(One vs two DirectRunner workers is pinned in tests/runners/test_local_runner.py, reruns in
tests/pipeline/test_prepare_end_to_end.py.)"""
from pathlib import Path

from pipeline.config import PrepareConfig
from pipeline.prepare import run_prepare
from runners.local import local_options
from tests.conftest import SAMPLE_CORPUS


def output_bytes(output: Path) -> dict[str, bytes]:
    return {str(p.relative_to(output)): p.read_bytes() for p in sorted(output.rglob("*")) if p.is_file()}


def test_input_files_listed_in_another_order_give_identical_output(tmp_path):
    files = sorted(str(p) for p in SAMPLE_CORPUS.glob("part-00[0-2].json"))
    config = PrepareConfig(num_shards=3)
    run_prepare(files, str(tmp_path / "forward"), config, options=local_options(1))
    run_prepare(files[::-1], str(tmp_path / "backward"), config, options=local_options(1))
    forward, backward = output_bytes(tmp_path / "forward"), output_bytes(tmp_path / "backward")
    assert len(forward) > 5 and forward == backward
