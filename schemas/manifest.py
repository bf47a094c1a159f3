"""manifest.json: what a consumer must know about a shard set before reading a row.

The manifest is written last, so its presence marks a complete output. The same inputs, config, seed
and `environment` give byte-identical shards and a manifest identical except for `started_at`,
`finished_at` and the environment's git state: those record the run, they are not part of the data.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from schemas.shard import SCHEMA_VERSION

MANIFEST_NAME = "manifest.json"
VOCAB_NAME = "vocab.txt"
SHARDS_DIR = "shards"


@dataclass(frozen=True)
class SpecialTokens:
    pad: int
    unk: int
    cls: int
    sep: int
    mask: int


@dataclass(frozen=True)
class VocabInfo:
    file: str  # relative to the output directory
    sha256: str
    size: int  # number of entries


@dataclass(frozen=True)
class ShardInfo:
    file: str  # relative to the output directory
    rows: int
    tokens: int
    sha256: str


@dataclass(frozen=True)
class DocumentAccounting:
    read: int
    kept: int
    rejected: dict[str, int]

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


@dataclass(frozen=True)
class InputFile:
    """One input as read, so a rerun can tell whether it reads the same bytes."""

    path: str  # as given to prepare (local, gs://, s3://)
    size: int  # bytes stored, before decompression
    sha256: str  # of the stored bytes (`schemas.provenance.hash_stream`)


@dataclass(frozen=True)
class Manifest:
    vocab: VocabInfo
    special_tokens: SpecialTokens
    max_seq_len: int
    seed: int
    config: dict[str, Any]
    entity_types: list[str]
    shards: list[ShardInfo]
    documents: DocumentAccounting
    stats: dict[str, Any] = field(default_factory=dict)
    # Where the KDM entities came from: each lexicon source as given, its type override and sha256.
    lexicons: list[dict[str, str]] = field(default_factory=list)
    # `schemas.provenance.run_environment()`; empty in manifests written before it was recorded.
    environment: dict[str, Any] = field(default_factory=dict)
    inputs: list[InputFile] = field(default_factory=list)
    started_at: str | None = None  # ISO-8601 UTC (`schemas.provenance.utc_timestamp`)
    finished_at: str | None = None
    schema_version: str = SCHEMA_VERSION

    @property
    def total_rows(self) -> int:
        return sum(s.rows for s in self.shards)

    @property
    def total_tokens(self) -> int:
        return sum(s.tokens for s in self.shards)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Manifest":
        return cls(
            vocab=VocabInfo(**data["vocab"]),
            special_tokens=SpecialTokens(**data["special_tokens"]),
            max_seq_len=int(data["max_seq_len"]),
            seed=int(data["seed"]),
            config=dict(data["config"]),
            entity_types=list(data["entity_types"]),
            shards=[ShardInfo(**s) for s in data["shards"]],
            documents=DocumentAccounting(**data["documents"]),
            stats=dict(data.get("stats", {})),
            lexicons=[dict(entry) for entry in data.get("lexicons", [])],
            environment=dict(data.get("environment", {})),
            inputs=[InputFile(**entry) for entry in data.get("inputs", [])],
            started_at=data.get("started_at"),
            finished_at=data.get("finished_at"),
            schema_version=str(data["schema_version"]),
        )

    @classmethod
    def from_json(cls, text: str) -> "Manifest":
        return cls.from_dict(json.loads(text))


def read_manifest(output_dir: str | Path) -> Manifest:
    """Reads a local output directory's manifest (cloud paths go through the pipeline's file I/O)."""
    return Manifest.from_json((Path(output_dir) / MANIFEST_NAME).read_text(encoding="utf-8"))
