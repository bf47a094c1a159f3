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
    return [text[start:end] for start, end in sentence_spans(text)]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of the sentences, so a whole document can be tokenized in one
    call and cut at these offsets afterwards; what lies between two spans is whitespace."""
    spans = []
    start = 0
    for match in _END.finditer(text):
        _append_stripped(spans, text, start, match.end())
        start = match.end()
    _append_stripped(spans, text, start, len(text))
    return spans


def _append_stripped(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.lstrip()
    if stripped:
        start += len(piece) - len(stripped)
        spans.append((start, start + len(stripped.rstrip())))
