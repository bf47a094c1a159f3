"""Untrusted text stays data: never evaluated, never a path, never pickled into the output."""
import json
from pathlib import Path

import pyarrow.parquet as pq

from pipeline.config import PrepareConfig
from pipeline.beam.prepare import PrepareRequest, run_prepare
from runners.local import local_options
from tests.reliability.adversarial import TEXTS
from tests.run_outputs import shard_doc_ids

HOSTILE_IDS = ["../../escape", "/etc/passwd", "..\\..\\windows", "shards/../../x", "a\x00b"]


def test_document_ids_cannot_place_files_outside_the_output(tmp_path):
    corpus, output = tmp_path / "in", tmp_path / "out"
    corpus.mkdir()
    records = [{"uniqueKey": key, "content": f"{TEXTS[i]}__import__('os').system('touch {tmp_path}/pwned')"}
               for i, key in enumerate(HOSTILE_IDS)]
    (corpus / "hostile.json").write_text(json.dumps(records), encoding="utf-8")
    before = set(tmp_path.rglob("*"))
    run_prepare(PrepareRequest([str(corpus / "*.json")], str(output), PrepareConfig()), local_options(1))
    created = set(tmp_path.rglob("*")) - before
    assert created and all(path.is_relative_to(output) for path in created)
    assert not (tmp_path / "pwned").exists()
    assert shard_doc_ids(output) == set(HOSTILE_IDS)


def test_outputs_hold_no_pickles(prepared_sample: Path):
    for path in prepared_sample.rglob("*"):
        if path.is_file():
            assert b"\x80\x04\x95" not in path.read_bytes() and b"\x80\x05\x95" not in path.read_bytes()
    for path in (prepared_sample / "shards").glob("*.parquet"):
        keys = set((pq.read_metadata(path).metadata or {}).keys())
        assert keys <= {b"ARROW:schema", b"erlangshen.schema_version"}
