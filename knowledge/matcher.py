"""Leftmost-longest, non-overlapping entity matching with an Aho-Corasick automaton.

The automaton is built once per worker. Matches may be restricted to segmentation boundaries, so an
entity never splits a word (上海 is not found inside 上海市 unless 上海市 is an entry itself).
"""
from __future__ import annotations

from collections.abc import Collection

import ahocorasick

from knowledge.lexicon import Lexicon

Span = tuple[int, int, int]  # (start char, end char exclusive, type index)


class EntityMatcher:
    def __init__(self, lexicon: Lexicon) -> None:
        self.types = lexicon.types
        self._automaton = ahocorasick.Automaton()
        for surface, (type_index, _) in lexicon.entries.items():
            self._automaton.add_word(surface, (len(surface), type_index))
        self._empty = len(lexicon) == 0
        if not self._empty:
            self._automaton.make_automaton()

    def find(self, text: str, boundaries: Collection[int] | None = None) -> list[Span]:
        """Spans in text order; with `boundaries`, both ends of each span must be in it."""
        if self._empty or not text:
            return []
        candidates = [
            (end + 1 - length, end + 1, type_index)
            for end, (length, type_index) in self._automaton.iter(text)
        ]
        if boundaries is not None:
            candidates = [c for c in candidates if c[0] in boundaries and c[1] in boundaries]
        candidates.sort(key=lambda c: (c[0], -c[1]))
        spans: list[Span] = []
        last_end = 0
        for span in candidates:
            if span[0] >= last_end:
                spans.append(span)
                last_end = span[1]
        return spans
