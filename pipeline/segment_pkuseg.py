"""pkuseg's default model (shipped in the package, no download): the accuracy mode.

pkuseg drops whitespace (it splits its input on it); the segmenter contract needs words that cover
the text exactly, so each whitespace run comes back as a word of its own. Without those, the words
are exactly `pkuseg.pkuseg(user_dict=...).cut(text)` (the simple twin), computed by
`pipeline.pkuseg_inference` on pkuseg's own weights, fastest through `cut_many`, which runs the model
once over many texts and is what `prepare` calls (pipeline/annotate.py); figures in bench/README.md
("Segmentation").
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from pipeline.pkuseg_inference import PkusegInference
from pipeline.segment_dictionary import UserDictEntry

_SPACE_SPLIT = re.compile(r"(\s+)")  # \s is str.isspace(), which is what pkuseg's str.split() splits on


class PkusegSegmenter:
    name = "pkuseg"

    def __init__(self, user_words: Iterable[str] = (), user_dict: Sequence[UserDictEntry] = ()) -> None:
        # pkuseg keeps its user words whole unconditionally (a longest-match pre-pass); frequencies
        # mean nothing to it. "default" is pkuseg's own spelling of "no user words".
        words = sorted({*user_words, *(entry.word for entry in user_dict)})
        self._inference = PkusegInference(words or "default")

    def cut(self, text: str) -> list[str]:
        return self.cut_many([text])[0]

    def cut_many(self, texts: Sequence[str]) -> list[list[str]]:
        """`cut` of each text; one batch through the model, which is where the speed comes from."""
        layouts = [_SPACE_SPLIT.split(text) for text in texts]
        pieces = [piece for layout in layouts for piece in layout if piece and not piece.isspace()]
        cut = iter(self._inference.cut_many(pieces))
        results = []
        for layout in layouts:
            words: list[str] = []
            for piece in layout:
                if piece.isspace():
                    words.append(piece)
                elif piece:
                    words.extend(next(cut))
            results.append(words)
        return results
