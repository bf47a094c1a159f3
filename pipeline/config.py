"""Every knob of `prepare`, in one typed place; the manifest records all of it for reproducibility."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, is_dataclass
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
    # URLs, e-mail addresses and phone numbers: "replace" (by <url>, <email>, <phone>), "drop" or "keep".
    pii: str = "replace"
    # Extra boilerplate-line patterns (from --boilerplate-rules), on top of pipeline/rules/boilerplate.txt.
    boilerplate_rules: tuple[str, ...] = ()
    # Boilerplate is short: a longer line is text that merely mentions "点击" or "版权".
    boilerplate_max_line_chars: int = 100
    remove_repeated_lines: bool = True
    # Gopher (Rae et al. 2021, MassiveText): drop pages whose repeated lines exceed 30% of lines or 20%
    # of characters; fewer than 3 lines is too little to judge.
    max_duplicate_line_ratio: float = 0.3
    max_duplicate_line_char_ratio: float = 0.2
    duplicate_lines_min_lines: int = 3
    # Gopher drops pages with symbol/word > 0.1 (# and ...); here per visible character, counting Unicode
    # So/Sk (★◆=...) plus #*|_@&\, not math or currency signs. WuDao sample: 99.9th percentile 0.08.
    max_symbol_ratio: float = 0.1
    # Tables of numbers, price lists, phone books. The WuDao sample's 99.9th percentile is 0.25.
    max_digit_ratio: float = 0.3
    # Characters per sentence (between 。！？；… . or newlines): menus and tag clouds sit below 4,
    # keyword spam without any sentence end above 400; the WuDao sample's median is 47, its 99.9th
    # percentile 425 (app blurbs whose punctuation the crawl lost).
    min_avg_sentence_chars: float = 4.0
    max_avg_sentence_chars: float = 400.0
    # Gopher's top-n-gram rule (share of characters in the most frequent word 2-gram > 0.20), over
    # character 3-grams, about one Chinese word-pair; raised to 0.30 because Chinese terms repeat inside
    # legitimate enumerations (WuDao sample: 99.9th percentile 0.26, an abstract listing 13 "…艾美耳球虫").
    top_ngram_chars: int = 3
    max_top_ngram_share: float = 0.3
    # Gopher's duplicate-n-gram rule (characters in repeated word 5..10-grams > 0.15..0.10), over
    # character 10-grams, about five words, as the share of 10-gram occurrences that repeat. 0.5: the
    # sample's 99.5th percentile is 0.47 (app blurbs that restate their feature list once).
    duplicate_ngram_chars: int = 10
    max_duplicate_ngram_share: float = 0.5
    repetition_min_chars: int = 50  # n-gram statistics of shorter texts are noise
    # Gopher: > 90% of lines starting with a bullet, or > 30% ending with an ellipsis.
    list_min_lines: int = 3
    max_bullet_line_ratio: float = 0.9
    max_ellipsis_line_ratio: float = 0.3


@dataclass(frozen=True)
class DedupConfig:
    """Near-duplicate detection (exact duplicates always go). Defaults target Jaccard 0.8 over
    5-character shingles; the README's "Deduplication" section gives the reasoning and measured figures."""

    near: bool = True
    # 5 characters: about 3 Chinese words, the span of the 5-word shingles of Gopher/RefinedWeb; and
    # Data-Juicer's Chinese MinHash default. Shorter shingles make unrelated texts on one topic similar.
    shingle_chars: int = 5
    num_perm: int = 128
    # 16 bands x 8 rows: a pair at Jaccard 0.8 shares a band with p = 1-(1-0.8**8)**16 = 0.95, at 0.5 with
    # p = 0.06; candidates are then verified on the full signature, so the S-curve may lean to recall.
    bands: int = 16
    threshold: float = 0.8  # estimated Jaccard a candidate pair must reach to be linked
    hash_seed: int = 1  # fixed apart from --seed: changing the SOP seed must not change what is deduplicated
    # Buckets beyond this size (templated pages) compare members with the bucket's smallest only.
    max_pairwise: int = 1000


@dataclass(frozen=True)
class SopConfig:
    max_seq_len: int = 512
    short_seq_prob: float = 0.1  # Megatron-LM and Google BERT default
    swap_prob: float = 0.5


