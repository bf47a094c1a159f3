"""Hostile input files (issue 24): deep nesting, compression bombs, every codec's breaks, what an input
path means, repeated uniqueKeys. Each ends in the shards or in the ledger with a reason, and a worker
holds a few MB of a file, never the file."""
from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import logging
import lzma
import subprocess
import sys
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
import zstandard

from erlangshen_data.cli import build_parser
from erlangshen_data.commands.prepare import config_from_args
from pipeline import readers
from pipeline.beam import files
from pipeline.beam.prepare import PrepareRequest, run_prepare
from pipeline.config import PrepareConfig
from pipeline.documents import Document, Rejection
from pipeline.readers import InputFormat, parse_file, parse_stream
from runners.local import local_options
from schemas.errors import UserInputError
from schemas.manifest import read_manifest
from tests.reliability.adversarial import TEXTS
from tests.run_outputs import shard_doc_ids

REPO = Path(__file__).resolve().parents[2]
CODECS = {
    "": lambda data: data,
    ".gz": lambda data: gzip.compress(data, 9),
    ".bz2": lambda data: bz2.compress(data, 9),
    ".xz": lzma.compress,
    ".zst": lambda data: zstandard.ZstdCompressor(write_checksum=True).compress(data),
    ".deflate": zlib.compress,
}
COMPRESSED = [suffix for suffix in CODECS if suffix]
DEEP_ARRAY = b"[" + b"[" * 2000 + b"]" * 2000 + b"]"  # the issue's 4 KB file
CAP = 2**20


def _jsonl(keys: list[str], texts: list[str]) -> bytes:
    return "".join(json.dumps({"uniqueKey": k, "text": t}, ensure_ascii=False) + "\n"
                   for k, t in zip(keys, texts)).encode("utf-8")


def _chunked(data: bytes, size: int) -> list[bytes]:
    return [data[start:start + size] for start in range(0, len(data), size)]


# Item 1: deep nesting -------------------------------------------------------------------------------

def test_a_deeply_nested_json_file_is_one_ledger_line_not_a_recursion_error():
    [record] = parse_file(DEEP_ARRAY, "d.json", InputFormat.WUDAO)
    assert isinstance(record, Rejection) and record.reason == readers.TOO_DEEP


def test_records_after_a_deeply_nested_element_are_still_read():
    deep = b'{"uniqueKey": "deep", "content": "x", "meta": ' + b"[" * 3000 + b'"]}\\""' + b"]" * 3000 + b"}"
    data = b'[{"uniqueKey": "a", "content": "one"}, ' + deep + b', {"uniqueKey": "b", "content": "two"}]'
    records = list(parse_file(data, "d.json", InputFormat.WUDAO))
    assert [r.doc_id for r in records] == ["a", "d.json#1", "b"]
    assert records[1].reason == readers.TOO_DEEP


def test_a_deeply_nested_json_line_is_ledgered_and_the_next_line_read():
    data = b'{"text": "first"}\n' + DEEP_ARRAY + b'\n{"text": "third"}\n'
    records = list(parse_file(data, "d.jsonl", InputFormat.JSONL))
    assert [type(r) for r in records] == [Document, Rejection, Document]
    assert records[1].reason == readers.TOO_DEEP and records[1].detail.startswith("line 2")


# Streaming: any chunking gives the same records ----------------------------------------------------

NASTY = {
    InputFormat.WUDAO: [
        "\ufeff".encode() + json.dumps([{"uniqueKey": "é", "content": TEXTS[0]}], ensure_ascii=False).encode(),
        b'[{"uniqueKey": "a", "content": "\\ud83d\\ude00 ok"}, {"content": "bad \\udc80"}, 12345, true, '
        b'{"content": "bad \xff byte"}, {"content": "x"}] {"content": "bare"} [{"content":"c"},,{"content":"d"}] zz',
        b'[{"uniqueKey": "a", "content": "x"}, {"uniqueKey": "b", "cont',
        b'[{"content": "a"}, ' + DEEP_ARRAY + b', {"content": "after"}]',
    ],
    InputFormat.JSONL: [
        b'{"text": "a"}\r\n\n{"text": 12}\n{bad\n{"text": "\xe4\xb8\xad\xff"}\n' + DEEP_ARRAY + b'\n{"text": "end"}',
    ],
    InputFormat.TEXT: [
        "第一段。\r\n续行。\r\n\r\n \u3000\r\n\r\n第二篇。\n\n\n".encode() + b"bad \xff block\n\nlast",
        "\ufeff只有一段".encode(),
    ],
}


