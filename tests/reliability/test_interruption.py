"""A run killed mid-way leaves nothing that looks finished, and the next run says so."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability.adversarial import GOOD

CLI = [sys.executable, "-m", "erlangshen_data.cli"]


def write_corpus(directory: Path, documents: int = 3000) -> None:
    records = [{"uniqueKey": f"d{i}", "content": f"{GOOD}第{i}篇。" * 4} for i in range(documents)]
    (directory / "big.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")


def test_killed_run_leaves_no_complete_looking_output_and_rerun_refuses(tmp_path):
    corpus, output = tmp_path / "in", tmp_path / "out"
    corpus.mkdir()
    write_corpus(corpus)
    args = ["prepare", "--input", str(corpus / "*.json"), "--output", str(output), "--shard-rows", "512"]
    process = subprocess.Popen(CLI + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 120
    while not (output / ".staging").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if process.poll() is not None:
        pytest.fail("the run finished before it could be interrupted; enlarge the corpus")
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()

    assert not (output / "manifest.json").exists()
    assert not list((output / "shards").glob("*.parquet")) if (output / "shards").exists() else True

    refused = subprocess.run(CLI + args, capture_output=True, text=True)
    assert refused.returncode == 2
    assert "unfinished" in refused.stderr and "--overwrite" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    finished = subprocess.run(CLI + args + ["--overwrite"], capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert (output / "manifest.json").exists() and not (output / ".staging").exists()
