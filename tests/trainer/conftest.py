"""Fixtures of the trainer tests: shard sets from `shard_factory` (a module of its own, so tests may
import its constants without importing a `conftest`)."""
from __future__ import annotations

from pathlib import Path

import pytest

from shard_factory import write_shard_set


@pytest.fixture(scope="session")
def shard_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four training shards and one held-out shard of rows up to 64 tokens."""
    return write_shard_set(tmp_path_factory.mktemp("shards"), shards=5, rows_per_shard=256)
