"""jieba's precise mode, exactly, at rjieba's speed; and plain jieba as the reference.

Simple twin: `JiebaReferenceSegmenter` (bottom of this file), plain jieba with user words added through
its own API. Read it first: it is what `FastJiebaSegmenter` means. The fast one is worth reading only
when jieba, rjieba or the user-dictionary rules change. tests/pipeline/test_segment_jieba.py pins the
two together word for word (`test_fast_jieba_equals_jieba_on_every_wudao_document`, with and without
HMM, `test_fast_jieba_equals_jieba_with_lexicon_words_and_user_dict`, and hypothesis on ASCII runs and
rare characters); how fast and how often rjieba alone agrees: bench/README.md ("Segmentation").

rjieba 0.2.2 (jieba-rs 0.11) computes jieba's DAG and route the same way, float for float, and its
HMM Viterbi breaks ties as jieba does. Where it differs from jieba, it differs in two places, both
repaired here, so no sentence needs the slow path:
- Character classes. rjieba puts CJK Extension A-F and compatibility ideographs (`_FOREIGN_HAN`)
  into its word blocks; jieba treats each as a block boundary. A text holding one is cut at those
  characters and the pieces segmented apart, which is what jieba's block split does.
- ASCII runs inside an HMM buffer. jieba's finalseg splits a run such as `Cl-HCO3-Na` with its
  `re_skip` (`Cl`, `-`, `HCO3`, ...); rjieba keeps the run whole. Such a run shows in rjieba's
  output as one word of `[a-zA-Z0-9+#&._%-]` that `re_skip` would split; it is split back. Only a
  dictionary word of that shape (`c++`, `AT&T`, or a user's `COVID-19`) is ambiguous, and only then
  the no-HMM cut (same route, no HMM) says whether it was a route word to keep.
The dictionary is rebuilt in rjieba from jieba's frequencies (see `segment_dictionary`), with a
filler entry that no text can match to make rjieba's total equal jieba's.
"""
from __future__ import annotations

import logging
import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from itertools import accumulate

import numpy as np

from pipeline.arrays import code_points
from pipeline.segment_dictionary import MATCHABLE_WORD, JiebaDictionary, UserDictEntry

_FOREIGN_RANGES = (
    "\u3400-\u4dbf\u9fd6-\u9fff\uf900-\ufaff"
    "\U00020000-\U0002a6df\U0002a700-\U0002ebef\U0002f800-\U0002fa1f"
)
_FOREIGN_HAN = re.compile(f"[{_FOREIGN_RANGES}]")
_FOREIGN_CODES = ((0x3400, 0x4DBF), (0x9FD6, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2A6DF), (0x2A700, 0x2EBEF),
                  (0x2F800, 0x2FA1F))
# A word `re_skip` would split lies inside a run of jieba's ASCII word characters holding a symbol.
_SYMBOL_IN_RUN = re.compile(r"[a-zA-Z0-9+#&._%\-][+#&._%\-]|[+#&._%\-][a-zA-Z0-9+#&._%\-]")
# One single-class scan clears most sentences for rjieba's output as it is.
_HMM_REPAIR_GATE = re.compile(f"[+#&._%\\-{_FOREIGN_RANGES}]")
_ASCII_WORD = re.compile(r"[a-zA-Z0-9+#&._%\-]{2,}")
_SYMBOL = re.compile(r"[+#&._%\-]")
_ARRAY_TEXT = 2000  # characters from which array operations beat per-match Python
_FOREIGN_BMP = tuple((np.uint32(low), high - low) for low, high in _FOREIGN_CODES if high < 0x10000)
_RUN_SYMBOL = np.zeros(0x60, dtype=bool)  # looked up for U+0023-U+002E and U+005F only
_RUN_SYMBOL[[ord(c) for c in "+#&._%-"]] = True
_SKIP_WHOLE = re.compile(r"[a-zA-Z0-9]+(?:\.\d+)?%?")  # jieba finalseg's re_skip
# A word of `_ASCII_WORD` that `_SKIP_WHOLE` does not match (one call), and its pieces under
# `re_skip.split`: between two matches lie only characters where none starts, i.e. symbols.
_SPLIT_BY_SKIP = re.compile(r"(?![a-zA-Z0-9]+(?:\.\d+)?%?\Z)[a-zA-Z0-9+#&._%\-]{2,}")
_SKIP_PIECES = re.compile(r"[a-zA-Z0-9]+(?:\.\d+)?%?|[^a-zA-Z0-9]+")
# rjieba's word blocks once `_cut` has taken the extension ideographs out: jieba's `re_han_default`.
_BLOCK = re.compile(r"[\u4e00-\u9fffa-zA-Z0-9+#&._%\-]+")
_BLOCK_CHAR = re.compile(r"[\u4e00-\u9fffa-zA-Z0-9+#&._%\-]")
# A dictionary entry that only pads rjieba's total: its characters never enter a word block.
_TOTAL_FILLER = "\ue000\u3002\ue000"


