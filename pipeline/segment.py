"""Word segmentation behind one small interface, so the WWM units can come from jieba or pkuseg.

Segmenters are heavy (dictionaries, models): build one per worker with `create_segmenter`, never
per element.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from pipeline.segment_dictionary import UserDictEntry, read_user_dict  # noqa: F401 (re-exported)
from schemas.errors import UserInputError


class Segmenter(Protocol):
    name: str

    def cut(self, text: str) -> list[str]:
        """Words whose concatenation is exactly `text`."""
        ...


class BlockSegmenter(Segmenter, Protocol):
    """The backends named in `BLOCK_BACKENDS`."""

    def cut_lengths(self, text: str) -> np.ndarray:
        """The lengths of `cut(text)`'s words (int64), for a text of many sentences."""
        ...


@runtime_checkable
class ManySegmenter(Segmenter, Protocol):
    """The backends that are not block segmenters get a batch's sentences in one call when they have
    this method; a segmenter with `cut` alone is called once per sentence."""

    def cut_many(self, texts: Sequence[str]) -> list[list[str]]:
        """`[cut(text) for text in texts]`, at a fraction of the cost."""
        ...


BACKENDS = ("jieba", "jieba-reference", "pkuseg")

# jieba splits its input into blocks of Han and `[a-zA-Z0-9+#&._%-]` characters, cuts each block alone
# and makes every other character a word of its own (jieba's `re_han_default`; the fast backend's
# repairs keep that rule, see pipeline/segment_jieba.py). So two texts that meet where one side is not
# a block character are cut together exactly as apart: these backends may cut a run of sentences in
# one call (`BlockSegmenter.cut_lengths`). The Han ranges here are a superset of jieba's, which only
# ever keeps texts apart.
BLOCK_BACKENDS = frozenset({"jieba", "jieba-reference"})
_BLOCK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FA1F))
_BLOCK_ASCII = np.zeros(128, dtype=bool)
_BLOCK_ASCII[[ord(c) for c in "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+#&._%-"]] = True


def is_block_char(codes: np.ndarray) -> np.ndarray:
    """Per code point: may jieba put it in a block (a word of several characters)?"""
    block = _BLOCK_ASCII[np.minimum(codes, 127)] & (codes < 128)
    for low, high in _BLOCK_RANGES:
        block |= (codes >= low) & (codes <= high)
    return block


def create_segmenter(
    name: str,
    hmm: bool = True,
    user_words: Iterable[str] = (),
    user_dict: Sequence[UserDictEntry] = (),
) -> Segmenter:
    """`user_words` (entity lexicon surfaces) are kept whole; `user_dict` holds a user's own terms
    (see `read_user_dict`). `hmm` is jieba's switch and means nothing to pkuseg."""
    if name == "jieba":
        from pipeline.segment_jieba import FastJiebaSegmenter

        return FastJiebaSegmenter(hmm, user_words, user_dict)
    if name == "jieba-reference":
        from pipeline.segment_jieba import JiebaReferenceSegmenter

        return JiebaReferenceSegmenter(hmm, user_words, user_dict)
    if name == "pkuseg":
        from pipeline.segment_pkuseg import PkusegSegmenter

        return PkusegSegmenter(user_words, user_dict)
    raise UserInputError(f"unknown segmenter {name!r}; choose from: {', '.join(BACKENDS)}")
