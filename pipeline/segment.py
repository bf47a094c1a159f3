"""Word segmentation behind one small interface, so the WWM units can come from jieba or pkuseg.

Segmenters are heavy (dictionaries, models): build one per worker with `create_segmenter`, never
per element.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol

import numpy as np

from schemas.errors import UserInputError


class Segmenter(Protocol):
    name: str

    def cut(self, text: str) -> list[str]:
        """Words whose concatenation is exactly `text`."""
        ...


class JiebaSegmenter:
    name = "jieba"

    def __init__(self, hmm: bool = True, user_words: Iterable[str] = ()) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)  # its INFO lines would flood every worker's log
        self._tokenizer = jieba.Tokenizer()
        self._tokenizer.initialize()
        for word in user_words:
            self._tokenizer.add_word(word)
        self.hmm = hmm

    def cut(self, text: str) -> list[str]:
        return self._tokenizer.lcut(text, HMM=self.hmm)


def create_segmenter(name: str, hmm: bool = True, user_words: Iterable[str] = ()) -> Segmenter:
    if name == "jieba":
        return JiebaSegmenter(hmm=hmm, user_words=user_words)
    raise UserInputError(f"unknown segmenter {name!r}; choose from: jieba")


def word_start_offsets(words: list[str], text_length: int) -> np.ndarray:
    """Character offsets where words begin; a segmenter that loses characters is a bug, not data."""
    lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])) if len(words) else np.zeros(0, np.int64)
    if int(lengths.sum()) != text_length:
        raise RuntimeError("segmenter output does not cover its input exactly")
    return starts
