"""pkuseg's default model (shipped in the package, no download): the accuracy mode.

pkuseg drops whitespace (it splits its input on it); the segmenter contract needs words that cover
the text exactly, so each whitespace run comes back as a word of its own. Without those, the words
are exactly `pkuseg.pkuseg(user_dict=...).cut(text)`.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from pipeline.segment_dictionary import UserDictEntry

_SPACE_SPLIT = re.compile(r"(\s+)")


class PkusegSegmenter:
    name = "pkuseg"

    def __init__(self, user_words: Iterable[str] = (), user_dict: Sequence[UserDictEntry] = ()) -> None:
        import pkuseg

        # pkuseg keeps its user words whole unconditionally (a longest-match pre-pass); frequencies
        # mean nothing to it. "default" is pkuseg's own spelling of "no user words".
        words = sorted({*user_words, *(entry.word for entry in user_dict)})
        self._pkuseg = pkuseg.pkuseg(user_dict=words or "default")

    def cut(self, text: str) -> list[str]:
        words: list[str] = []
        cut = self._pkuseg.cut
        for piece in _SPACE_SPLIT.split(text):
            if not piece:
                continue
            if piece.isspace():
                words.append(piece)
            else:
                words.extend(cut(piece))
        return words