@pytest.mark.parametrize("fmt", list(NASTY))
def test_any_chunking_of_a_file_gives_the_records_of_the_whole(fmt):
    """Chunks end inside a BOM, a UTF-8 sequence, a CRLF, a JSON escape, a value and a separator."""
    for data in NASTY[fmt]:
        whole = list(parse_file(data, "in/f", fmt, "text"))
        assert whole
        for size in (1, 2, 3, 5, 7, 64):
            assert list(parse_stream(_chunked(data, size), "in/f", fmt, "text")) == whole, (data[:40], size)


def test_a_value_larger_than_many_chunks_is_decoded_a_few_times_not_once_per_chunk(monkeypatch):
    huge = "中" * 3_000_000  # 9 MB of UTF-8: 2,300 chunks of 4 kB
    data = json.dumps([{"uniqueKey": "big", "content": huge}, {"uniqueKey": "next", "content": "x"}],
                      ensure_ascii=False).encode("utf-8")
    calls = []

    class CountingDecoder(type(readers._DECODER)):
        def raw_decode(self, s, idx=0):
            calls.append(idx)
            return super().raw_decode(s, idx)

    monkeypatch.setattr(readers, "_DECODER", CountingDecoder(strict=False))
    records = list(parse_stream(_chunked(data, 4096), "big.json", InputFormat.WUDAO))
    assert [r.doc_id for r in records] == ["big", "next"] and records[0].text == huge
    assert len(calls) < 40  # the window doubles between retries: log2(2,300) retries, not 2,300


def test_reading_and_parsing_a_file_holds_a_few_mb_of_it_not_the_file(tmp_path):
    """200 MB of WuDao-like JSON, gzipped: peak memory grows by what a window and a batch hold."""
    path = tmp_path / "big.json.gz"
    record = json.dumps({"uniqueKey": "k", "title": "", "content": TEXTS[0]}, ensure_ascii=False) + ", "
    per_block = 2**20 // len(record.encode("utf-8"))
    block, end = (record * per_block).encode("utf-8"), b'{"content": "end"}]'
    with gzip.open(path, "wb", compresslevel=1) as handle:
        handle.write(b"[")
        for _ in range(200):
            handle.write(block)
        handle.write(end)
    script = (
        "import resource, sys\n"
        "from pipeline.beam.files import InputStream\n"
        "from pipeline.readers import InputFormat, parse_stream\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "with InputStream(sys.argv[1]) as stream:\n"
        "    count = sum(1 for _ in parse_stream(stream.chunks(), sys.argv[1], InputFormat.WUDAO))\n"
        "print(count, stream.decoded_size, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(path)], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.split()
    count, decoded, grown_mb = map(int, out)
    assert (count, decoded) == (200 * per_block + 1, 1 + 200 * len(block) + len(end))
    assert grown_mb < 64, f"peak RSS grew by {grown_mb} MB reading {decoded >> 20} MB"


# Item 6: the cap on decompressed bytes (a bomb) -----------------------------------------------------

@pytest.mark.parametrize("suffix", list(CODECS))
def test_past_the_cap_a_file_breaks_off_after_exactly_cap_bytes(tmp_path, suffix):
    stored = CODECS[suffix](bytes(4 * CAP))
    path = tmp_path / f"bomb.txt{suffix}"
    path.write_bytes(stored)
    with files.InputStream(str(path), CAP) as stream:
        pieces = list(stream.chunks())
    assert sum(map(len, pieces)) == stream.decoded_size == CAP
    assert stream.break_reason == files.TOO_LARGE and "--max-input-mb" in stream.broken
    assert (stream.stored_size, stream.sha256) == (len(stored), hashlib.sha256(stored).hexdigest())


@pytest.mark.parametrize("suffix", COMPRESSED)
def test_a_bomb_is_decompressed_in_bounded_pieces(tmp_path, suffix):
    """128 MB of zeros shrink to kilobytes; no codec call may hand back more than a bounded piece."""
    path = tmp_path / f"bomb.jsonl{suffix}"
    path.write_bytes(CODECS[suffix](bytes(128 * 2**20)))
    with files.InputStream(str(path)) as stream:
        largest = max(len(piece) for piece in stream.chunks())
    assert stream.decoded_size == 128 * 2**20 and stream.broken is None
    assert largest <= 32 * 2**20


def test_the_cap_flag_reaches_the_config():
    args = build_parser(["prepare"]).parse_args(["prepare", "--output", "o", "--max-input-mb", "3"])
    assert config_from_args(args).max_input_bytes == 3 * 2**20
    default = build_parser(["prepare"]).parse_args(["prepare", "--output", "o"])
    assert config_from_args(default).max_input_bytes == PrepareConfig().max_input_bytes


# Item 7: every codec keeps what came before a break and says so. tests/pipeline/beam/test_files.py pins
# gzip, bzip2, zstd and deflate (whole, truncated, corrupt, members, read boundaries; end to end for
# .bz2 and .zst); .xz, which CC-100 and others ship, is read the same way.

DATA = _jsonl([f"r{i}" for i in range(2000)], [TEXTS[i % len(TEXTS)] + str(i) for i in range(2000)])


def test_an_xz_file_is_read_whole_and_a_truncated_one_keeps_its_prefix(tmp_path):
    whole = lzma.compress(DATA)
    path = tmp_path / "in.jsonl.xz"
    path.write_bytes(whole + whole)  # two streams, as `cat` makes them
    assert files.read_input(str(path)) == files.InputBytes(DATA + DATA, None, 2 * len(whole),
                                                           hashlib.sha256(whole + whole).hexdigest())
    for cut in (len(whole) // 2, len(whole) - 4, 20):
        path.write_bytes(whole[:cut])
        read = files.read_input(str(path))
        assert read.broken and DATA.startswith(read.data), cut
    assert InputFormat.detect("cc100/zh.txt.xz") is InputFormat.TEXT
    assert InputFormat.detect("part-1.jsonl.xz") is InputFormat.JSONL


def test_corrupt_bytes_in_an_xz_file_are_a_break(tmp_path):
    whole = bytearray(lzma.compress(DATA))
    whole[len(whole) // 2: len(whole) // 2 + 16] = bytes(16)
    path = tmp_path / "in.jsonl.xz"
    path.write_bytes(bytes(whole))
    read = files.read_input(str(path))
    assert read.broken and len(read.data) < len(DATA)


# Item 13: what an input path means -------------------------------------------------------------------

@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    (root / ".git").mkdir()
    for name in ("a.json", "sub/b.jsonl", "part[1].json", ".hidden.json", ".git/config", "sub/.DS_Store"):
        (root / name).write_bytes(b"[]")
    return root


def _names(found, root: Path) -> list[str]:
    return [str(Path(path).relative_to(root)) for path, _ in found]


def test_a_directory_means_the_files_under_it_without_hidden_ones(tree, caplog):
    with caplog.at_level(logging.INFO):
        assert _names(files.expand_inputs([str(tree)]), tree) == ["a.json", "part[1].json", "sub/b.jsonl"]
    assert f"input {tree}: 3 hidden file(s) skipped" in caplog.text  # .hidden.json, .git/config, sub/.DS_Store
    assert f"input {tree}: 3 file(s), 6 bytes" in caplog.text
    assert _names(files.expand_inputs([str(tree) + "/"]), tree) == ["a.json", "part[1].json", "sub/b.jsonl"]


def test_an_explicit_path_means_that_file_even_a_dot_file_or_one_with_brackets(tree):
    assert _names(files.expand_inputs([str(tree / ".hidden.json")]), tree) == [".hidden.json"]
    assert _names(files.expand_inputs([str(tree / "part[1].json")]), tree) == ["part[1].json"]


def test_only_a_path_that_names_nothing_is_a_glob_and_globs_skip_hidden_files(tree):
    assert _names(files.expand_inputs([str(tree / "*.json")]), tree) == ["a.json", "part[1].json"]
    assert _names(files.expand_inputs([str(tree / "**")]), tree) == ["a.json", "part[1].json", "sub/b.jsonl"]
    assert _names(files.expand_inputs([str(tree / ".git" / "*")]), tree) == [".git/config"]  # named: read
    with pytest.raises(UserInputError, match=r"matches no file \(1 hidden"):
        files.expand_inputs([str(tree / ".hid*")])
    with pytest.raises(UserInputError, match="matches no file"):
        files.expand_inputs([str(tree / "missing.json")])
    (tree / "empty").mkdir()
    with pytest.raises(UserInputError, match="matches no file"):
        files.expand_inputs([str(tree / "empty")])


# End to end: one run over every hostile file at once ---------------------------------------------

@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory) -> tuple[Path, Path]:
    corpus = tmp_path_factory.mktemp("hostile") / "in"
    corpus.mkdir()
    (corpus / "d.json").write_bytes(DEEP_ARRAY)
    (corpus / "deep.jsonl").write_bytes(_jsonl(["before"], [TEXTS[1]]) + DEEP_ARRAY + b"\n"
                                        + _jsonl(["after"], [TEXTS[2]]))
    (corpus / "zeros.txt.gz").write_bytes(gzip.compress(bytes(4 * CAP), 9))
    # real records, then blank lines past the cap: the records before it are kept
    (corpus / "padded.jsonl.gz").write_bytes(gzip.compress(_jsonl(["p0", "p1"], TEXTS[3:5]) + b"\n" * (2 * CAP)))
    for suffix in (".bz2", ".xz", ".zst"):  # cut so early that nothing decodes: the break alone is ledgered
        (corpus / f"cut.jsonl{suffix}").write_bytes(CODECS[suffix](_jsonl(["c"], [TEXTS[5]]))[:20])
    (corpus / "repeats.jsonl").write_bytes(_jsonl(["same", "same", "other", "same"], TEXTS[6:10]))
    (corpus / "repeats2.jsonl").write_bytes(_jsonl(["same"], TEXTS[10:11]))  # across files: not counted
    (corpus / ".hidden.jsonl").write_bytes(_jsonl(["hidden"], TEXTS[11:12]))
    output = corpus.parent / "out"
    config = replace(PrepareConfig(), max_input_bytes=CAP)
    run_prepare(PrepareRequest([str(corpus)], str(output), config), local_options(1))  # a directory
    return corpus, output


def _ledger(output: Path) -> list[dict]:
    return [json.loads(line) for path in sorted((output / "rejects").glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_hostile_run_finishes_and_accounts_for_every_record(hostile_run):
    corpus, output = hostile_run
    documents = read_manifest(output).documents
    assert documents.read == documents.kept + documents.rejected_total == len(_ledger(output)) + documents.kept
    assert documents.rejected[readers.TOO_DEEP] == 2
    assert documents.rejected["input_too_large"] == 2
    assert documents.rejected["truncated_stream"] == 3
    assert sorted(Path(entry.path).name for entry in read_manifest(output).inputs) == sorted(
        path.name for path in corpus.iterdir() if not path.name.startswith("."))


def test_each_break_is_ledgered_against_its_file_and_the_records_before_it_kept(hostile_run):
    corpus, output = hostile_run
    ledger = _ledger(output)
    breaks = {Path(line["source"]).name: line["reason"] for line in ledger
              if line["reason"] in ("truncated_stream", "input_too_large")}
    assert breaks == {"zeros.txt.gz": "input_too_large", "padded.jsonl.gz": "input_too_large",
                      "cut.jsonl.bz2": "truncated_stream", "cut.jsonl.xz": "truncated_stream",
                      "cut.jsonl.zst": "truncated_stream"}
    assert {"before", "after", "p0", "p1"} <= shard_doc_ids(output)
    assert "hidden" not in shard_doc_ids(output) | {line["doc_id"] for line in ledger}


def test_repeated_unique_keys_within_a_file_are_counted(hostile_run):
    _, output = hostile_run
    assert read_manifest(output).stats["repeated_doc_ids"] == 2
    summary = json.loads((output / "summary.json").read_text(encoding="utf-8"))
    assert summary["stats"]["repeated_doc_ids"] == 2
