"""Comparing what two `prepare` runs wrote: every file byte for byte, the manifest aside, whose run
record (when it started and finished, the environment it ran in) differs between runs by design."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas.manifest import MANIFEST_NAME

# The manifest's keys that describe the run rather than the data; everything else it holds (the shards
# with their sha256, the accounting, the stats, the config, the inputs) must be the same.
RUN_RECORD_KEYS = ("started_at", "finished_at", "environment")


def output_files(root: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file a run left, the shards and the manifest included."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def manifest_without_run_record(data: bytes) -> dict:
    manifest = json.loads(data)
    assert all(key in manifest for key in RUN_RECORD_KEYS), "the manifest no longer records its run"
    return {key: value for key, value in manifest.items() if key not in RUN_RECORD_KEYS}


def differing_files(produced: dict[str, bytes], reference: dict[str, bytes]) -> list[str]:
    """The names whose content differs between two runs' outputs (both must hold the same names): bytes
    for every file but the manifest, which is compared without its run record."""
    assert sorted(produced) == sorted(reference)
    differ = []
    for name in sorted(produced):
        if name == MANIFEST_NAME:
            if manifest_without_run_record(produced[name]) != manifest_without_run_record(reference[name]):
                differ.append(name)
        elif produced[name] != reference[name]:
            differ.append(name)
    return differ


def shard_doc_ids(output: Path) -> set[str]:
    """The doc_ids in an output's shards, one per example however many examples a row holds."""
    return {doc_id for path in sorted((output / "shards").glob("*.parquet"))
            for doc_id in pc.list_flatten(pq.read_table(path, columns=["doc_id"]).column(0)).to_pylist()}
