"""Document-level quality filters: keep a cleaned text or name the first rule it fails.

The rules are C4's and Gopher's (MassiveText) page rules restated over characters, since Chinese has no
spaces to count words by; the thresholds and their sources sit next to each field of CleanConfig.
All statistics of a batch come from a handful of numpy passes over the batch's concatenated code
points (one class lookup, one bincount, one sort per n-gram size), never from per-character Python.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

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


class _Batch:
    """The concatenated code points of a batch of texts and where each text sits."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.size = len(texts)
        self.lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        self.starts = np.concatenate(([0], np.cumsum(self.lengths)[:-1])).astype(np.int64)
        self.codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
        self.doc = np.repeat(np.arange(self.size, dtype=np.int64), self.lengths)
        self.classes = char_classes()[self.codes]
        # Characters from each position to the end of its text: an n-gram fits where this is >= n.
        self._remaining = np.repeat(self.starts + self.lengths, self.lengths) - np.arange(self.codes.size)
        self._hash_cache: dict[int, np.ndarray] = {}
        self._doc_shift = np.uint32(31)

    def class_counts(self) -> np.ndarray:
        flat = np.bincount(self.doc * _CLASSES + self.classes, minlength=self.size * _CLASSES)
        return flat.reshape(self.size, _CLASSES)

    def sentence_pieces(self) -> np.ndarray:
        """Runs of text between sentence ends or newlines, per document."""
        boundary = (self.classes == END) | (self.classes == NEWLINE)
        after_boundary = np.empty_like(boundary)
        after_boundary[1:] = boundary[:-1]
        after_boundary[self.starts[self.lengths > 0]] = True
        return np.bincount(self.doc[~boundary & after_boundary], minlength=self.size)

    def ngram_keys(self, n: int) -> np.ndarray:
        """Sorted 32-bit keys of every n-gram that lies inside one text: the text's index in the top
        bits, a hash of the n-gram below. 32 bits sort twice as fast as 64, and a within-text collision
        (1 in 2**22 per pair at batch 1024) only nudges a share."""
        hashes = self._hashes(n)
        if hashes.size == 0:
            return np.empty(0, dtype=np.uint32)
        inside = self._remaining[: hashes.size] >= n
        doc_bits = max(1, int(self.size - 1).bit_length())
        keys = (self.doc[: hashes.size][inside].astype(np.uint32) << np.uint32(32 - doc_bits)) | (
            (hashes[inside] * _MIX) >> np.uint32(doc_bits))
        keys.sort()
        self._doc_shift = np.uint32(32 - doc_bits)
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
                self._hash_cache[n] = left[:count] * _POWERS[n - half] + right[half: half + count]
        return self._hash_cache[n]

    def docs_of(self, keys: np.ndarray) -> np.ndarray:
        return (keys >> self._doc_shift).astype(np.int64)

    def ngram_counts(self, keys: np.ndarray) -> np.ndarray:
        return np.bincount(self.docs_of(keys), minlength=self.size)

    def duplicate_ngrams(self, keys: np.ndarray) -> np.ndarray:
        """Per document, the n-gram occurrences whose n-gram occurs more than once in it."""
        if keys.size < 2:
            return np.zeros(self.size, dtype=np.int64)
        same = keys[1:] == keys[:-1]
        duplicate = np.zeros(keys.size, dtype=bool)
        duplicate[1:] |= same
        duplicate[:-1] |= same
        return np.bincount(self.docs_of(keys[duplicate]), minlength=self.size)

    def top_ngram(self, keys: np.ndarray) -> np.ndarray:
        """Per document, how often its most frequent n-gram occurs."""
        top = np.zeros(self.size, dtype=np.int64)
        if keys.size:
            starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
            runs = np.diff(np.append(starts, keys.size))
            np.maximum.at(top, self.docs_of(keys[starts]), runs)
        return top


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
    batch = _Batch(texts)
    counts = batch.class_counts()
    visible = counts.sum(axis=1) - counts[:, SPACE] - counts[:, NEWLINE]
    safe_visible = np.maximum(visible, 1)
    cjk = counts[:, CJK] / safe_visible
    symbols = counts[:, SYMBOL] / safe_visible
    digits = counts[:, DIGIT] / safe_visible
    sentence_chars = visible / np.maximum(batch.sentence_pieces(), 1)
    top_keys = batch.ngram_keys(config.top_ngram_chars)
    top_share = batch.top_ngram(top_keys) * config.top_ngram_chars / np.maximum(batch.lengths, 1)
    dup_keys = batch.ngram_keys(config.duplicate_ngram_chars)
    dup_share = batch.duplicate_ngrams(dup_keys) / np.maximum(batch.ngram_counts(dup_keys), 1)
    repetition_checked = batch.lengths >= config.repetition_min_chars

    reasons: list[str | None] = []
    for i, text in enumerate(texts):
        n = len(text)
        if not text or not visible[i]:
            reasons.append("empty")
        elif n < config.min_chars:
            reasons.append("too_short")
        elif n > config.max_chars:
            reasons.append("too_long")
        elif cjk[i] < config.min_cjk_ratio:
            reasons.append("low_cjk_ratio")
        elif symbols[i] > config.max_symbol_ratio:
            reasons.append("high_symbol_ratio")
        elif digits[i] > config.max_digit_ratio:
            reasons.append("high_digit_ratio")
        elif sentence_chars[i] < config.min_avg_sentence_chars:
            reasons.append("short_sentences")
        elif sentence_chars[i] > config.max_avg_sentence_chars:
            reasons.append("long_sentences")
        elif repetition_checked[i] and top_share[i] > config.max_top_ngram_share:
            reasons.append("repeated_top_ngram")
        elif repetition_checked[i] and dup_share[i] > config.max_duplicate_ngram_share:
            reasons.append("repeated_ngrams")
        else:
            reasons.append(_line_reason(text, config) if "\n" in text else None)
    return reasons
