"""`prepare` on the embedded sample corpus, through Beam's DirectRunner, checked file by file."""
import hashlib
import html
import json
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipeline.config import PrepareConfig
from pipeline.beam.prepare import PrepareRequest, run_prepare
from runners.local import local_options
from schemas.errors import UserInputError
from schemas.manifest import read_manifest
from schemas.shard import SHARD_SCHEMA
from tests.conftest import SAMPLE_CORPUS
from tests.run_outputs import differing_files, output_files, shard_doc_ids

INPUT = str(SAMPLE_CORPUS / "*.json")


def ledger_lines(output: Path) -> list[dict]:
    return [json.loads(line) for path in sorted((output / "rejects").glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines()]


def prepare(output: Path, config: PrepareConfig = PrepareConfig(), **request) -> dict:
    return run_prepare(PrepareRequest([INPUT], str(output), config, **request), local_options(1))


def test_every_document_is_kept_or_ledgered_with_a_reason(prepared_sample):
    manifest = read_manifest(prepared_sample)
    accounting = manifest.documents
    assert accounting.read == accounting.kept + accounting.rejected_total
    ledger = ledger_lines(prepared_sample)
    assert len(ledger) == accounting.rejected_total
    assert all(line["reason"] for line in ledger)
    assert {"malformed_json", "duplicate_exact", "too_short", "low_cjk_ratio"} <= set(accounting.rejected)
    kept_ids = shard_doc_ids(prepared_sample)
    assert len(kept_ids) == accounting.kept
    assert not kept_ids & {line["doc_id"] for line in ledger if line["reason"] != "truncated_stream"}


def test_prepare_packs_by_default_and_no_pack_writes_one_example_a_row(prepared_sample, tmp_path):
    summary = json.loads((prepared_sample / "summary.json").read_text(encoding="utf-8"))
    assert summary["rows"] < summary["profile"]["examples"] / 1.5
    assert summary["profile"]["padding"]["fill_of_micro_batches"] > 0.9  # about 0.5 one example a row
    unpacked = prepare(tmp_path, PrepareConfig(pack=False))
    assert unpacked["rows"] == unpacked["profile"]["examples"] == summary["profile"]["examples"]
    assert unpacked["tokens"] == summary["tokens"]


def test_shards_match_schema_and_manifest(prepared_sample):
    manifest = read_manifest(prepared_sample)
    assert manifest.total_rows > 0 and manifest.entity_types
    for shard in manifest.shards:
        path = prepared_sample / shard.file
        table = pq.read_table(path)
        assert table.schema.equals(SHARD_SCHEMA)
        assert table.num_rows == shard.rows
        assert hashlib.sha256(path.read_bytes()).hexdigest() == shard.sha256
        assert sum(len(ids) for ids in table.column("input_ids").to_pylist()) == shard.tokens
    vocab = (prepared_sample / manifest.vocab.file).read_text(encoding="utf-8")
    assert hashlib.sha256(vocab.encode("utf-8")).hexdigest() == manifest.vocab.sha256


def test_rows_carry_sop_pairs_and_entities(prepared_sample):
    manifest = read_manifest(prepared_sample)
    table = pq.read_table([prepared_sample / s.file for s in manifest.shards][0])
    labels = pc.list_flatten(table.column("sop_label")).to_pylist()
    assert {0, 1} <= set(labels)
    assert sum(len(spans) for spans in table.column("entity_start").to_pylist()) > 0
    assert manifest.stats["sentences"] > manifest.total_rows


def test_same_input_and_seed_give_byte_identical_output(prepared_sample, tmp_path):
    """Shards, ledger, summary and report byte for byte; the manifest but for when and where it ran."""
    prepare(tmp_path)
    produced = output_files(tmp_path)
    assert {"summary.json", "rejects/part-00000.jsonl", "shards/part-00000-0000.parquet"} <= set(produced)
    assert differing_files(produced, output_files(prepared_sample)) == []


def test_another_seed_draws_other_pairs(prepared_sample, tmp_path):
    prepare(tmp_path, PrepareConfig(seed=7))
    first = read_manifest(prepared_sample).shards[0].sha256
    assert read_manifest(tmp_path).shards[0].sha256 != first


def test_rerun_into_a_finished_output_refuses_without_overwrite(prepared_sample):
    with pytest.raises(UserInputError, match="--overwrite"):
        prepare(prepared_sample)


def test_manifest_names_the_lexicon_and_its_hash(prepared_sample):
    import jieba

    [entry] = read_manifest(prepared_sample).lexicons
    dictionary = Path(jieba.__file__).with_name("dict.txt").read_bytes()
    assert entry == {"source": "default:jieba-proper-nouns", "type": "",
                     "sha256": hashlib.sha256(dictionary).hexdigest()}


def test_user_lexicon_is_recorded_with_its_type_and_hash(tmp_path):
    lexicon = tmp_path / "entities.tsv"
    lexicon.write_text("北京大学\torganization\n长江\tplace\n", encoding="utf-8")
    output = tmp_path / "out"
    prepare(output, lexicon_paths=[str(lexicon)])
    manifest = read_manifest(output)
    assert manifest.lexicons == [{"source": str(lexicon), "type": "",
                                  "sha256": hashlib.sha256(lexicon.read_bytes()).hexdigest()}]
    assert manifest.entity_types == ["organization", "place"]


def test_exact_duplicates_keep_the_smallest_id_and_identical_copies_keep_one(tmp_path):
    """Exact dedup shuffles buckets of batches: the kept copy is still the smallest (doc_id, source),
    and two byte-identical records (same id, source and text) still leave one row set, not two."""
    def chinese(text: str) -> float:
        return sum("\u4e00" <= c <= "\u9fff" for c in text) / max(1, len(text))

    records = json.loads((SAMPLE_CORPUS / "part-000.json").read_text(encoding="utf-8"))
    record = next(r for r in records if 300 <= len(r.get("content") or "") and chinese(r["content"]) > 0.8)
    corpus = tmp_path / "in"
    corpus.mkdir()
    (corpus / "a.json").write_text(json.dumps([{**record, "uniqueKey": "dup-a"}] * 2, ensure_ascii=False),
                                   encoding="utf-8")
    (corpus / "b.json").write_text(json.dumps([{**record, "uniqueKey": "dup-b"}], ensure_ascii=False),
                                   encoding="utf-8")
    output = tmp_path / "out"
    summary = run_prepare(PrepareRequest([str(corpus / "*.json")], str(output)), local_options(1))
    assert summary["documents"] == {"read": 3, "kept": 1, "rejected": {"duplicate_exact": 2}}
    assert shard_doc_ids(output) == {"dup-a"}
    assert sorted((r["doc_id"], r["reason"], r["detail"]) for r in ledger_lines(output)) == [
        ("dup-a", "duplicate_exact", "dup-a"), ("dup-b", "duplicate_exact", "dup-a")]


def test_tokens_trimmed_by_max_seq_len_are_counted_and_warned_about(prepared_sample, tmp_path):
    """Issue 24 item 14: at --max-seq-len 8 most content tokens are cut away; the summary counts them
    per run and per source, warns, and the report shows the warning. At 512 the sample loses ~1%."""
    from pipeline.config import SopConfig
    from pipeline.corpus_profile import TRIMMED_SHARE_WARNING

    summary = prepare(tmp_path, PrepareConfig(sop=SopConfig(max_seq_len=8)))
    trimmed = summary["profile"]["trimmed"]
    assert trimmed["trimmed_share"] > 0.4 and trimmed["trimmed_tokens"] == summary["stats"]["trimmed_tokens"]
    assert sum(source["profile"]["trimmed"]["trimmed_tokens"] for source in summary["sources"]) \
        == trimmed["trimmed_tokens"]
    [warning] = summary["warnings"]
    assert "trimmed to fit max_seq_len 8" in warning
    assert html.escape(warning) in (tmp_path / "report.html").read_text(encoding="utf-8")
    sample = json.loads((prepared_sample / "summary.json").read_text(encoding="utf-8"))
    assert 0 < sample["profile"]["trimmed"]["trimmed_share"] < TRIMMED_SHARE_WARNING and sample["warnings"] == []
