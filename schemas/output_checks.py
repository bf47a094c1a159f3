"""The output-level tables the shard-files and run suites test: the manifest's promises beside the facts.

Each promise sits next to what was found ("declared_*" / "found_*"), so a failing expectation shows
both values in the Data Docs rather than a bare False.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from schemas.manifest import Manifest
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


def run_table(manifest: Manifest, output_dir: Path, facts: Sequence[ShardFacts]) -> pd.DataFrame:
    """One row for the whole output: vocab, document accounting and the SOP balance."""
    vocab_path = output_dir / manifest.vocab.file
    vocab = vocab_path.read_text(encoding="utf-8").splitlines() if vocab_path.is_file() else None
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
