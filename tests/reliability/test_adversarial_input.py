"""The whole pipeline over hostile input: no crash, and every record in the shards or in the ledger."""
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import PrepareConfig, SopConfig
from pipeline.beam.prepare import PrepareRequest, run_prepare
from runners.local import local_options
from schemas.manifest import read_manifest

from tests.reliability.adversarial import (
    KEPT_IDS, hostile_record, write_hand_written_cases, write_hypothesis_corpus,
)
from tests.run_outputs import shard_doc_ids

CONFIG = PrepareConfig(shard_rows=64, sop=SopConfig(max_seq_len=128))  # so the long line gets split


def prepare(input_dir: Path, output: Path):
    run_prepare(PrepareRequest([str(input_dir / "*")], str(output), CONFIG), local_options(1))
    return read_manifest(output)


def ledger(output: Path) -> list[dict]:
    return [json.loads(line) for p in sorted((output / "rejects").glob("*.jsonl")) for line in p.read_text().splitlines()]


def test_hand_written_hostile_corpus_is_fully_accounted_for(tmp_path):
    corpus = tmp_path / "in"
    corpus.mkdir()
    expected = write_hand_written_cases(corpus)
    manifest = prepare(corpus, tmp_path / "out")
    documents = manifest.documents
    assert documents.read == expected
    assert documents.read == documents.kept + documents.rejected_total
    assert len(ledger(tmp_path / "out")) == documents.rejected_total
    reasons = set(documents.rejected)
    assert {"malformed_json", "invalid_utf8", "not_an_object", "missing_text", "text_not_string",
            "truncated_stream", "too_short", "empty", "low_cjk_ratio"} <= reasons
    # the good, the recovered, the long line, the NUL-ridden and the entity-dense ones
    assert KEPT_IDS <= shard_doc_ids(tmp_path / "out")


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(hostile_record(), min_size=1, max_size=40))
def test_drawn_records_never_crash_and_always_add_up(tmp_path, records):
    run_dir = tmp_path / str(abs(hash(json.dumps(records, default=str))))
    corpus = run_dir / "in"
    corpus.mkdir(parents=True)
    expected = write_hypothesis_corpus(corpus, records)
    documents = prepare(corpus, run_dir / "out").documents
    assert documents.read == expected == documents.kept + documents.rejected_total


@pytest.mark.slow
def test_fifty_megabyte_document_is_ledgered_not_processed(tmp_path):
    corpus = tmp_path / "in"
    corpus.mkdir()
    huge = "中文内容没有标点" * (50 * 1024 * 1024 // 24)
    (corpus / "huge.json").write_text(json.dumps([{"uniqueKey": "huge", "content": huge}], ensure_ascii=False))
    documents = prepare(corpus, tmp_path / "out").documents
    assert documents.read == 1 and documents.rejected == {"too_long": 1}
