"""Word-level precision, recall and F1 against a SIGHAN-2005 gold file, as the bakeoff's scorer counts.

A word is right when both its ends match a gold word's; whitespace is never a word (the gold files
separate words with it, and segmenters hand it back as words of their own).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SegmentationScore:
    gold_words: int
    predicted_words: int
    correct_words: int

    @property
    def precision(self) -> float:
        return self.correct_words / self.predicted_words if self.predicted_words else 0.0

    @property
    def recall(self) -> float:
        return self.correct_words / self.gold_words if self.gold_words else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def word_spans(words: Iterable[str]) -> set[tuple[int, int]]:
    """(start, end) of each non-space word, counted over the text with its whitespace removed."""
    spans = set()
    position = 0
    for word in words:
        word = "".join(word.split())
        if word:
            spans.add((position, position + len(word)))
            position += len(word)
    return spans


def score(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> SegmentationScore:
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold lines but {len(predicted)} predicted")
    gold_total = predicted_total = correct = 0
    for gold_words, predicted_words in zip(gold, predicted):
        gold_spans, predicted_spans = word_spans(gold_words), word_spans(predicted_words)
        if max(gold_spans, default=(0, 0))[1] != max(predicted_spans, default=(0, 0))[1]:
            raise ValueError(f"segmentation does not cover its gold line: {''.join(gold_words)!r}")
        gold_total += len(gold_spans)
        predicted_total += len(predicted_spans)
        correct += len(gold_spans & predicted_spans)
    return SegmentationScore(gold_total, predicted_total, correct)


def parse_gold(text: str) -> list[list[str]]:
    """One sentence per line, words separated by whitespace; blank lines stay (as empty sentences)
    so line numbers keep matching the raw test file."""
    return [line.split() for line in text.splitlines()]


def evaluate(gold: list[list[str]], cut: Callable[[str], list[str]]) -> SegmentationScore:
    return score(gold, [cut("".join(words)) if words else [] for words in gold])
