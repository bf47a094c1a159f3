"""The output-level tables the shard-files, run and accounting suites test: the manifest's promises
beside the facts.

Each promise sits next to what was found ("declared_*" / "found_*"), so a failing expectation shows
both values in the Data Docs rather than a bare False. The accounting table (the ledger, summary.json,
the kept documents, where the paths lead) holds one text per check instead: empty when the check holds,
else what differs, both values named.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas import shard
from schemas.manifest import LEDGER_DIR, SUMMARY_NAME, Manifest, ledger_file_name
from schemas.output_paths import inside_output
from schemas.reject_ledger import count_ledger
from schemas.shard_inspection import ShardFacts, sha256_of_file

FILE = "file"
LISTED = "listed_in_manifest"
PRESENT = "present"
READABLE = "readable"
SCHEMA_MATCHES = "schema_matches"
DECLARED_SHA256 = "declared_sha256"
FOUND_SHA256 = "found_sha256"
DECLARED_ROWS = "declared_rows"
FOUND_ROWS = "found_rows"
DECLARED_TOKENS = "declared_tokens"
FOUND_TOKENS = "found_tokens"

DECLARED_VOCAB_SHA256 = "declared_vocab_sha256"
FOUND_VOCAB_SHA256 = "found_vocab_sha256"
DECLARED_VOCAB_SIZE = "declared_vocab_size"
FOUND_VOCAB_SIZE = "found_vocab_size"
SPECIAL_TOKENS_MATCH_VOCAB = "special_tokens_match_vocab"
UNACCOUNTED_DOCUMENTS = "unaccounted_documents"
REJECT_RATE = "reject_rate"
SWAPPED_SHARE = "swapped_share"

PATHS_OUTSIDE = "paths_outside_output"
LEDGER_FILES = "ledger_file_problems"
LEDGER_LINES = "ledger_line_problems"
LEDGER_VS_REJECTED = "ledger_vs_rejected"
KEPT_VS_SHARDS = "kept_vs_shards"
SUMMARY_VS_OUTPUT = "summary_vs_output"
ACCOUNTING_COLUMNS = (
    PATHS_OUTSIDE, LEDGER_FILES, LEDGER_LINES, LEDGER_VS_REJECTED, KEPT_VS_SHARDS, SUMMARY_VS_OUTPUT
)

_FILE_COLUMNS = [
    FILE,
    LISTED,
    PRESENT,
    READABLE,
    SCHEMA_MATCHES,
    DECLARED_SHA256,
    FOUND_SHA256,
    DECLARED_ROWS,
    FOUND_ROWS,
    DECLARED_TOKENS,
    FOUND_TOKENS,
]

# The strings BERT vocabularies hold at the manifest's special ids.
_SPECIAL_STRINGS = {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]"}


def shard_files_table(manifest: Manifest, facts: Sequence[ShardFacts]) -> pd.DataFrame:
    """One row per shard file, in manifest order, strays (on disk, not in the manifest) last."""
    declared = {s.file: s for s in manifest.shards}
    records = []
    for fact in facts:
        promise = declared.get(fact.file)
        records.append(
            {
                FILE: fact.file,
                LISTED: fact.listed,
                PRESENT: fact.present,
                READABLE: fact.readable or not fact.present,  # absence is its own check
                SCHEMA_MATCHES: fact.schema_matches or not fact.readable,  # unread: readable fails
                DECLARED_SHA256: promise.sha256 if promise else None,
                FOUND_SHA256: fact.sha256,
                DECLARED_ROWS: promise.rows if promise else None,
                FOUND_ROWS: fact.rows,
                DECLARED_TOKENS: promise.tokens if promise else None,
                FOUND_TOKENS: fact.tokens,
            }
        )
    counts = {name: "Int64" for name in (DECLARED_ROWS, FOUND_ROWS, DECLARED_TOKENS, FOUND_TOKENS)}
    return pd.DataFrame.from_records(records, columns=_FILE_COLUMNS).astype(counts)


def labelled_pairs(facts: Sequence[ShardFacts]) -> tuple[int, int]:
    """(pairs in original order, swapped pairs) over the whole output."""
    return sum(f.sop_original for f in facts), sum(f.sop_swapped for f in facts)


def swapped_share_bounds(tolerance: float, labelled: int) -> tuple[float, float]:
    """0.5 ± tolerance, widened to three standard errors of a fair coin on small outputs.

    Pairs are swapped with p = 0.5. On 40 pairs one standard error is already 0.08, so a fixed 0.05
    would fail honest small outputs (tests, samples); 3 SE keeps false alarms near 0.3%.
    """
    allowed = max(tolerance, 1.5 / math.sqrt(labelled)) if labelled else tolerance
    return 0.5 - allowed, 0.5 + allowed


def _vocab_lines(path: Path) -> list[str] | None:
    """None when absent or not UTF-8 text: the vocab checks then fail, they do not crash."""
    try:
        return path.read_text(encoding="utf-8").splitlines() if path.is_file() else None
    except UnicodeDecodeError:
        return None


def run_table(manifest: Manifest, output_dir: Path, facts: Sequence[ShardFacts]) -> pd.DataFrame:
    """One row for the whole output: vocab, document accounting and the SOP balance."""
    vocab_path = inside_output(output_dir, manifest.vocab.file)
    vocab = _vocab_lines(vocab_path) if vocab_path is not None else None
    specials = manifest.special_tokens
    documents = manifest.documents
    _, swapped = labelled_pairs(facts)
    labelled = sum(labelled_pairs(facts))
    return pd.DataFrame(
        [
            {
                DECLARED_VOCAB_SHA256: manifest.vocab.sha256,
                FOUND_VOCAB_SHA256: sha256_of_file(vocab_path) if vocab is not None else None,
                DECLARED_VOCAB_SIZE: manifest.vocab.size,
                FOUND_VOCAB_SIZE: len(vocab) if vocab is not None else None,
                SPECIAL_TOKENS_MATCH_VOCAB: vocab is not None
                and all(
                    0 <= getattr(specials, name) < len(vocab) and vocab[getattr(specials, name)] == text
                    for name, text in _SPECIAL_STRINGS.items()
                ),
                UNACCOUNTED_DOCUMENTS: documents.read - documents.kept - documents.rejected_total,
                REJECT_RATE: documents.rejected_total / documents.read if documents.read else 0.0,
                SWAPPED_SHARE: swapped / labelled if labelled else None,
            }
        ]
    )


def documents_in(table: pa.Table) -> int:
    """The documents whose examples a shard holds, from its `example_in_doc` column alone: each kept
    document yields at least one example (pipeline/sop.py plans a row for any document with a
    sentence, and one without is ledgered `no_tokens`), and exactly one with index 0, so the count is
    exact whatever doc ids repeat. Takes the table the shard's one read already produced."""
    starts = pc.equal(pc.list_flatten(table.column(shard.EXAMPLE_IN_DOC)), 0)
    return int(pc.sum(starts).as_py() or 0)


