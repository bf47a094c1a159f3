"""Fixtures of the trainer tests: shard sets from `shard_factory` (a module of its own, so tests may
import its constants without importing a `conftest`)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from shard_factory import write_shard_set

# Models here are tiny: intra-op threads gain nothing, and OpenMP's spin-waiting threads slow every
# step several-fold on a shared 2-core machine.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shard_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four training shards and one held-out shard of rows up to 64 tokens."""
    return write_shard_set(tmp_path_factory.mktemp("shards"), shards=5, rows_per_shard=256)


@pytest.fixture(scope="session")
def packed_shard_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four training shards and one held-out shard of rows up to 128 tokens, two examples of up to 64 each."""
    return write_shard_set(tmp_path_factory.mktemp("packed_shards"), shards=5, rows_per_shard=128, max_len=128,
                           examples_per_row=2)
