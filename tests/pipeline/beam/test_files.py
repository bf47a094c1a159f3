"""Reading inputs (pipeline/beam/files.py): every codec decodes whole files, keeps what it decoded before
a break and says why it broke, and the stored bytes' size and sha256 reach the manifest."""
from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import random
import zlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import zstandard

from pipeline.beam import files
from pipeline.beam.prepare import PrepareRequest, run_prepare
from pipeline.config import PrepareConfig
from runners.local import local_options
from schemas.manifest import read_manifest
from tests.reliability.adversarial import TEXTS

CODECS = {
    "": lambda data: data,
    ".gz": gzip.compress,
    ".bz2": lambda data: bz2.compress(data, compresslevel=1),  # 100 kB blocks: a cut keeps whole blocks
    ".zst": lambda data: zstandard.ZstdCompressor(write_checksum=True).compress(data),  # as the zstd CLI writes
    ".deflate": zlib.compress,
}
COMPRESSED = [suffix for suffix in CODECS if suffix]


def jsonl(first: int, count: int, prefix: str = "r") -> bytes:
    return "".join(json.dumps({"uniqueKey": f"{prefix}{i}", "text": TEXTS[i % len(TEXTS)]}, ensure_ascii=False) + "\n"
                   for i in range(first, first + count)).encode("utf-8")


def _random_records(count: int) -> bytes:
    """Records of random ideographs: they compress evenly, so half of a compressed file holds about half
    of its blocks (real texts repeat, and zstd's first block would take most of the file)."""
    rng = random.Random(17)
    return "".join(json.dumps({"uniqueKey": f"r{i}", "text": "".join(chr(0x4E00 + rng.randrange(3000))
                                                                      for _ in range(200))}, ensure_ascii=False)
                   + "\n" for i in range(count)).encode("utf-8")


DATA = _random_records(1000)  # ~630 kB: several bzip2 blocks (100 kB) and zstd blocks (128 kB)


def stored(tmp_path: Path, suffix: str, data: bytes) -> Path:
    path = tmp_path / f"input.jsonl{suffix}"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("suffix", list(CODECS))
def test_a_whole_file_decodes_whole_with_its_stored_size_and_hash(tmp_path, suffix):
    data = CODECS[suffix](DATA)
    read = files.read_input(str(stored(tmp_path, suffix, data)))
    assert read.data == DATA and read.broken is None
    assert (read.stored_size, read.sha256) == (len(data), hashlib.sha256(data).hexdigest())


@pytest.mark.parametrize("suffix", COMPRESSED)
def test_a_truncated_stream_keeps_what_decoded_before_the_break_and_says_so(tmp_path, suffix):
    whole = CODECS[suffix](DATA)
    for cut in (len(whole) // 2, len(whole) - 4):  # mid-stream, and only the end marker or checksum lost
        read = files.read_input(str(stored(tmp_path, suffix, whole[:cut])))
        assert read.broken, cut
        assert DATA.startswith(read.data)
        assert (read.stored_size, read.sha256) == (cut, hashlib.sha256(whole[:cut]).hexdigest())
    half = files.read_input(str(stored(tmp_path, suffix, whole[: len(whole) // 2]))).data
    assert 0 < len(half) < len(DATA)


@pytest.mark.parametrize("suffix", COMPRESSED)
def test_corrupt_bytes_mid_stream_are_a_break_not_a_crash(tmp_path, suffix):
    """Each format's checksum (gzip's CRC-32, bzip2's block CRCs, zlib's Adler-32, zstd's XXH64) finds it."""
    whole = bytearray(CODECS[suffix](DATA))
    middle = len(whole) // 2
    whole[middle: middle + 16] = bytes(16)
    read = files.read_input(str(stored(tmp_path, suffix, bytes(whole))))
    assert read.broken and len(read.data) < len(DATA)


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".zst"])
def test_concatenated_members_and_frames_are_read_whole(tmp_path, suffix):
    """What `cat a.gz b.gz`, pbzip2 and zstd's multi-frame writers produce."""
    members = [CODECS[suffix](part) for part in (DATA[:1000], DATA[1000:200_000], DATA[200_000:])]
    read = files.read_input(str(stored(tmp_path, suffix, b"".join(members))))
    assert read.data == DATA and read.broken is None


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".zst"])
def test_a_member_that_ends_exactly_at_a_read_boundary_is_followed_by_the_next(tmp_path, suffix, monkeypatch):
    first, second = CODECS[suffix](DATA[:5000]), CODECS[suffix](DATA[5000:])
    monkeypatch.setattr(files, "_CHUNK", len(first))  # the first read ends where the first member does
    read = files.read_input(str(stored(tmp_path, suffix, first + second)))
    assert read.broken is None and read.data == DATA


@pytest.fixture(scope="module")
def truncated_run(tmp_path_factory) -> tuple[Path, Path, dict[str, list[str]]]:
    """Two inputs, .jsonl.bz2 and .jsonl.zst, each two whole members and a third cut in half; and a plain
    file. -> (input dir, output dir, the doc_ids of each compressed file's whole members)."""
    corpus = tmp_path_factory.mktemp("truncated")
    whole = {}
    for index, suffix in enumerate((".bz2", ".zst")):
        first = 30 * index
        members = [CODECS[suffix](jsonl(first + 10 * m, 10, prefix=f"{suffix[1:]}-")) for m in range(3)]
        (corpus / f"cut.jsonl{suffix}").write_bytes(members[0] + members[1] + members[2][: len(members[2]) // 2])
        whole[f"cut.jsonl{suffix}"] = [f"{suffix[1:]}-{i}" for i in range(first, first + 20)]
    (corpus / "plain.jsonl").write_bytes(jsonl(100, 5, prefix="plain-"))
    output = tmp_path_factory.mktemp("truncated_out") / "out"
    run_prepare(PrepareRequest([str(corpus / "*")], str(output), PrepareConfig()), local_options(1))
    return corpus, output, whole


def test_truncated_bz2_and_zst_inputs_keep_the_records_before_the_break_and_ledger_it(truncated_run):
    corpus, output, whole = truncated_run
    manifest = read_manifest(output)
    ledger = [json.loads(line) for path in sorted((output / "rejects").glob("*.jsonl"))
              for line in path.read_text(encoding="utf-8").splitlines()]
    broken = [line for line in ledger if line["reason"] == "truncated_stream"]
    assert sorted(line["source"] for line in broken) == [str(corpus / name) for name in sorted(whole)]
    assert all(line["detail"] for line in broken)
    kept = {doc_id for shard in manifest.shards
            for doc_id in pq.read_table(output / shard.file, columns=["doc_id"]).column(0).combine_chunks().flatten().to_pylist()}
    accounted = kept | {line["doc_id"] for line in ledger}
    for doc_ids in whole.values():
        assert set(doc_ids) <= accounted  # every record of the whole members: kept, or dropped for a reason
        assert set(doc_ids) & kept
    assert manifest.documents.read == 20 + 1 + 20 + 1 + 5  # each break counts as one record read
    assert manifest.documents.rejected["truncated_stream"] == 2
    assert manifest.documents.read == manifest.documents.kept + manifest.documents.rejected_total


def test_the_manifest_lists_each_input_with_its_stored_size_and_hash(truncated_run):
    corpus, output, _ = truncated_run
    inputs = read_manifest(output).inputs
    paths = sorted(corpus.iterdir())
    assert [entry.path for entry in inputs] == [str(path) for path in paths]
    for entry, path in zip(inputs, paths):
        data = path.read_bytes()
        assert (entry.size, entry.sha256) == (len(data), hashlib.sha256(data).hexdigest())
