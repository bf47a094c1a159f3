"""Chinese sentence splitting: SOP segments are built from these units.

A sentence ends at 。！？；… (full or half width), with any closing quotes or brackets that follow kept
on its end, and at every newline (WuDao paragraphs have no other terminator). An ASCII "." ends a
sentence only between ideographs, as in crawled text that types "关系.认为" for "关系。认为".
"""
from __future__ import annotations

import numpy as np

from pipeline.arrays import code_points

# Character classes of the sentence-end rule, per BMP code point (nothing above U+FFFF takes part).
_OTHER, _STOP, _ELLIPSIS, _DOT, _NEWLINE, _CLOSER = range(6)
_CLASS = np.zeros(0x10000, dtype=np.uint8)
for _chars, _class in (("。！？!?；;", _STOP), ("…", _ELLIPSIS), (".", _DOT), ("\n", _NEWLINE),
                       ("”’\"'）)】」』》〉]", _CLOSER)):
    _CLASS[[ord(c) for c in _chars]] = _class

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
    codes = code_points(text)
    ends = _sentence_ends(codes)
    raw_starts = np.concatenate(([0], ends))
    raw_ends = np.concatenate((ends, [len(text)]))
    visible = np.flatnonzero(~_SPACE[np.minimum(codes, len(_SPACE) - 1)])
    first = np.searchsorted(visible, raw_starts)
    after = np.searchsorted(visible, raw_ends)
    kept = after > first
    return np.stack([visible[first[kept]], visible[after[kept] - 1] + 1], axis=1)


def _sentence_ends(codes: np.ndarray) -> np.ndarray:
    """Where sentences end, ascending: after each run of 。！？!?；; or of … or of three or more ASCII
    dots, with the closing quotes and brackets that follow it; after an ASCII dot between ideographs;
    after each run of newlines. Runs, not characters: `。！` or `……` end one sentence."""
    classes = _CLASS[np.minimum(codes, 0xFFFF)]  # U+FFFF, a noncharacter, stands for all beyond
    steps = np.flatnonzero(np.diff(classes, prepend=np.uint8(255), append=np.uint8(255)))
    run_starts, run_ends = steps[:-1], steps[1:]  # maximal runs of one class
    run_class = classes[run_starts]
    length = run_ends - run_starts
    single_dot = (run_class == _DOT) & (length == 1)
    between = np.zeros(len(run_starts), dtype=bool)
    inner = single_dot & (run_starts > 0) & (run_ends < len(codes))
    before, after = codes[run_starts[inner] - 1], codes[run_ends[inner]]
    between[inner] = (before >= 0x4E00) & (before <= 0x9FFF) & (after >= 0x4E00) & (after <= 0x9FFF)
    ending = (run_class == _STOP) | (run_class == _ELLIPSIS) | ((run_class == _DOT) & (length >= 3))
    # An ending run takes the run of closers right after it, if there is one.
    next_run = np.minimum(np.arange(1, len(run_starts) + 1), len(run_starts) - 1)
    takes_closers = ending & (run_class[next_run] == _CLOSER) & (run_ends < len(codes))
    ends = np.where(takes_closers, run_ends[next_run], run_ends)
    return ends[ending | between | (run_class == _NEWLINE)]

