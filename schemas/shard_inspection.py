"""What one shard file turns out to be on disk: present, readable, its schema, hash, rows and tokens.

These facts are compared with the manifest's promises by the shard-files suite. They are gathered in
the worker that also checks the shard's rows, so each file is read once.
"""
from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas import shard

_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class ShardFacts:
    file: str  # as the manifest names it: relative to the output directory
    listed: bool  # named by the manifest (a file found on disk only is a stray)
    present: bool
    readable: bool = False
    schema_matches: bool = False
    sha256: str | None = None
    rows: int | None = None
    tokens: int | None = None
    sop_original: int = 0
    sop_swapped: int = 0
    problem: str | None = None  # why a present file could not be read


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _has_contract_columns(schema: pa.Schema) -> bool:
    """Names and types as the contract says; nullability aside, so the row checks can still run."""
    return [(f.name, f.type) for f in schema] == [(f.name, f.type) for f in shard.SHARD_SCHEMA]


def inspect_shard(path: Path, file: str, listed: bool) -> tuple[ShardFacts, pa.Table | None]:
    """The facts, and the table when its columns are those of the contract (else rows go unchecked)."""
    if not path.is_file():
        return ShardFacts(file=file, listed=listed, present=False), None
    sha256 = sha256_of_file(path)
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        return ShardFacts(file=file, listed=listed, present=True, sha256=sha256, problem=str(error)), None
    schema_matches = table.schema.equals(shard.SHARD_SCHEMA, check_metadata=False)
    if not _has_contract_columns(table.schema):
        facts = ShardFacts(
            file=file, listed=listed, present=True, readable=True, sha256=sha256, rows=table.num_rows
        )
        return facts, None
    labels = pc.list_flatten(table.column(shard.SOP_LABEL)).to_numpy()  # one per example
    facts = ShardFacts(
        file=file,
        listed=listed,
        present=True,
        readable=True,
        schema_matches=schema_matches,
        sha256=sha256,
        rows=table.num_rows,
        tokens=int(pc.sum(pc.list_value_length(table.column(shard.INPUT_IDS))).as_py() or 0),
        sop_original=int(np.count_nonzero(labels == shard.SOP_ORIGINAL)),
        sop_swapped=int(np.count_nonzero(labels == shard.SOP_SWAPPED)),
    )
    return facts, table


def sample_rows(table: pa.Table, limit: int | None, file: str) -> tuple[pa.Table, np.ndarray]:
    """At most `limit` rows and their row numbers in the shard, so a failure points at the real row.

    The draw is seeded by the file name: the same shard always yields the same sample, so a re-run
    reproduces a failure.
    """
    if limit is None or table.num_rows <= limit:
        return table, np.arange(table.num_rows)
    rng = np.random.default_rng(zlib.crc32(file.encode()))
    picked = np.sort(rng.choice(table.num_rows, size=limit, replace=False))
    return table.take(picked), picked
