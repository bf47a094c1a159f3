"""Fixtures over `shard_fixtures`: one set of valid rows per session, a private copy per test."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from tests.schemas.shard_fixtures import VOCAB, make_shards, write_output


@pytest.fixture(scope="session")
def valid_shards() -> list[list[dict]]:
    if not VOCAB.is_file():
        pytest.skip(f"shared vocab missing: {VOCAB}")
    return make_shards()


@pytest.fixture
def shard_rows(valid_shards: list[list[dict]]) -> list[list[dict]]:
    """A private deep copy: tests corrupt it freely."""
    return copy.deepcopy(valid_shards)


@pytest.fixture
def valid_output(tmp_path: Path, shard_rows: list[list[dict]]) -> Path:
    return write_output(tmp_path / "out", shard_rows)