def _listed_totals(facts: Sequence[ShardFacts], documents: Sequence[int | None]) -> dict[str, int] | None:
    """Shards, rows, tokens and documents over the shards the manifest lists; None unless every one
    of them was read whole (an absent or unreadable one fails its own check) or when none is listed."""
    listed = [(fact, count) for fact, count in zip(facts, documents) if fact.listed]
    if not listed or any(fact.tokens is None or count is None for fact, count in listed):
        return None
    return {
        "shards": len(listed),
        "rows": sum(fact.rows or 0 for fact, _ in listed),
        "tokens": sum(fact.tokens or 0 for fact, _ in listed),
        "documents": sum(count or 0 for _, count in listed),
    }


def _ledger(
    manifest: Manifest, output_dir: Path, outside: list[str]
) -> tuple[list[str], str, Counter | None]:
    """(problems with the set of ledger files, the first malformed line, lines by reason or None
    unless every ledger file the inputs name was read)."""
    expected = [ledger_file_name(index) for index in range(len(manifest.inputs))]
    problems = []
    if not manifest.inputs and manifest.documents.read:
        return ["the manifest records no inputs, so its ledger files cannot be named"], "", None
    ledger_dir = inside_output(output_dir, LEDGER_DIR)
    if ledger_dir is not None and ledger_dir.is_dir():
        on_disk = sorted(f"{LEDGER_DIR}/{entry.name}" for entry in ledger_dir.iterdir())
        problems += [f"stray {name}" for name in sorted(set(on_disk) - set(expected))]
    reasons: Counter = Counter()
    complete = True
    malformed, first = 0, ""
    for name in expected:
        path = inside_output(output_dir, name)
        if path is None or not path.is_file():
            outside.extend([name] if path is None else [])
            problems.append(f"{'no file' if path is None else 'missing'} {name}")
            complete = False
            continue
        count = count_ledger(path)
        reasons.update(count.reasons)
        malformed += count.malformed
        first = first or (f"{name} {count.first_malformed}" if count.first_malformed else "")
    lines = f"{malformed} malformed lines, the first: {first}" if malformed else ""
    return problems, lines, reasons if complete else None


