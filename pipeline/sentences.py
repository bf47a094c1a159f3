"""Chinese sentence splitting: SOP segments are built from these units.

A sentence ends at 。！？；… (full or half width), with any closing quotes or brackets that follow kept
on its end, and at every newline (WuDao paragraphs have no other terminator). An ASCII "." ends a
sentence only between ideographs, as in crawled text that types "关系.认为" for "关系。认为".
"""
from __future__ import annotations

import re

import numpy as np

_CLOSERS = re.escape("”’\"'）)】」』》〉]")
# The leading lookahead names every character a match can start with: `re` then skips ahead to those
# instead of trying each alternative at every position (4x faster on WuDao text, same matches).
_END = re.compile(
    rf"(?=[。！？!?；;….\n])"
    rf"(?:(?:[。！？!?；;]+|…+|\.{{3,}}|(?<=[\u4e00-\u9fff])\.(?=[\u4e00-\u9fff]))[{_CLOSERS}]*|\n+)"
)

# str.isspace per code point; no whitespace lies above U+3000, so the last entry (False) stands for all
# code points beyond.
_SPACE = np.array([chr(code).isspace() for code in range(0x3002)], dtype=bool)


def split_sentences(text: str) -> list[str]:
    """Sentences in order, stripped, none empty; joining them loses only whitespace."""
    return [text[start:end] for start, end in sentence_spans(text).tolist()]


def sentence_spans(text: str) -> np.ndarray:
    """(start, end) character offsets of the sentences, as an (n, 2) array; what lies between two
    spans is whitespace. Meant for a whole batch of documents joined by newlines (a newline always
    ends a sentence), so the per-document cost is a few array operations shared by the batch."""
    ends = np.fromiter((match.end() for match in _END.finditer(text)), dtype=np.int64)
    raw_starts = np.concatenate(([0], ends))
    raw_ends = np.concatenate((ends, [len(text)]))
    visible = visible_positions(text)
    first = np.searchsorted(visible, raw_starts)
    after = np.searchsorted(visible, raw_ends)
    kept = after > first
    return np.stack([visible[first[kept]], visible[after[kept] - 1] + 1], axis=1)


def visible_positions(text: str) -> np.ndarray:
    """Offsets of the characters `str.strip` keeps (not `isspace`), ascending."""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return np.flatnonzero(~_SPACE[np.minimum(codes, len(_SPACE) - 1)])
