"""Fixtures shared across the suite: the real data in ../shared, and one prepared sample output."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
BERT_VOCAB = SHARED_DATA / "vocab" / "bert-base-chinese-vocab.txt"
WUDAO_SAMPLE = SHARED_DATA / "wudao-sample"
SAMPLE_CORPUS = REPO / "pipeline" / "sample_corpus"


def require_shared(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared test data lives beside the repo in CI, not in a user's clone")
    return path


@pytest.fixture(scope="session")
def bert_vocab_path() -> Path:
    return require_shared(BERT_VOCAB)


@pytest.fixture(scope="session")
def wudao_sample_dir() -> Path:
    return require_shared(WUDAO_SAMPLE)


@pytest.fixture(scope="session")
def prepared_sample(tmp_path_factory) -> Path:
    """`prepare` on the embedded sample corpus, run once per test session, default settings."""
    from pipeline.config import PrepareConfig
    from pipeline.beam.prepare import PrepareRequest, run_prepare
    from runners.local import local_options

    output = tmp_path_factory.mktemp("prepared_sample")
    run_prepare(PrepareRequest([str(SAMPLE_CORPUS / "*.json")], str(output), PrepareConfig()), local_options(1))
    return output
