"""Word segmentation behind one small interface, so the WWM units can come from jieba or pkuseg.

Segmenters are heavy (dictionaries, models): build one per worker with `create_segmenter`, never
per element.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from pipeline.segment_dictionary import UserDictEntry, read_user_dict  # noqa: F401 (re-exported)
from schemas.errors import UserInputError


class Segmenter(Protocol):
    name: str

    def cut(self, text: str) -> list[str]:
        """Words whose concatenation is exactly `text`."""
        ...


BACKENDS = ("jieba", "jieba-reference", "pkuseg")


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
