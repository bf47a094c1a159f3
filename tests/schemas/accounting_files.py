"""The accounting `prepare` writes beside the shards, for outputs built by hand (`shard_fixtures`): one
input file, its reject ledger with a line per rejected document, and summary.json, all true to the
manifest already in the directory, so `validate`'s accounting suite holds on an uncorrupted output."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path

from schemas.manifest import MANIFEST_NAME, SUMMARY_NAME, InputFile, ledger_file_name, read_manifest

INPUT = "corpus/part-000.json"


def write_accounting(directory: Path) -> Path:
    """Idempotent: the same manifest always gives the same files."""
    manifest = read_manifest(directory)
    lines = [
        json.dumps({"detail": "", "doc_id": f"{reason}-{index}", "reason": reason, "source": INPUT}) + "\n"
        for reason, count in sorted(manifest.documents.rejected.items())
        for index in range(count)
    ]
    ledger = directory / ledger_file_name(0)
    ledger.parent.mkdir(exist_ok=True)
    ledger.write_text("".join(lines), encoding="utf-8")
    manifest = replace(manifest, inputs=[InputFile(INPUT, 0, hashlib.sha256(b"").hexdigest())])
    (directory / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    summary = {
        "documents": asdict(manifest.documents),
        "rows": manifest.total_rows,
        "tokens": manifest.total_tokens,
        "shards": len(manifest.shards),
        "stats": manifest.stats,
    }
    (directory / SUMMARY_NAME).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return directory
