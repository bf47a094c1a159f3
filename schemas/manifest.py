"""manifest.json: what a consumer must know about a shard set before reading a row.

The manifest is written last, so its presence marks a complete output. The same inputs, config, seed
and `environment` give byte-identical shards and a manifest identical except for `started_at`,
`finished_at` and the environment's git state: those record the run, they are not part of the data.
"""
from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from schemas.provenance import check_environment
from schemas.shard import SCHEMA_VERSION

MANIFEST_NAME = "manifest.json"
VOCAB_NAME = "vocab.txt"
SHARDS_DIR = "shards"
# The run's accounting beside the manifest: one reject ledger file per input file (index in the
# manifest's sorted `inputs`), one JSON line per dropped document, and summary.json, the run's figures.
# pipeline/beam/layout.py writes them under these names; `validate` reads them back.
LEDGER_DIR = "rejects"
SUMMARY_NAME = "summary.json"


def ledger_file_name(file_index: int) -> str:
    return f"{LEDGER_DIR}/part-{file_index:05d}.jsonl"


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
    def from_dict(cls, data: Any) -> "Manifest":
        """A manifest from parsed JSON, every field of the type it declares: a wrong type is a
        ValueError that names the field, never a crash later in whoever reads the value."""
        if not isinstance(data, dict):
            raise ValueError(f"a manifest is a JSON object, not {_json_type(data)}")
        if "schema_version" not in data:
            raise ValueError("schema_version is missing")
        known = {key: value for key, value in data.items() if key in _FIELD_NAMES}  # older keys: ignored
        manifest = _parse(known, cls, "manifest")
        check_environment(manifest.environment)
        return manifest

    @classmethod
    def from_json(cls, text: str) -> "Manifest":
        try:
            data = json.loads(text)
        except RecursionError:  # the C decoder recurses per level: 2,000 brackets exhaust the stack
            raise ValueError("JSON nested too deeply") from None
        return cls.from_dict(data)


_FIELD_NAMES = {f.name for f in fields(Manifest)}
# Every number in a manifest is a count, an id, a length or a seed: never negative, and within int64,
# where pandas and Arrow hold the values the suites compare.
_MAX_INT = 2**63 - 1


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _parse(value: Any, hint: Any, where: str) -> Any:
    """`value` as `hint` (a dataclass, int, str, bool, list[...], dict[str, ...], X | None or Any)."""
    if hint is Any:
        return value
    if is_dataclass(hint):
        return _parse_record(value, hint, where)
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [arg for arg in args if arg is not type(None)]
        return _parse(value, inner, where)
    if origin is list:
        if not isinstance(value, list):
            raise ValueError(f"{where} must be an array, not {_json_type(value)}")
        return [_parse(item, args[0], f"{where}[{index}]") for index, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where} must be an object, not {_json_type(value)}")
        return {key: _parse(item, args[1], f"{where}.{key}") for key, item in value.items()}
    if hint is int:
        if type(value) is not int or not 0 <= value <= _MAX_INT:
            raise ValueError(f"{where} must be an integer in [0, 2**63), not {value!r:.40}")
        return value
    if type(value) is not hint:  # str or bool; bool is no int here and 1 is no bool
        raise ValueError(f"{where} must be {_json_type(hint())}, not {_json_type(value)}")
    return value


def _parse_record(value: Any, record: type, where: str) -> Any:
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be an object, not {_json_type(value)}")
    hints = get_type_hints(record)
    names = {f.name for f in fields(record)}
    unknown = sorted(set(value) - names)
    if unknown:
        raise ValueError(f"{where} has unknown field {unknown[0]!r:.40}")
    required = {f.name for f in fields(record) if f.default is MISSING and f.default_factory is MISSING}
    missing = sorted(required - set(value))
    if missing:
        raise ValueError(f"{where}.{missing[0]} is missing")
    return record(**{key: _parse(item, hints[key], f"{where}.{key}") for key, item in value.items()})


def read_manifest(output_dir: str | Path) -> Manifest:
    """Reads a local output directory's manifest (cloud paths go through the pipeline's file I/O)."""
    return Manifest.from_json((Path(output_dir) / MANIFEST_NAME).read_text(encoding="utf-8"))
