"""Leftmost-longest, non-overlapping entity matching with Aho-Corasick automata (ahocorasick-rs).

The automata are built once per worker and shared by its threads. Matches may be restricted to
segmentation boundaries, so an entity never splits a word (上海 is not found inside 上海市 unless
上海市 is an entry itself).

Memory: a trie has a state per UTF-8 byte of its entries, and building the Rust automaton holds its
intermediate NFA and the result at once. Short entries are many of the surfaces but few of the
states: the long entries' tails (organisations ending in 科技有限公司 ...) are the bulk. So the
automaton holds only the short entries plus the `HEAD_CHARS`-character prefix of every long entry (its
*trigger*), and a trigger's long entries are checked in the lexicon's sorted `SurfaceTable`, where
they are consecutive (one or two on average). Figures for a million entries: bench/README.md
("Entity matcher").

Speed comes from never enumerating overlapping matches in Python: the automaton returns the
leftmost-longest matches of the whole text in one call. Every entry starts where a key starts (the
entry itself or its trigger), and every key occurrence starts inside the extent of some
leftmost-longest match (nothing starts in the gaps between them, or the scan would have found it
there). A match that is a plain short entry is the longest entry at its start: a long entry there
would have made its longer trigger match instead. So is a trigger's longest long entry, found in
the table, or else the trigger itself if it is an entry. Such an answer that passes the boundary
check is taken as it is; anything else (a failed boundary, a trigger with no entry of its own, an
overlap with a span taken) sends us to a local search over the boundaries inside that match: at
each, the longest entry that starts there comes from the automaton on a window of `HEAD_CHARS`
characters and, for a trigger, from the table; while that entry ends inside a word, the window
shrinks to the last boundary before its end. What the scan already told us about the match's start
bounds the first window, and a two-character match with no boundary inside has nothing to search.

The automaton reads bytes, not str: each character is its code in the lexicon's alphabet, in two
bytes (four past 16,383 characters), a character in no entry being code 0. Two bytes a Chinese
character instead of UTF-8's three make a smaller trie and a shorter scan (the WuDao sample's 1.7M
characters: 0.045 CPU s instead of 0.066 for str, whose offsets the library converts), and byte offsets
shift into character offsets. A code's first byte is the only one >= 0x80, so a key can only match
from a character's first byte. (Measured and dropped: scanning only the stretches where a key's first
two characters occur, a third of the text, saved less scan time than the filter cost.)
"""
from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Collection, Iterator
from itertools import chain, islice
from typing import Self

import ahocorasick_rs
import numpy as np

from knowledge.lexicon import Lexicon, SurfaceTable

Span = tuple[int, int, int]  # (start char, end char exclusive, type index)
HEAD_CHARS = 4  # the fewest automaton states (bench/README.md, "Entity matcher")
_NONE = 0xFFFF


class BoundaryFlags(bytes):
    """Word boundaries as one flag byte per character position, for `find`: its numpy pass reads them
    as they are, and its Python resolution asks `in` (`bytes.__getitem__`, a C call, several times per
    entity) and iterates them in order, without a Python set of every boundary of a batch. Positions
    outside [0, len] are never asked."""

    __contains__ = bytes.__getitem__

    def __new__(cls, flags: np.ndarray) -> Self:
        return super().__new__(cls, flags.view(np.uint8).tobytes())

    def __iter__(self):
        return iter(np.flatnonzero(np.frombuffer(self, dtype=np.uint8)).tolist())

    def __len__(self) -> int:
        return bytes.count(self, 1)