def _differences(declared: dict[str, Any], found: dict[str, Any], names: tuple[str, str]) -> str:
    """"key: declared X, found Y" for each key whose found value is known and differs; JSON-typed
    equality, so `true` is not 1."""
    differ = []
    for key, value in found.items():
        if value is None:
            continue
        claimed = declared.get(key)
        if json.dumps(claimed, sort_keys=True) != json.dumps(value, sort_keys=True):
            differ.append(f"{key}: {names[0]} {json.dumps(claimed, sort_keys=True):.80}, "
                          f"{names[1]} {json.dumps(value, sort_keys=True):.80}")
    return "; ".join(differ)


def _summary(output_dir: Path, found: dict[str, Any], outside: list[str]) -> str:
    """What summary.json gets wrong about the output, or why it cannot be read."""
    path = inside_output(output_dir, SUMMARY_NAME)
    if path is None:
        outside.append(SUMMARY_NAME)
        return f"{SUMMARY_NAME} leads outside the output"
    if not path.is_file():
        return f"{SUMMARY_NAME} is missing"
    try:
        summary = json.loads(path.read_bytes())
    except RecursionError:
        return f"{SUMMARY_NAME} is nested too deeply"
    except ValueError as error:
        return f"{SUMMARY_NAME} is not JSON: {error}"
    if not isinstance(summary, dict) or not isinstance(summary.get("documents", {}), dict):
        return f"{SUMMARY_NAME} is not an object with an object `documents`"
    documents = summary.get("documents", {})
    declared = {**summary, **{f"documents.{key}": value for key, value in documents.items()}}
    if isinstance(documents.get("rejected"), dict):  # a reason counted 0 has no lines: the same as none
        rejected = documents["rejected"].items()
        declared["documents.rejected"] = {key: count for key, count in rejected if count != 0}
    return _differences(declared, found, ("summary", "output"))


def accounting_table(
    manifest: Manifest,
    output_dir: Path,
    facts: Sequence[ShardFacts],
    documents: Sequence[int | None],
    shards_outside: Sequence[str],
) -> pd.DataFrame:
    """One row: where the paths lead, the reject ledger against the manifest's rejected counts, the
    kept documents against the shards', and summary.json against all of these.

    `documents`: `documents_in` of each shard of `facts` (None where it was not read);
    `shards_outside`: shard files (listed or on disk) that lead outside the output, never read."""
    outside = list(shards_outside)
    if inside_output(output_dir, manifest.vocab.file) is None:
        outside.append(manifest.vocab.file)
    totals = _listed_totals(facts, documents)
    ledger_files, ledger_lines, reasons = _ledger(manifest, output_dir, outside)
    declared_rejected = {reason: count for reason, count in manifest.documents.rejected.items() if count}
    kept = totals["documents"] if totals else None
    found = {
        "documents.read": kept + sum(reasons.values()) if kept is not None and reasons is not None else None,
        "documents.kept": kept,
        "documents.rejected": dict(reasons) if reasons is not None else None,
        **{key: totals[key] if totals else None for key in ("rows", "tokens", "shards")},
        "stats": manifest.stats,
    }
    summary = _summary(output_dir, found, outside)
    row = {
        PATHS_OUTSIDE: "; ".join(f"{path:.200}" for path in outside),
        LEDGER_FILES: "; ".join(ledger_files),
        LEDGER_LINES: ledger_lines,
        LEDGER_VS_REJECTED: "" if reasons is None else _differences(
            {reason: declared_rejected.get(reason, 0) for reason in sorted({*declared_rejected, *reasons})},
            {reason: reasons.get(reason, 0) for reason in sorted({*declared_rejected, *reasons})},
            ("manifest", "ledger lines"),
        ),
        KEPT_VS_SHARDS: "" if kept is None or kept == manifest.documents.kept
        else f"manifest kept {manifest.documents.kept}, the shards hold {kept} documents",
        SUMMARY_VS_OUTPUT: summary,
    }
    return pd.DataFrame([row], columns=list(ACCOUNTING_COLUMNS))
