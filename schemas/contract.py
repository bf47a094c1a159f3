"""The numbers a shard row is checked against, taken from one output's manifest.

The shard schema fixes the column types; these values (vocab size, special ids, entity table) vary per
output, so the row checks and the expectation suite are parameterised by them rather than hard-coded.
"""
from __future__ import annotations

from dataclasses import dataclass

from schemas.manifest import Manifest

# How far a whole output may stray before validation fails; both are per-run options of `validate`.
# WuDao cleaning plus dedup typically drops a fifth to a third of documents; half means a broken run.
DEFAULT_MAX_REJECT_RATE = 0.5
# Distance of the swapped share of SOP pairs from the coin's 0.5 (widened on small outputs).
DEFAULT_SOP_TOLERANCE = 0.05


@dataclass(frozen=True)
class ShardContract:
    vocab_size: int
    max_seq_len: int
    entity_type_count: int
    pad_id: int
    cls_id: int
    sep_id: int
    mask_id: int

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> "ShardContract":
        special = manifest.special_tokens
        return cls(
            vocab_size=manifest.vocab.size,
            max_seq_len=manifest.max_seq_len,
            entity_type_count=len(manifest.entity_types),
            pad_id=special.pad,
            cls_id=special.cls,
            sep_id=special.sep,
            mask_id=special.mask,
        )
