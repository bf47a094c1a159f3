"""`prepare` on a non-local filesystem, offline: every path (corpus, vocab, lexicon, output) on the
`memstore://` object store, which keeps GCS's semantics (see `object_store`)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from pipeline.beam import files
from pipeline.beam.prepare import PrepareRequest, prepare_output_dir, run_prepare
from pipeline.beam.publish import retire_earlier_run
from pipeline.beam.run_lock import LOCK_NAME
from runners.local import local_options
from schemas.errors import UserInputError
from tests.runners import object_store
from tests.run_outputs import output_files
from tests.runners.conftest import CONFIG

LEXICON = "贵州\tplace\n北京\tplace\n中国科学院\torganization\n金矿\tproper_noun\n".encode("utf-8")


@pytest.fixture(autouse=True)
def empty_store():
    object_store.clear()
    yield
    object_store.clear()


def test_a_run_on_an_object_store_writes_the_same_shards_as_on_local_disk(
        small_corpus, small_corpus_dir, bert_vocab_path, tmp_path):
    for name, data in small_corpus.items():
        object_store.put(f"memstore://corpus/{name}", data)
    object_store.put("memstore://ref/vocab.txt", bert_vocab_path.read_bytes())
    object_store.put("memstore://ref/entities.tsv", LEXICON)
    (tmp_path / "entities.tsv").write_bytes(LEXICON)

    summary = run_prepare(PrepareRequest(["memstore://corpus/*.json"], "memstore://run", CONFIG,
                                         vocab_path="memstore://ref/vocab.txt",
                                         lexicon_paths=["memstore://ref/entities.tsv"]), local_options(1))
    run_prepare(PrepareRequest([str(small_corpus_dir / "*.json")], str(tmp_path / "local"), CONFIG,
                               vocab_path=str(bert_vocab_path), lexicon_paths=[str(tmp_path / "entities.tsv")]),
                local_options(1))

    manifest = json.loads(object_store.get("memstore://run/manifest.json"))
    assert manifest["vocab"]["sha256"] == hashlib.sha256(bert_vocab_path.read_bytes()).hexdigest()
    assert manifest["entity_types"] == ["organization", "place", "proper_noun"]
    assert summary["stats"]["entities"] > 0  # the workers matched with the lexicon read from the store
    local = output_files(tmp_path / "local")
    shards = sorted(name for name in local if name.startswith("shards/"))
    assert len(shards) == summary["shards"] >= len(small_corpus)  # packed: one window, one part a file
    assert sorted(key for key in object_store.keys("memstore://run/shards/")) == [f"memstore://run/{n}" for n in shards]
    assert {name: object_store.get(f"memstore://run/{name}") for name in shards} == {n: local[n] for n in shards}
    ledgers = sorted(name for name in local if name.startswith("rejects/"))
    assert len(ledgers) == len(small_corpus)
    assert {name: _ledger(object_store.get(f"memstore://run/{name}")) for name in ledgers} == {
        name: _ledger(local[name]) for name in ledgers}
    assert not object_store.keys("memstore://run/.staging/")  # spills and staged files are gone


def _ledger(data: bytes) -> list[tuple]:
    """A ledger file's lines without their source (the input's path, which differs between the stores)."""
    lines = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    return [tuple(sorted((key, value) for key, value in line.items() if key != "source")) for line in lines]


def test_an_earlier_run_on_an_object_store_is_found_by_its_files():
    object_store.put("memstore://old/shards/part-00000-0000.parquet", b"x")
    with pytest.raises(UserInputError, match="shards"):
        prepare_output_dir("memstore://old", overwrite=False)


def test_overwrite_on_an_object_store_keeps_the_earlier_run_until_publishing_then_removes_every_file_of_it():
    earlier = ["memstore://old/manifest.json", "memstore://old/shards/part-00000-0000.parquet",
               "memstore://old/shards/part-00001-0000.parquet", "memstore://old/rejects/part-00000.jsonl"]
    for path in earlier:
        object_store.put(path, b"x")
    object_store.put("memstore://old/notes.txt", b"the user's own file")
    prepare_output_dir("memstore://old", overwrite=True)
    assert set(earlier) <= set(object_store.keys("memstore://old/"))  # a failing new run loses nothing
    retire_earlier_run("memstore://old")
    assert object_store.keys("memstore://old/") == [f"memstore://old/{LOCK_NAME}", "memstore://old/notes.txt"]


def test_a_cloud_file_is_copied_locally_under_its_own_name_once_per_version():
    object_store.put("memstore://ref/THUOCL_diming.txt", "上海\t100\n".encode("utf-8"))
    first = files.local_copy("memstore://ref/THUOCL_diming.txt")
    assert Path(first).name == "THUOCL_diming.txt"  # loaders read the entity type from the name
    assert Path(first).read_text(encoding="utf-8") == "上海\t100\n"
    assert files.local_copy("memstore://ref/THUOCL_diming.txt") == first
    object_store.put("memstore://ref/THUOCL_diming.txt", "上海\t100\n北京\t90\n".encode("utf-8"))
    second = files.local_copy("memstore://ref/THUOCL_diming.txt")
    assert second != first and Path(second).read_text(encoding="utf-8").endswith("北京\t90\n")
    assert files.local_copy("/data/local.tsv") == "/data/local.tsv"


def test_an_object_store_folder_means_the_objects_under_it_and_a_named_object_is_that_object():
    for key in ("a.json", "sub/b.jsonl", "part[1].json", ".hidden.json", "sub/.DS_Store"):
        object_store.put(f"memstore://corpus/{key}", b"[]")
    object_store.put("memstore://corpus-other/c.json", b"[]")  # shares the folder's prefix, not its name
    expected = ["memstore://corpus/a.json", "memstore://corpus/part[1].json", "memstore://corpus/sub/b.jsonl"]
    for folder in ("memstore://corpus", "memstore://corpus/"):
        assert [path for path, _ in files.expand_inputs([folder])] == expected
    for name in ("part[1].json", ".hidden.json"):
        assert files.expand_inputs([f"memstore://corpus/{name}"]) == [(f"memstore://corpus/{name}", 2)]
