"""Chinese sentence splitting: SOP segments are built from these units.

A sentence ends at 。！？；… (full or half width), with any closing quotes or brackets that follow kept
on its end, and at every newline (WuDao paragraphs have no other terminator). An ASCII "." ends a
sentence only between ideographs, as in crawled text that types "关系.认为" for "关系。认为".
"""
from __future__ import annotations

import re

_CLOSERS = re.escape("”’\"'）)】」』》〉]")
_END = re.compile(
    rf"(?:[。！？!?；;]+|…+|\.{{3,}}|(?<=[\u4e00-\u9fff])\.(?=[\u4e00-\u9fff]))[{_CLOSERS}]*|\n+"
)


def split_sentences(text: str) -> list[str]:
    """Sentences in order, stripped, none empty; joining them loses only whitespace."""
    sentences = []
    start = 0
    for match in _END.finditer(text):
        piece = text[start : match.end()].strip()
        if piece:
            sentences.append(piece)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences
