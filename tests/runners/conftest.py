"""A small real corpus for runner tests: the first documents of each WuDao sample file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.config import PrepareConfig

DOCS_PER_FILE = 120
# Several shards, so grouping and ordering across workers are exercised, not just one file's content.
CONFIG = PrepareConfig(num_shards=3)


@pytest.fixture(scope="session")
def small_corpus(wudao_sample_dir, tmp_path_factory) -> dict[str, bytes]:
    """File name -> WuDao JSON bytes: two files, so two workers each get one."""
    corpus = {}
    for source in sorted(wudao_sample_dir.glob("part-*.json")):
        records = json.loads(source.read_text(encoding="utf-8"))[:DOCS_PER_FILE]
        corpus[source.name] = json.dumps(records, ensure_ascii=False).encode("utf-8")
    return corpus


@pytest.fixture(scope="session")
def small_corpus_dir(small_corpus, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("small_corpus")
    for name, data in small_corpus.items():
        (directory / name).write_bytes(data)
    return directory


def output_files(root: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file a run left, the shards and the manifest included."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def in_process_output(small_corpus_dir, tmp_path_factory) -> dict[str, bytes]:
    """The reference: every output file of the in-process DirectRunner run on the small corpus."""
    from pipeline.prepare import run_prepare
    from runners.local import local_options

    output = tmp_path_factory.mktemp("in_process")
    run_prepare([str(small_corpus_dir / "*.json")], str(output), CONFIG, options=local_options(1))
    return output_files(output)