class FastJiebaSegmenter:
    """jieba's precise mode through rjieba, repaired where the two differ (module docstring); its
    simple twin is `JiebaReferenceSegmenter`."""

    name = "jieba"

    def __init__(self, hmm: bool = True, user_words: Iterable[str] = (),
                 user_dict: Sequence[UserDictEntry] = ()) -> None:
        import rjieba

        self.hmm = hmm
        self._rjieba = rjieba.Jieba.empty()
        freq, total = JiebaDictionary.read_jieba_dict()
        matchable = list(filter(MATCHABLE_WORD.fullmatch, freq))
        add = self._rjieba.add_word
        for word in matchable:
            add(word, freq[word], None)
        self._rjieba_sum = sum(map(freq.__getitem__, matchable))
        self.dictionary = JiebaDictionary(freq, total, self._cut_no_hmm, self._on_add)
        self._pad_total()
        self.dictionary.add_lexicon_words(user_words)
        self.dictionary.add_user_dict(user_dict)
        self._ambiguous = frozenset(  # isascii first: one C call clears nearly every word
            w for w, count in self.dictionary.freq.items()
            if w.isascii() and count and _ASCII_WORD.fullmatch(w) and not _SKIP_WHOLE.fullmatch(w)
        )

    def _mirror(self, word: str, freq: int, old_freq: int) -> None:
        """Words jieba can never match stay out of rjieba; their frequency counts through the total."""
        if MATCHABLE_WORD.fullmatch(word):
            self._rjieba.add_word(word, freq, None)
            self._rjieba_sum += freq - old_freq

    def _pad_total(self) -> None:
        """rjieba's total is the sum of its entries; the filler tops it up to jieba's `total`."""
        self._rjieba.add_word(_TOTAL_FILLER, self.dictionary.total - self._rjieba_sum, None)

    def _on_add(self, word: str, freq: int, old_freq: int) -> None:
        self._mirror(word, freq, old_freq)
        self._pad_total()

    def cut(self, text: str) -> list[str]:
        if (_HMM_REPAIR_GATE if self.hmm else _FOREIGN_HAN).search(text) is None:
            return self._rjieba.cut(text, self.hmm)
        return self._cut(text, self.hmm)

    def _cut_no_hmm(self, text: str) -> list[str]:
        return self._cut(text, False)

    def _cut(self, text: str, hmm: bool) -> list[str]:
        if _FOREIGN_HAN.search(text) is None:
            return self._cut_block(text, hmm)
        words: list[str] = []
        last = 0
        for match in _FOREIGN_HAN.finditer(text):
            if match.start() > last:
                words += self._cut_block(text[last:match.start()], hmm)
            words.append(match.group())
            last = match.end()
        if last < len(text):
            words += self._cut_block(text[last:], hmm)
        return words

    def cut_lengths(self, text: str) -> np.ndarray:
        """The lengths of `cut(text)`'s words, for a batch-sized text: counted once, where the repair
        needs them too, and the text's code points read once for both checks around rjieba's cut."""
        codes = code_points(text)
        if _holds_foreign_han(codes):
            return word_lengths(self._cut(text, self.hmm))
        words = self._rjieba.cut(text, self.hmm)
        lengths = word_lengths(words)
        replaced = self._ascii_repairs(text, words, lengths, codes) if self.hmm else []
        if not replaced:
            return lengths
        indices = np.array([index for index, _ in replaced])
        sizes = np.array([len(pieces) for _, pieces in replaced])
        counts = np.ones(len(lengths), dtype=np.int64)
        counts[indices] = sizes
        out = np.repeat(lengths, counts)
        firsts = np.cumsum(sizes) - sizes  # each repaired word's first piece among all the pieces
        slots = indices + firsts - np.arange(len(sizes))  # ... and among the words of `out`
        out[np.repeat(slots - firsts, sizes) + np.arange(int(sizes.sum()))] = [
            len(piece) for _, pieces in replaced for piece in pieces]
        return out

    def _cut_block(self, text: str, hmm: bool) -> list[str]:
        words = self._rjieba.cut(text, hmm)
        replaced = self._ascii_repairs(text, words) if hmm else []
        if not replaced:
            return words
        out: list[str] = []
        previous = 0
        for index, pieces in replaced:
            out += words[previous:index]
            out += pieces
            previous = index + 1
        out += words[previous:]
        return out

    def _ascii_repairs(self, text: str, words: list[str], lengths: np.ndarray | None = None,
                       codes: np.ndarray | None = None) -> list[tuple[int, list[str]]]:
        """(index, pieces) of each of rjieba's HMM words that jieba's finalseg splits, in word order.
        Such a word is two or more of `[a-zA-Z0-9+#&._%-]` with a symbol among them (a word without one
        is whole to `re_skip`), so only the words inside symbol runs (in a sentence) or, in a batch's
        text, the words holding a symbol (few) are looked at."""
        if len(text) < _ARRAY_TEXT:  # a sentence: numpy's per-call cost would outweigh the work
            if _SYMBOL_IN_RUN.search(text) is None:
                return []
            runs = [m.span() for m in _ASCII_WORD.finditer(text) if _SYMBOL.search(m.group())]
            ends = list(accumulate(map(len, words)))
            firsts = [bisect_right(ends, start) for start, _ in runs]
            afters = [bisect_right(ends, end) for _, end in runs]  # words that end in the run
            indices: Iterable[int] = (index for first, after in zip(firsts, afters) for index in range(first, after))
        else:
            lengths = word_lengths(words) if lengths is None else lengths
            ends = np.cumsum(lengths)
            holding = _words_holding_symbols(code_points(text) if codes is None else codes, ends)
            indices = holding[lengths[holding] > 1].tolist()
        replaced = []
        for index in indices:
            word = words[index]
            if _SPLIT_BY_SKIP.fullmatch(word) and (
                    word not in self._ambiguous or not self._is_route_word(text, int(ends[index]) - len(word), word)):
                replaced.append((index, _SKIP_PIECES.findall(word)))
        return replaced

    def _is_route_word(self, text: str, start: int, word: str) -> bool:
        """Is `word` at `start` a word of the no-HMM cut (the route without HMM)? The route of a block
        does not depend on the text around it, so only the jieba block holding the word is cut."""
        low = start
        while low > 0 and _BLOCK_CHAR.fullmatch(text[low - 1]):
            low -= 1
        high = _BLOCK.match(text, start).end()
        position = low
        for route_word in self._rjieba.cut(text[low:high], False):
            if position >= start:
                return position == start and route_word == word
            position += len(route_word)
        return False