class EntityMatcher:
    def __init__(self, lexicon: Lexicon) -> None:
        self.types = lexicon.types
        self._table = table = SurfaceTable.of(lexicon.entries)
        self._max_chars = table.max_chars()
        self._min_chars = table.min_chars()  # a window shorter than this holds no entry
        # Keys [0, _plain) are short entries that trigger nothing; keys from _plain on are triggers.
        self._plain = 0
        self._key_type = array("H")  # per key: its type, or _NONE for a trigger that is no entry
        self._low = array("I")  # per trigger: the table rows [low, high) of its long entries
        self._high = array("I")
        self._code = _alphabet_codes(table)
        self._shift = self._code.itemsize.bit_length() - 1  # log2 of bytes per character
        # ContiguousNFA: the DFA scans faster but takes far more memory (bench/README.md, "Entity matcher").
        self._automaton = ahocorasick_rs.BytesAhoCorasick(
            self._encoded(chain(self._plain_keys(table), self._triggers(table))),
            matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
            implementation=ahocorasick_rs.Implementation.ContiguousNFA,
        ) if len(table) else None
        self._key_types = np.frombuffer(self._key_type, dtype=np.uint16)  # a view, now that the keys are in

    def _encoded(self, keys: Iterator[str]) -> Iterator[bytes]:
        """The keys in the automaton's encoding, a chunk at a time."""
        for chunk in iter(lambda: list(islice(keys, 1 << 16)), []):
            ends = np.cumsum(np.fromiter(map(len, chunk), dtype=np.int64, count=len(chunk))) << self._shift
            encoded = self._encode("".join(chunk))
            yield from map(encoded.__getitem__, map(slice, chain((0,), ends[:-1].tolist()), ends.tolist()))

    def _encode(self, text: str) -> bytes:
        return self._code[np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)].tobytes()

    def _scan(self, encoded: bytes) -> np.ndarray | None:
        """The automaton's leftmost-longest matches as rows (key, start, end) in characters, or None."""
        matches = self._automaton.find_matches_as_indexes(encoded)
        if not matches:
            return None
        flat = np.fromiter(chain.from_iterable(matches), dtype=np.int64, count=3 * len(matches)).reshape(-1, 3)
        flat[:, 1:] >>= self._shift
        return flat

    def _is_trigger(self, table: SurfaceTable, i: int) -> bool:
        """Whether the short entry in row `i` is the trigger of long entries: the table is sorted, so
        they would follow it."""
        return (i + 1 < len(table) and len(table.surface(i)) == HEAD_CHARS
                and len(table.surface(i + 1)) > HEAD_CHARS and table.surface(i + 1).startswith(table.surface(i)))

    def _plain_keys(self, table: SurfaceTable) -> Iterator[str]:
        for i in range(len(table)):
            surface = table.surface(i)
            if len(surface) <= HEAD_CHARS and not self._is_trigger(table, i):
                self._key_type.append(table.type_index(i))
                self._plain += 1
                yield surface

    def _triggers(self, table: SurfaceTable) -> Iterator[str]:
        """One key per run of long entries that share their first `HEAD_CHARS` characters."""
        trigger = ""
        for i in range(len(table)):
            surface = table.surface(i)
            if len(surface) <= HEAD_CHARS:
                continue
            if trigger and surface.startswith(trigger):
                self._high[-1] = i + 1
                continue
            trigger = surface[:HEAD_CHARS]
            entry = i > 0 and table.surface(i - 1) == trigger
            self._key_type.append(table.type_index(i - 1) if entry else _NONE)
            self._low.append(i)
            self._high.append(i + 1)
            yield trigger

    def find(self, text: str, boundaries: Collection[int] | None = None) -> list[Span]:
        """Spans in text order; with `boundaries`, both ends of each span must be in it.

        Most matches are a plain entry with a boundary at both ends, taken as they are: numpy finds
        them, and Python settles the others, each with those after it that a span it took reaches into
        (a span taken from inside a match may end past the next match's start)."""
        if self._automaton is None or not text:
            return []
        encoded = self._encode(text)
        matches = self._scan(encoded)
        if matches is None:
            return []
        keys, starts, ends = matches.T
        if boundaries is None:
            if keys.max() < self._plain:
                return list(zip(starts.tolist(), ends.tolist(), self._key_types[keys].tolist()))
            return self._resolve(text, encoded, zip(*matches.T.tolist()))
        flags = _flags(boundaries, len(text))
        taken = (keys < self._plain) & flags[starts] & flags[ends]
        settle = np.flatnonzero(~taken).tolist()
        spans: list[Span] = []
        if settle:
            key_list, start_list, end_list = matches.T.tolist()
            position = 0  # end of the last span settling took: a match taken as it is ends before the next
            after = 0  # the first match not settled yet
            for k in settle:
                if k < after:
                    continue
                position = self._settle(text, encoded, boundaries, spans, key_list[k], start_list[k], end_list[k], position)
                after = k + 1
                while after < len(start_list) and start_list[after] < position:
                    taken[after] = False
                    position = self._settle(text, encoded, boundaries, spans, key_list[after], start_list[after],
                                            end_list[after], position)
                    after += 1
        rows = np.flatnonzero(taken)
        found = np.stack([starts[rows], ends[rows], self._key_types[keys[rows]]], axis=1)
        if spans:
            found = np.concatenate([found, np.array(spans, dtype=np.int64)])
            found = found[np.argsort(found[:, 0], kind="stable")]
        return list(zip(*found.T.tolist()))

    def _settle(self, text: str, encoded: bytes, boundaries: Collection[int], spans: list[Span],
                i: int, start: int, end: int, position: int) -> int:
        """Appends the spans that match `i` at text[start:end] yields where the last span taken ended at
        `position`; returns where the last span taken ends now."""
        search = self._search
        if start >= position:
            if i < self._plain:
                # Only a boundary inside the match can start or end another entry: a two-character
                # match, the most common, has one place to look.
                if start not in boundaries:
                    if end - start > 2 or start + 1 in boundaries:
                        return search(text, encoded, start + 1, end, boundaries, spans)
                elif end in boundaries:
                    spans.append((start, end, self._key_type[i]))
                    return end
                elif end - start > 2 or start + 1 in boundaries:  # the longest entry here splits a word
                    return search(text, encoded, start, end, boundaries, spans, end - 1)
                return position
            found = self._trigger(text, start, end, i)
            if found is None:  # only an entry shorter than the trigger can start here
                return search(text, encoded, start, end, boundaries, spans, end - 1)
            if start not in boundaries:
                return search(text, encoded, start, end, boundaries, spans)
            if found[1] in boundaries:
                spans.append(found)
                return found[1]
            return search(text, encoded, start, end, boundaries, spans, found[1] - 1)
        if end > position:
            return search(text, encoded, position, end, boundaries, spans)
        return position

    def _resolve(self, text: str, encoded: bytes, matches: Iterator[tuple[int, int, int]]) -> list[Span]:
        """`find` without boundaries for a text where a trigger matched."""
        plain, key_type = self._plain, self._key_type
        spans: list[Span] = []
        append = spans.append
        position = 0
        for i, start, end in matches:
            if start >= position:
                if i < plain:
                    append((start, end, key_type[i]))
                    position = end
                    continue
                found = self._trigger(text, start, end, i)
                if found is None:
                    position = self._search(text, encoded, start, end, None, spans, end - 1)
                else:
                    append(found)
                    position = found[1]
            elif end > position:
                position = self._search(text, encoded, position, end, None, spans)
        return spans

    def _trigger(self, text: str, start: int, end: int, i: int) -> Span | None:
        """The longest entry at `start`, where trigger key `i` matched text[start:end]: one of its long
        entries, or the trigger itself if it is an entry; None if neither (a shorter entry may be)."""
        table, k = self._table, i - self._plain
        low, high = self._low[k], self._high[k]
        if high - low == 1:  # most triggers have one long entry
            surface = table.surface(low)
            if text.startswith(surface, start):
                return start, start + len(surface), table.type_index(low)
        else:
            row = self._longest_row(text, start, min(len(text), start + self._max_chars), low, high)
            if row >= 0:
                return start, start + len(table.surface(row)), table.type_index(row)
        entity_type = self._key_type[i]
        return None if entity_type == _NONE else (start, end, entity_type)

    def _search(self, text: str, encoded: bytes, low: int, high: int, boundaries: Collection[int] | None,
                spans: list[Span], first_limit: int | None = None) -> int:
        """Takes the longest boundary-to-boundary entry at each boundary in [low, high), left to right,
        skipping what a taken span covers; returns the end of the last span taken, or `low`.
        `first_limit`: what the caller knows of `low`: no acceptable entry there ends after it."""
        position = low
        longest, max_chars, length, shortest = self._longest, self._max_chars, len(text), self._min_chars
        for start in range(low, high):
            if start < position or (boundaries is not None and start not in boundaries):
                continue
            if first_limit is not None and start == low:
                limit = first_limit
                if boundaries is not None:
                    while limit > start and limit not in boundaries:
                        limit -= 1
            else:
                limit = start + max_chars if start + max_chars < length else length
            while limit - start >= shortest:
                found = longest(text, encoded, start, limit)
                if found is None:
                    break  # no entry starts here
                end, entity_type = found
                if boundaries is None or end in boundaries:
                    spans.append((start, end, entity_type))
                    position = end
                    break
                limit = end - 1
                while limit > start and limit not in boundaries:
                    limit -= 1
        return position

    def _longest(self, text: str, encoded: bytes, start: int, limit: int) -> tuple[int, int] | None:
        """(end, type) of the longest entry in text[start:limit] that starts at `start`, or None;
        `encoded` is the text in the automaton's encoding."""
        shift = self._shift
        head_limit = min(limit, start + HEAD_CHARS)
        while head_limit > start:
            found = self._automaton.find_matches_as_indexes(encoded[start << shift : head_limit << shift])
            if not found or found[0][1] != 0:
                return None
            i, _, length = found[0]
            length >>= shift
            if i >= self._plain and limit > start + length:
                row = self._longest_row(text, start, limit, self._low[i - self._plain], self._high[i - self._plain])
                if row >= 0:
                    return start + len(self._table.surface(row)), self._table.type_index(row)
            if self._key_type[i] != _NONE:
                return start + length, self._key_type[i]
            head_limit = start + length - 1  # a trigger that is no entry: a shorter entry may be
        return None

    def _longest_row(self, text: str, start: int, limit: int, low: int, high: int) -> int:
        """The row in [low, high) of the longest entry that text[start:limit] starts with, or -1.

        The longest such prefix is the greatest row <= the window if that one is a prefix; if it is
        not, any prefix of the window sorts below it, so it is no longer than their common prefix."""
        surface = self._table.surface
        if high - low <= 8:  # most triggers have a few long entries: checking each is cheaper
            for row in range(high - 1, low - 1, -1):  # a prefix sorts before its extensions
                if text.startswith(surface(row), start, limit):
                    return row
            return -1
        window = text[start:limit]
        while len(window) > HEAD_CHARS:
            row = bisect_right(range(low, high), window, key=surface) + low - 1
            if row < low:
                return -1
            entry = surface(row)
            if window.startswith(entry):
                return row
            common = next((n for n, (a, b) in enumerate(zip(entry, window)) if a != b), len(entry))
            window = window[:common]
        return -1



