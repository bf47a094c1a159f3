"""Document-level quality filters: keep a cleaned text or name the first rule it fails.

The rules are C4's and Gopher's (MassiveText) page rules restated over characters, since Chinese has no
spaces to count words by; the thresholds and their sources sit next to each field of CleanConfig.
All statistics of a batch come from a handful of numpy passes over the batch's concatenated code
points (one class lookup, a reduceat per figure, one sort of the duplicate-rule n-grams, and a
bincount that spares all but a few texts the top-n-gram rule's sort), never from per-character Python.
Read `quality_reasons` first: its list of (reason, condition) pairs is the meaning, each threshold a
field of CleanConfig. tests/pipeline/test_clean_quality.py pins the batch machinery: batching changes no
decision (`test_batching_does_not_change_any_decision`), and the bucket bound never undercounts the
exact top n-gram (`test_the_bucket_bound_never_undercounts_the_top_ngram`).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from pipeline.arrays import code_points
from pipeline.config import CleanConfig

OTHER, SPACE, NEWLINE, CJK, DIGIT, LETTER, SYMBOL, END, PUNCT = range(9)
_CLASSES = 16
# Sentence ends of Chinese and of WuDao's academic abstracts, which often end sentences with ASCII ".".
_SENTENCE_END = "。！？!?；;….．"
# Gopher's bullet test, widened to the list markers of Chinese pages (一、 (1) ① ...).
_BULLET = re.compile(r"\s*(?:[-*•·●○◆◇■□▪►▶★☆√✓>]|\d{1,3}[.、)）]|[(（]\d{1,3}[)）]|[一二三四五六七八九十]{1,3}、|[①-⑳])")
_CJK_RANGES = [(0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00), (0x20000, 0x323B0)]
_MIX = np.uint32(0x9E3779B1)  # odd: the top bits of h * _MIX depend on every bit of h
_POWERS = [np.uint32(pow(1_000_003, k, 2**32)) for k in range(64)]


@lru_cache(maxsize=1)
def char_classes() -> np.ndarray:
    """Class of every code point, as one uint8 lookup table (1.1 MB, built once per process)."""
    table = np.full(0x110000, OTHER, dtype=np.uint8)
    prefix = {"N": DIGIT, "L": LETTER, "S": SYMBOL, "P": PUNCT}
    for code in range(0x30000):
        kind = unicodedata.category(chr(code))
        if kind == "Nd":
            table[code] = DIGIT
        elif kind in ("Sm", "Sc"):
            continue  # + × ± ¥ belong to formulas and prices, not to the decoration Gopher's rule is after
        elif kind[0] in prefix and kind[0] != "N":
            table[code] = prefix[kind[0]]
    for lo, hi in _CJK_RANGES:
        table[lo:hi] = CJK
    for ch in "#*|_@&\\":  # the markup characters Gopher's symbol rule is after, though Unicode calls them P
        table[ord(ch)] = SYMBOL
    for ch in _SENTENCE_END:
        table[ord(ch)] = END
    table[ord(" ")] = SPACE
    table[ord("\n")] = NEWLINE
    return table


class _JoinedTexts:
    """A batch of texts as one array of code points (and one of character classes), with where each
    text sits: every per-text figure is a reduceat over the texts' slices, not a Python loop.

    Arrays are 1 or 4 bytes a character: on short web texts, allocating and faulting in 8-byte
    temporaries costs more than the arithmetic.
    """

    def __init__(self, texts: Sequence[str]) -> None:
        self.size = len(texts)
        self.lengths = np.fromiter(map(len, texts), dtype=np.int64, count=self.size)
        self.ends = np.cumsum(self.lengths)
        self.starts = self.ends - self.lengths
        self.codes = code_points("".join(texts))
        self.classes = np.take(char_classes(), self.codes)
        # The key of an n-gram: the text's index in the top bits, a hash of the n-gram below.
        self._doc_bits = max(1, int(self.size - 1).bit_length())
        self._doc_high = np.repeat(np.arange(self.size, dtype=np.uint32) << np.uint32(32 - self._doc_bits),
                                   self.lengths)
        self._hash_cache: dict[int, np.ndarray] = {}

    def per_text(self, flags: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Count of true `flags` in each text's slice, the slices laid end to end with these lengths."""
        sums = np.zeros(self.size, dtype=np.int64)
        filled = lengths > 0
        if filled.any():  # summed as bytes into int32: cheaper than bools into int64
            starts = (np.cumsum(lengths) - lengths)[filled]
            sums[filled] = np.add.reduceat(flags.view(np.uint8), starts, dtype=np.int32)
        return sums

    def class_count(self, kind: int) -> np.ndarray:
        return self.per_text(self.classes == kind, self.lengths)

    def sentence_pieces(self) -> np.ndarray:
        """Runs of text between sentence ends or newlines, per document."""
        boundary = (self.classes == END) | (self.classes == NEWLINE)
        after_boundary = np.empty_like(boundary)
        after_boundary[1:] = boundary[:-1]
        after_boundary[self.starts[self.lengths > 0]] = True
        return self.per_text(~boundary & after_boundary, self.lengths)

    def ngram_counts(self, n: int) -> np.ndarray:
        return np.maximum(self.lengths - (n - 1), 0)

    def ngram_keys(self, n: int, docs: np.ndarray | None = None) -> np.ndarray:
        """Sorted 32-bit keys of every n-gram that lies inside one text (of the texts `docs` marks, all
        by default), grouped by text (each text holds ngram_counts(n) of them). 32 bits sort faster
        than 64, and a within-text collision (1 in 2**22 per pair at batch 1024) only nudges a share."""
        keys = self._all_keys(n)
        if keys.size == 0:
            return keys
        # Drop the n-grams that run past the end of their text (the last n-1 starts of each), and those
        # of the texts not asked about.
        inside = np.ones(keys.size, dtype=bool) if docs is None else np.repeat(docs, self.lengths)[: keys.size]
        back = np.arange(1, n)
        tails = (self.ends[:, None] - back)[back <= self.lengths[:, None]]
        inside[tails[tails < keys.size]] = False
        keys = keys[inside]
        keys.sort()
        return keys

    def _all_keys(self, n: int) -> np.ndarray:
        """The key of the n-gram at every start of the concatenation, those that run past their text's
        end included."""
        hashes = self._hashes(n)
        if hashes.size == 0:
            return np.empty(0, dtype=np.uint32)
        keys = hashes * _MIX
        keys >>= np.uint32(self._doc_bits)
        keys |= self._doc_high[: keys.size]
        return keys

    def _hashes(self, n: int) -> np.ndarray:
        """Polynomial hashes (mod 2**32) of all n-grams of the concatenation, built by doubling: a few
        passes over the batch for any n, not n of them."""
        if n not in self._hash_cache:
            if n == 1:
                self._hash_cache[1] = self.codes
            elif self.codes.size < n:
                self._hash_cache[n] = np.empty(0, dtype=np.uint32)
            else:
                half = n // 2
                left, right = self._hashes(half), self._hashes(n - half)
                count = self.codes.size - n + 1
                hashes = left[:count] * _POWERS[n - half]
                hashes += right[half: half + count]
                self._hash_cache[n] = hashes
        return self._hash_cache[n]

    def _repeats(self, n: int, docs: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Runs of equal keys longer than one (the n-grams a text repeats), found among the few
        positions where a key equals the next one rather than over every key: (text, length) of each
        run, for the texts `docs` marks (all by default)."""
        keys = self.ngram_keys(n, docs)
        equal = np.flatnonzero(keys[1:] == keys[:-1])  # never true across texts: top bits differ
        if equal.size == 0:
            return equal, equal
        first = np.concatenate(([True], equal[1:] != equal[:-1] + 1))
        run_starts = equal[first]
        lengths = np.diff(np.flatnonzero(first), append=equal.size) + 1
        docs = (keys[run_starts] >> np.uint32(32 - self._doc_bits)).astype(np.int64)
        return docs, lengths

    def duplicate_ngrams(self, n: int, docs: np.ndarray | None = None) -> np.ndarray:
        """Per document, the n-gram occurrences whose n-gram occurs more than once in it (0 for the
        texts `docs` leaves out)."""
        found, lengths = self._repeats(n, docs)
        return np.bincount(found, weights=lengths, minlength=self.size).astype(np.int64)

    def top_ngram(self, n: int, docs: np.ndarray | None = None) -> np.ndarray:
        """Per document, how often its most frequent n-gram occurs (at most 1 for the texts `docs`
        leaves out)."""
        top = np.minimum(self.ngram_counts(n), 1)
        found, lengths = self._repeats(n, docs)
        np.maximum.at(top, found, lengths)
        return top

    def top_ngram_bound(self, n: int) -> np.ndarray:
        """Per document, at least top_ngram(n): the fullest of the 256 buckets (the top bits of the key)
        its n-grams fall in, since no key outnumbers its bucket, and the n-grams that run past the text's
        end only add to them. One bincount rather than a sort; on WuDao it clears all but a few texts of
        the top-n-gram rule."""
        keys = self._all_keys(n)
        shift = np.uint32(max(24 - self._doc_bits, 0))
        buckets = int(np.uint32(0xFFFFFFFF) >> np.uint32(self._doc_bits) >> shift) + 1
        counts = np.bincount(keys >> shift, minlength=self.size * buckets)[: self.size * buckets]
        return counts.reshape(self.size, buckets).max(axis=1)


def _line_reason(text: str, config: CleanConfig) -> str | None:
    """Gopher's list-page rules: nearly all lines bulleted, or many lines cut off with an ellipsis."""
    lines = [line for line in text.split("\n") if line]
    if len(lines) < config.list_min_lines:
        return None
    if sum(1 for line in lines if _BULLET.match(line)) > config.max_bullet_line_ratio * len(lines):
        return "list_page"
    if sum(1 for line in lines if line.endswith(("...", "…"))) > config.max_ellipsis_line_ratio * len(lines):
        return "ellipsis_lines"
    return None


def quality_reasons(texts: Sequence[str], config: CleanConfig) -> list[str | None]:
    """For each text, the name of the first filter it fails, or None to keep it. Pass "" for a text
    already rejected upstream: it costs nothing here and its slot is ignored by the caller."""
    if not texts:
        return []
    batch = _JoinedTexts(texts)
    lengths = batch.lengths
    visible = lengths - batch.class_count(SPACE) - batch.class_count(NEWLINE)
    safe_visible = np.maximum(visible, 1)
    cjk = batch.class_count(CJK) / safe_visible
    symbols = batch.class_count(SYMBOL) / safe_visible
    digits = batch.class_count(DIGIT) / safe_visible
    sentence_chars = visible / np.maximum(batch.sentence_pieces(), 1)
    # In the order the filters apply: a text is named after the first one it fails.
    failed = [
        ("empty", (lengths == 0) | (visible == 0)),
        ("too_short", lengths < config.min_chars),
        ("too_long", lengths > config.max_chars),
        ("low_cjk_ratio", cjk < config.min_cjk_ratio),
        ("high_symbol_ratio", symbols > config.max_symbol_ratio),
        ("high_digit_ratio", digits > config.max_digit_ratio),
        ("short_sentences", sentence_chars < config.min_avg_sentence_chars),
        ("long_sentences", sentence_chars > config.max_avg_sentence_chars),
    ]
    # The n-gram rules (a sort of every n-gram each) only for the texts whose name they can still decide.
    open_texts = (lengths >= config.repetition_min_chars) & ~np.logical_or.reduce([fails for _, fails in failed])
    top_n = config.top_ngram_chars

    def top_share(top: np.ndarray) -> np.ndarray:
        return top * top_n / np.maximum(lengths, 1)

    # Division by the same positive length keeps order, so a text whose bound passes passes.
    may_repeat = open_texts & (top_share(batch.top_ngram_bound(top_n)) > config.max_top_ngram_share)
    top_fails = may_repeat & (top_share(batch.top_ngram(top_n, may_repeat)) > config.max_top_ngram_share)
    failed.append(("repeated_top_ngram", top_fails))
    dup_n, open_texts = config.duplicate_ngram_chars, open_texts & ~top_fails
    dup_share = batch.duplicate_ngrams(dup_n, open_texts) / np.maximum(batch.ngram_counts(dup_n), 1)
    failed.append(("repeated_ngrams", open_texts & (dup_share > config.max_duplicate_ngram_share)))
    first = np.select([fails for _, fails in failed], np.arange(1, len(failed) + 1), 0).tolist()
    names = [None] + [name for name, _ in failed]
    return [names[f] if f or "\n" not in text else _line_reason(text, config) for f, text in zip(first, texts)]
