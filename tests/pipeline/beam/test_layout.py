"""Shard layout 2.0 (pipeline/beam/layout.py, publish.py): each input file's rows, in its document order,
fill its own shards `part-FFFFF-PPPP.parquet`; each input file has its own ledger `part-FFFFF.jsonl`,
pass 1's drops first, then pass 2's, each in file order."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.beam.prepare import PrepareRequest, run_prepare
from pipeline.config import PrepareConfig
from runners.local import local_options
from schemas.manifest import read_manifest
from tests.conftest import SAMPLE_CORPUS
from tests.reliability.adversarial import TEXTS

SAMPLE_FILES = sorted(SAMPLE_CORPUS.glob("part-00[0-2].json"))


def file_ids(path: Path) -> list[str]:
    """The uniqueKeys of a WuDao file, in its order."""
    return [record["uniqueKey"] for record in json.loads(path.read_text(encoding="utf-8"))]


def shard_tables(output: Path) -> dict[str, pa.Table]:
    return {path.name: pq.read_table(path) for path in sorted((output / "shards").glob("*.parquet"))}


def runs(doc_ids: list[str]) -> list[str]:
    """The doc_ids in the order their rows come, one entry per run of rows."""
    return [doc_id for i, doc_id in enumerate(doc_ids) if i == 0 or doc_ids[i - 1] != doc_id]


@pytest.fixture(scope="module")
def three_files(tmp_path_factory) -> Path:
    """The sample corpus's three WuDao files, the middle one replaced by a file whose every document is
    too short: it yields no rows."""
    corpus = tmp_path_factory.mktemp("three_files")
    for index, source in enumerate(SAMPLE_FILES):
        (corpus / f"{index}.json").write_bytes(source.read_bytes())
    short = [{"uniqueKey": f"short-{i}", "title": "", "content": "太短"} for i in range(5)]
    (corpus / "1.json").write_text(json.dumps(short, ensure_ascii=False), encoding="utf-8")
    return corpus


def _prepare(corpus: Path, output: Path, config: PrepareConfig) -> Path:
    run_prepare(PrepareRequest([str(corpus / "*")], str(output), config), local_options(1))
    return output


@pytest.fixture(scope="module")
def whole(three_files, tmp_path_factory) -> Path:
    return _prepare(three_files, tmp_path_factory.mktemp("whole"), PrepareConfig(batch_size=16, pack=False))


@pytest.fixture(scope="module")
def parted(three_files, tmp_path_factory) -> Path:
    return _prepare(three_files, tmp_path_factory.mktemp("parted"), PrepareConfig(batch_size=16, shard_rows=24, pack=False))


def test_each_input_file_has_its_own_shard_in_input_order_and_none_without_rows(three_files, whole):
    tables = shard_tables(whole)
    assert list(tables) == ["part-00000-0000.parquet", "part-00002-0000.parquet"]
    assert [shard.file for shard in read_manifest(whole).shards] == [f"shards/{name}" for name in tables]
    assert sorted(p.name for p in (whole / "rejects").iterdir()) == [f"part-{i:05d}.jsonl" for i in range(3)]
    for name, source in zip(tables, (three_files / "0.json", three_files / "2.json")):
        order = file_ids(source)
        ids = runs(tables[name].column("doc_id").combine_chunks().flatten().to_pylist())
        assert set(ids) <= set(order)  # every row comes from the shard's own input file
        assert ids == sorted(ids, key=order.index)  # in the file's order
        assert len(ids) == len(set(ids))  # and a document's rows together
    assert {line["doc_id"] for line in map(json.loads, (whole / "rejects" / "part-00001.jsonl").read_text()
                                           .splitlines())} == {f"short-{i}" for i in range(5)}


def test_a_small_shard_rows_splits_a_file_into_parts_at_document_boundaries(whole, parted):
    tables, reference = shard_tables(parted), shard_tables(whole)
    for file_index in (0, 2):
        names = sorted(name for name in tables if name.startswith(f"part-{file_index:05d}-"))
        assert names == [f"part-{file_index:05d}-{part:04d}.parquet" for part in range(len(names))]
        assert len(names) >= 3
        parts = [tables[name] for name in names]
        assert all(part.num_rows >= 24 for part in parts[:-1])  # a part ends once it holds shard_rows rows
        ids = [part.column("doc_id").combine_chunks().flatten().to_pylist() for part in parts]
        for before, after in zip(ids, ids[1:]):
            assert before[-1] != after[0]  # no document's rows split across two parts
        # the parts, one after another, are the rows of the file's one shard, in the same order
        assert pa.concat_tables(parts).equals(reference[f"part-{file_index:05d}-0000.parquet"])
    manifest = read_manifest(parted)
    assert [shard.file for shard in manifest.shards] == [f"shards/{name}" for name in sorted(tables)]
    assert [shard.rows for shard in manifest.shards] == [tables[name].num_rows for name in sorted(tables)]
    assert manifest.total_rows == read_manifest(whole).total_rows
    for index in range(3):  # the parts change nothing but where rows go
        name = f"rejects/part-{index:05d}.jsonl"
        assert (parted / name).read_bytes() == (whole / name).read_bytes()
    summary, reference_summary = (json.loads((output / "summary.json").read_text()) for output in (parted, whole))
    assert summary["shards"] == len(tables) and {**summary, "shards": 0} == {**reference_summary, "shards": 0}


def test_a_file_s_ledger_holds_pass_one_drops_then_pass_two_drops_each_in_file_order(tmp_path):
    keep, twin = TEXTS[20], TEXTS[21]
    lines = [{"uniqueKey": "a1", "text": keep}, "{broken", {"uniqueKey": "s1", "text": "短"},
             {"uniqueKey": "a2", "text": twin}, {"uniqueKey": "z2", "text": keep}, {"uniqueKey": "s2", "text": "也短"},
             {"uniqueKey": "z1", "text": twin}, {"uniqueKey": "z0", "text": keep}]
    corpus = tmp_path / "in"
    corpus.mkdir()
    (corpus / "a.jsonl").write_text("".join((line if isinstance(line, str) else json.dumps(line, ensure_ascii=False))
                                            + "\n" for line in lines), encoding="utf-8")
    output = _prepare(corpus, tmp_path / "out", PrepareConfig(batch_size=2))
    ledger = [json.loads(line) for line in (output / "rejects" / "part-00000.jsonl").read_text().splitlines()]
    assert [(line["doc_id"], line["reason"]) for line in ledger] == [
        ("a.jsonl#2", "malformed_json"), ("s1", "too_short"), ("s2", "too_short"),  # pass 1, in file order
        ("z2", "duplicate_exact"), ("z1", "duplicate_exact"), ("z0", "duplicate_exact"),  # pass 2, in file order
    ]
    assert [line["detail"] for line in ledger[3:]] == ["a1", "a2", "a1"]
