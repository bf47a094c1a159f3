"""Leftmost-longest, non-overlapping entity matching with an Aho-Corasick automaton (ahocorasick-rs).

The automaton is built once per worker and shared by its threads. Matches may be restricted to
segmentation boundaries, so an entity never splits a word (上海 is not found inside 上海市 unless
上海市 is an entry itself).

Speed comes from never enumerating overlapping matches in Python: the Rust automaton returns the
leftmost-longest matches of the whole text in one call, and only a match that fails the boundary
check sends us to a local search. That search is exact because every match of any length starts
inside the extent of some leftmost-longest match (nothing starts in the gaps between them, or the
scan would have found it there), so the starts worth trying are the boundaries inside a failed or
overlapped match. At each, the automaton itself, run on a window that starts there, gives the longest
entry; while that one ends inside a word, the window shrinks to the last boundary before its end.
So the matcher holds no table of surfaces: at a million entries the automaton (~90 MB) is all.
"""
from __future__ import annotations

from array import array
from collections.abc import Collection

import ahocorasick_rs

from knowledge.lexicon import Lexicon

Span = tuple[int, int, int]  # (start char, end char exclusive, type index)


class EntityMatcher:
    def __init__(self, lexicon: Lexicon) -> None:
        self.types = lexicon.types
        self._type_of = array("H", lexicon.entries.values())
        self._max_chars = max(map(len, lexicon.entries), default=0)
        # ContiguousNFA: the DFA is ~2x faster to scan but takes >1 GB for a million entries.
        self._automaton = ahocorasick_rs.AhoCorasick(
            list(lexicon.entries), matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
            implementation=ahocorasick_rs.Implementation.ContiguousNFA, store_patterns=False,
        ) if lexicon.entries else None

    def find(self, text: str, boundaries: Collection[int] | None = None) -> list[Span]:
        """Spans in text order; with `boundaries`, both ends of each span must be in it."""
        if self._automaton is None or not text:
            return []
        matches = self._automaton.find_matches_as_indexes(text)
        type_of = self._type_of
        if boundaries is None:
            return [(start, end, type_of[i]) for i, start, end in matches]
        spans: list[Span] = []
        position = 0  # end of the last span taken
        for i, start, end in matches:
            if end <= position:
                continue
            if start >= position and start in boundaries and end in boundaries:
                spans.append((start, end, type_of[i]))
                position = end
            else:
                position = self._search(text, max(start, position), end, boundaries, spans)
        return spans

    def _search(self, text: str, low: int, high: int, boundaries: Collection[int], spans: list[Span]) -> int:
        """Takes the longest boundary-to-boundary entry at each boundary in [low, high), left to right,
        skipping what a taken span covers; returns the end of the last span taken, or `low`."""
        position = low
        for start in range(low, high):
            if start < position or start not in boundaries:
                continue
            window = min(len(text), start + self._max_chars)
            while window > start:
                found = self._automaton.find_matches_as_indexes(text[start:window])
                if not found or found[0][1] != 0:
                    break  # no entry starts here
                i, _, length = found[0]
                if start + length in boundaries:
                    spans.append((start, start + length, self._type_of[i]))
                    position = start + length
                    break
                window = start + length - 1
                while window > start and window not in boundaries:
                    window -= 1
        return position
