"""A small real corpus for runner tests: the first documents of each WuDao sample file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.config import PrepareConfig
from tests.run_outputs import output_files

DOCS_PER_FILE = 120
FILES_PER_SOURCE = 2
# Several input files and several shards of each (batches of 16 documents, a new part after 32 rows), so
# the dealing of files to workers and the order of parts within a file are exercised, not one file's content.
CONFIG = PrepareConfig(shard_rows=32, batch_size=16)


@pytest.fixture(scope="session")
def small_corpus(wudao_sample_dir, tmp_path_factory) -> dict[str, bytes]:
    """File name -> WuDao JSON bytes: each sample file's first documents, cut in two, so two workers each
    get several input files."""
    corpus = {}
    for source in sorted(wudao_sample_dir.glob("part-*.json")):
        records = json.loads(source.read_text(encoding="utf-8"))[:DOCS_PER_FILE]
        step = DOCS_PER_FILE // FILES_PER_SOURCE
        for part in range(FILES_PER_SOURCE):
            name = f"{source.stem}-{part}.json"
            corpus[name] = json.dumps(records[part * step:(part + 1) * step], ensure_ascii=False).encode("utf-8")
    return corpus


@pytest.fixture(scope="session")
def small_corpus_dir(small_corpus, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("small_corpus")
    for name, data in small_corpus.items():
        (directory / name).write_bytes(data)
    return directory


@pytest.fixture(scope="session")
def in_process_output(small_corpus_dir, tmp_path_factory) -> dict[str, bytes]:
    """The reference: every output file of the in-process DirectRunner run on the small corpus."""
    from pipeline.beam.prepare import PrepareRequest, run_prepare
    from runners.local import local_options

    output = tmp_path_factory.mktemp("in_process")
    run_prepare(PrepareRequest([str(small_corpus_dir / "*.json")], str(output), CONFIG), local_options(1))
    return output_files(output)