@dataclass(frozen=True)
class PrepareConfig:
    clean: CleanConfig = field(default_factory=CleanConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    report: bool = True  # report.html next to the manifest
    sop: SopConfig = field(default_factory=SopConfig)
    seed: int = 1234
    segmenter: str = "jieba"  # pipeline.segment.BACKENDS
    hmm: bool = True
    user_dict: str | None = None  # jieba-format user dictionary (`word [freq] [tag]`), read on each worker
    input_format: str = "auto"
    text_field: str = "text"
    lowercase: bool = True  # bert-base-chinese is uncased
    # Rows per shard before the next part of the same input file starts (at a batch boundary): 2**18
    # rows of ~230 tokens are ~120 MB of Parquet, a few hundred MB of WuDao input, what a trainer's
    # loader holds a handful of at once.
    shard_rows: int = 2**18
    # Pack several SOP examples into one row of at most max_seq_len tokens (schemas/shard.py, issue 19):
    # one example per row leaves about half of every micro-batch to padding on WuDao-like text.
    pack: bool = True
    # Keep each rejected document's text in the ledger, for audits of what the filters drop. Off by
    # default: at WuDao scale the rejected text is tens of GB shuffled to the ledger writers.
    ledger_text: bool = False
    # Decompressed bytes read from one input file: past it, the rest of the file is one
    # `input_too_large` ledger line (a gzip bomb). It also bounds the largest record a worker may hold.
    max_input_bytes: int = 4 * 2**30
    batch_size: int = 512  # documents per stage call: amortises Beam's per-element cost and numpy's per-call cost

    def validate(self) -> None:
        """Every setting checked before a worker starts: a NaN threshold compares false with everything
        (a filter silently off), a negative seed crashes the SOP stage minutes into a run."""
        _check_numbers(self)
        if self.sop.max_seq_len < 8:
            raise UserInputError(f"max_seq_len must be at least 8 (got {self.sop.max_seq_len})")
        if self.sop.max_seq_len > 65535:
            raise UserInputError("max_seq_len must fit uint16 (<= 65535)")
        if not 0.0 <= self.sop.short_seq_prob <= 1.0 or not 0.0 <= self.sop.swap_prob <= 1.0:
            raise UserInputError("short_seq_prob and swap_prob must lie in [0, 1]")
        if self.seed < 0:
            raise UserInputError(f"seed must be a non-negative integer (got {self.seed})")
        if self.clean.min_chars < 1 or self.clean.max_chars < self.clean.min_chars:
            raise UserInputError("need 1 <= min_chars <= max_chars")
        if self.clean.pii not in ("replace", "drop", "keep"):
            raise UserInputError(f"pii must be replace, drop or keep (got {self.clean.pii!r})")
        dedup = self.dedup
        if dedup.shingle_chars < 1 or dedup.bands < 1 or dedup.num_perm < dedup.bands:
            raise UserInputError("need shingle_chars >= 1 and 1 <= bands <= num_perm")
        if not 0.0 < dedup.threshold <= 1.0:
            raise UserInputError(f"dedup threshold must lie in (0, 1] (got {dedup.threshold})")
        if self.batch_size < 1:
            raise UserInputError("batch_size must be positive")
        if self.shard_rows < 1:
            raise UserInputError(f"shard_rows must be positive (got {self.shard_rows})")
        if self.max_input_bytes < 1:
            raise UserInputError(f"max_input_bytes must be positive (got {self.max_input_bytes})")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_numbers(config: Any, prefix: str = "") -> None:
    """Floats finite, and every share (a `*_ratio`, `*_share` or `*_prob` setting) in [0, 1]."""
    for item in fields(config):
        value, name = getattr(config, item.name), f"{prefix}{item.name}"
        if is_dataclass(value):
            _check_numbers(value, f"{name}.")
        elif isinstance(value, float) and not math.isfinite(value):
            raise UserInputError(f"{name} must be a finite number (got {value})")
        elif isinstance(value, float) and item.name.endswith(("_ratio", "_share", "_prob")) and not 0.0 <= value <= 1.0:
            raise UserInputError(f"{name} must lie in [0, 1] (got {value})")