def _holds_foreign_han(codes: np.ndarray) -> bool:
    """`_FOREIGN_HAN.search(text) is not None` on the text's code points, cheaper than `re`'s scan of
    that class (tests: `test_the_array_check_for_extension_ideographs_agrees_with_the_regex_at_every_range_edge`).
    An unsigned difference below the range's width is one comparison for two; the supplementary ranges
    are looked at only in a text that reaches them."""
    (low, width), *others = _FOREIGN_BMP
    found = (codes - low) <= width
    for low, width in others:
        found |= (codes - low) <= width
    if found.any():
        return True
    supplementary = codes[codes >= 0x10000]
    return any(((supplementary >= low) & (supplementary <= high)).any() for low, high in _FOREIGN_CODES)


def word_lengths(words: list[str]) -> np.ndarray:
    """`len` of each word as int64, collected through a bytearray while every length is under 256,
    which is cheaper than `np.fromiter` on a batch's million words (bench/README.md, "Segmentation")."""
    try:
        return np.frombuffer(bytearray(map(len, words)), dtype=np.uint8).astype(np.int64)
    except ValueError:  # a word of 256 characters or more: a long ASCII or space run
        return np.fromiter(map(len, words), dtype=np.int64, count=len(words))


def _words_holding_symbols(codes: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Indices, ascending and distinct, of the words (ending at `ends`) that hold one of `+#&._%-`.
    One comparison finds U+0023-U+002E (six of the seven, among `$'(),*`) and one `_`; the table
    then sorts the few hits, cheaper than a lookup over all code points."""
    near = (codes - np.uint32(0x23)) <= 0x2E - 0x23
    near |= codes == 0x5F
    positions = np.flatnonzero(near)
    positions = positions[_RUN_SYMBOL[codes[positions]]]
    holding = np.searchsorted(ends, positions, side="right")
    return holding[np.diff(holding, prepend=-1) != 0]


class JiebaReferenceSegmenter:
    """Plain jieba, user words added through its own API: the simple twin of `FastJiebaSegmenter`, and
    the yardstick its tests hold it to."""

    name = "jieba-reference"

    def __init__(self, hmm: bool = True, user_words: Iterable[str] = (),
                 user_dict: Sequence[UserDictEntry] = ()) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)  # its INFO lines would flood every worker's log
        self.hmm = hmm
        self._tokenizer = jieba.Tokenizer()
        self._tokenizer.initialize()
        for word in user_words:  # the rule of JiebaDictionary.add_lexicon_words, in jieba's terms
            if self._tokenizer.lcut(word, HMM=False) != [word]:
                self._tokenizer.add_word(word)
        for entry in user_dict:
            self._tokenizer.add_word(entry.word, entry.freq)

    def cut(self, text: str) -> list[str]:
        return self._tokenizer.lcut(text, HMM=self.hmm)

    def cut_lengths(self, text: str) -> np.ndarray:
        return word_lengths(self.cut(text))
