"""Every knob of `prepare`, in one typed place; the manifest records all of it for reproducibility."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from schemas.errors import UserInputError


@dataclass(frozen=True)
class CleanConfig:
    # WuDao's shortest useful records (app blurbs) run to a few dozen characters; below 20 there is
    # rarely a sentence pair worth training on.
    min_chars: int = 20
    # Longer documents are rejected rather than segmented: one 50 MB "document" is a crawl artefact and
    # would stall a worker for minutes.
    max_chars: int = 500_000
    # Share of CJK ideographs among non-space characters; WuDao's Chinese text sits far above 0.5.
    min_cjk_ratio: float = 0.3
    to_simplified: bool = True
    include_title: bool = True


@dataclass(frozen=True)
class SopConfig:
    max_seq_len: int = 512
    short_seq_prob: float = 0.1  # Megatron-LM and Google BERT default
    swap_prob: float = 0.5


@dataclass(frozen=True)
class PrepareConfig:
    clean: CleanConfig = field(default_factory=CleanConfig)
    sop: SopConfig = field(default_factory=SopConfig)
    seed: int = 1234
    segmenter: str = "jieba"
    hmm: bool = True
    input_format: str = "auto"
    text_field: str = "text"
    lowercase: bool = True  # bert-base-chinese is uncased
    # Shards are sized by input bytes so the count, and so each shard's content, does not depend on
    # the runner or its worker count.
    shard_input_bytes: int = 256 * 1024 * 1024
    num_shards: int = 0  # 0 = derive from input bytes
    batch_size: int = 64  # documents per stage call: amortises Beam's per-element cost

    def validate(self) -> None:
        if self.sop.max_seq_len < 8:
            raise UserInputError(f"max_seq_len must be at least 8 (got {self.sop.max_seq_len})")
        if self.sop.max_seq_len > 65535:
            raise UserInputError("max_seq_len must fit uint16 (<= 65535)")
        if not 0.0 <= self.sop.short_seq_prob <= 1.0 or not 0.0 <= self.sop.swap_prob <= 1.0:
            raise UserInputError("short_seq_prob and swap_prob must lie in [0, 1]")
        if self.clean.min_chars < 1 or self.clean.max_chars < self.clean.min_chars:
            raise UserInputError("need 1 <= min_chars <= max_chars")
        if self.batch_size < 1:
            raise UserInputError("batch_size must be positive")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
