"""A run killed after it has written shards leaves nothing that looks finished, and the next run says so.

The kill waits for a finished shard under `.staging/shards/`: the driver creates `.staging` before the
pipeline starts, so a kill timed on that folder alone would land before any shard exists and prove
nothing about where shards are written.
"""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.beam.layout import LEDGER_DIR, STAGING_DIR, SUMMARY_NAME
from pipeline.report import REPORT_NAME
from schemas.manifest import MANIFEST_NAME, SHARDS_DIR

CLI = [sys.executable, "-m", "erlangshen_data.cli"]
# Ideographs the tokenizer and segmenter know; random sentences of them pass every quality rule, and no
# two documents are duplicates, so every document makes rows.
_CHARACTERS = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理南"


def write_corpus(directory: Path, files: int = 4, documents: int = 600) -> None:
    """`files` WuDao JSON files of distinct documents of six sentences each."""
    rng = random.Random(23)
    for number in range(files):
        records = []
        for i in range(documents):
            sentences = ["".join(rng.choices(_CHARACTERS, k=rng.randint(12, 30))) + "。" for _ in range(6)]
            records.append({"uniqueKey": f"f{number}d{i}", "title": "", "content": "".join(sentences)})
        (directory / f"part-{number}.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")


def staged_shards(output: Path) -> list[Path]:
    """Shards finished under the staging area (a shard being written is a hidden `.inprogress` file)."""
    return list((output / STAGING_DIR / SHARDS_DIR).glob("*.parquet"))


def test_a_run_killed_after_writing_shards_leaves_no_finished_looking_output_and_rerun_refuses(tmp_path):
    corpus, output = tmp_path / "in", tmp_path / "out"
    corpus.mkdir()
    write_corpus(corpus)
    args = ["prepare", "--input", str(corpus / "*.json"), "--output", str(output), "--shard-rows", "16",
            "--workers", "1"]
    process = subprocess.Popen(CLI + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 240
    while not staged_shards(output) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if process.poll() is not None:
        pytest.fail("the run finished before a shard was staged; enlarge the corpus")
    assert staged_shards(output), "no shard was staged within the deadline"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()

    # Shards existed when the run died; none of them, and nothing else, carries a final name.
    assert staged_shards(output)
    for name in (MANIFEST_NAME, SUMMARY_NAME, REPORT_NAME):
        assert not (output / name).exists(), name
    for folder in (SHARDS_DIR, LEDGER_DIR):
        assert not (output / folder).exists() or not any((output / folder).iterdir()), folder

    refused = subprocess.run(CLI + args, capture_output=True, text=True)
    assert refused.returncode == 2
    assert "unfinished" in refused.stderr and "--overwrite" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    finished = subprocess.run(CLI + args + ["--overwrite"], capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert (output / MANIFEST_NAME).exists() and not (output / STAGING_DIR).exists()
    assert len(list((output / SHARDS_DIR).glob("*.parquet"))) > 1
