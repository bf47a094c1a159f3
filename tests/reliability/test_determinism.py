"""Same input and seed, same bytes: whatever order the input files are named in.

(One vs two DirectRunner workers is pinned in tests/runners/test_local_runner.py, reruns in
tests/pipeline/test_prepare_end_to_end.py.) The manifest records when the run started and finished, so
it is compared without that record; shards, ledger, summary and report byte for byte."""
from pipeline.beam.prepare import PrepareRequest, run_prepare
from pipeline.config import PrepareConfig
from pipeline.report import REPORT_NAME
from runners.local import local_options
from tests.conftest import SAMPLE_CORPUS
from tests.run_outputs import differing_files, output_files


def test_input_files_listed_in_another_order_give_identical_output(tmp_path):
    files = sorted(str(p) for p in SAMPLE_CORPUS.glob("part-00[0-2].json"))
    assert len(files) == 3
    config = PrepareConfig(shard_rows=64)
    run_prepare(PrepareRequest(files, str(tmp_path / "forward"), config), local_options(1))
    run_prepare(PrepareRequest(files[::-1], str(tmp_path / "backward"), config), local_options(1))
    forward, backward = output_files(tmp_path / "forward"), output_files(tmp_path / "backward")
    assert {"summary.json", "manifest.json", REPORT_NAME, "rejects/part-00000.jsonl", "rejects/part-00002.jsonl"} <= set(
        forward)
    assert sum(name.startswith("shards/") for name in forward) >= 3
    assert differing_files(backward, forward) == []