def _alphabet_codes(table: SurfaceTable) -> np.ndarray:
    """Per code point, its encoding (the bytes of the array's item) for the automaton: the code of a
    character in some entry is its rank from 1 on, and 0 for any other character. Two bytes hold 14
    bits of code, four bytes 28: the first byte holds the top bits and is >= 0x80, the others < 0x80."""
    chars: set[str] = set()
    for surface in table:
        chars.update(surface)
    codes = np.arange(len(chars) + 1, dtype=np.uint32)
    if len(chars) < 1 << 14:
        encoded = (0x80 | codes >> 7 | (codes & 0x7F) << 8).astype(np.uint16)
    else:
        encoded = 0x80 | codes >> 21 | (codes >> 14 & 0x7F) << 8 | (codes >> 7 & 0x7F) << 16 | (codes & 0x7F) << 24
    by_code_point = np.full(0x110000, encoded[0], dtype=encoded.dtype.newbyteorder("<"))
    by_code_point[sorted(map(ord, chars))] = encoded[1:]
    return by_code_point


def _flags(boundaries: Collection[int], length: int) -> np.ndarray:
    """Per position 0..length, whether it is in `boundaries`."""
    if isinstance(boundaries, BoundaryFlags) and bytes.__len__(boundaries) > length:
        return np.frombuffer(boundaries, dtype=np.uint8, count=length + 1) != 0
    positions = np.fromiter(boundaries, dtype=np.int64)
    flags = np.zeros(length + 1, dtype=bool)
    flags[positions[(positions >= 0) & (positions <= length)]] = True
    return flags
