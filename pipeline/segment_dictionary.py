"""jieba's word frequencies, with user words added by jieba's own rules, built once and fast.

Both jieba backends must see the same dictionary and the same frequency total, to the integer:
jieba's route scores every word with log(freq) - log(total), so one unit of drift in the total can
flip a close route. This module reproduces what `jieba.Tokenizer` holds after `initialize()` and a
series of `add_word` calls (`gen_pfdict`, `suggest_freq`, `add_word`, `load_userdict` in jieba
0.42.1), without jieba's 580k-entry prefix dict. Adding the 111k default lexicon words through
jieba's own `add_word` loop took 7 s on this machine; here it is well under a second, because the
no-HMM cut that `suggest_freq` needs runs in rjieba, kept in step with every addition.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from pathlib import Path

from schemas.errors import UserInputError

# jieba's `load_userdict` line grammar: word, then an optional frequency, then an optional tag.
_USER_DICT_LINE = re.compile("^(.+?)( [0-9]+)?( [a-z]+)?$")
# Characters jieba's precise mode can put inside one dictionary match (its `re_han_default`); a word
# with any other character can never be matched, so only its frequency counts (in the total).
_DICT_LINE = re.compile(r"^(\S+) (\d+)", re.MULTILINE)  # dict.txt: word freq tag
MATCHABLE_WORD = re.compile("[\u4E00-\u9FD5a-zA-Z0-9+#&._%\\-]+")
# Joins lexicon words into one text to cut: no word block character, no whitespace (which jieba's
# `re_skip` could pair with a neighbour, as in "\r\n"), so jieba yields it as a piece of its own.
_WORD_BREAK = "\x00"
_LEXICON_CHUNK = 32


@dataclass(frozen=True)
class UserDictEntry:
    word: str
    freq: int | None  # None: jieba's suggested frequency


@lru_cache(maxsize=1)
def jieba_dict_path() -> Path:
    import jieba

    return Path(jieba.__file__).with_name("dict.txt")


def read_user_dict(path: str | Path) -> list[UserDictEntry]:
    """A jieba user dictionary (`word [freq] [tag]` per line), read as `jieba.load_userdict` reads it.

    A frequency of 0 means "force split" in jieba (`del_word`), which changes its HMM as well as its
    dictionary; the fast backend cannot mirror that, so it is refused rather than half-honoured."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserInputError(f"cannot read user dictionary {path}: {error}") from error
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().lstrip("\ufeff")
        if not line:
            continue
        word, freq, _tag = _USER_DICT_LINE.match(line).groups()
        if freq is not None and int(freq) == 0:
            raise UserInputError(f"{path}:{number}: frequency 0 (jieba's force-split) is not supported: {line!r}")
        entries.append(UserDictEntry(word, int(freq) if freq is not None else None))
    return entries


class JiebaDictionary:
    """Word -> frequency and the running total, as jieba's `FREQ` and `total` would hold them.

    `cut_no_hmm` is jieba's precise cut without HMM on the current dictionary; the builder needs it for
    `suggest_freq`; `on_add(word, freq, old_freq)` hears of every addition. Prefix entries (jieba's zero-frequency keys) are not stored: `_lookup` derives them
    when `suggest_freq` asks, which is rare (a character or an ASCII run that is no word)."""

    def __init__(self, freq: dict[str, int], total: int, cut_no_hmm: Callable[[str], list[str]],
                 on_add: Callable[[str, int, int], None]) -> None:
        self.freq = freq
        self.total = total
        self._cut_no_hmm = cut_no_hmm
        self._on_add = on_add
        self._first_chars = {word[0] for word in freq}
        self._prefixes: set[str] | None = None

    @staticmethod
    def read_jieba_dict(path: Path | None = None) -> tuple[dict[str, int], int]:
        """jieba's `gen_pfdict`: the last line of a word wins, but every line counts in the total
        (dict.txt lists 'B超' twice, so the total is 3 above the sum of the frequencies)."""
        lines = _DICT_LINE.findall((path or jieba_dict_path()).read_text(encoding="utf-8"))
        counts = list(map(int, map(itemgetter(1), lines)))
        return dict(zip(map(itemgetter(0), lines), counts)), sum(counts)

    def _lookup(self, text: str) -> int:
        """jieba's `FREQ.get(text, 1)`: 0 for a prefix of a word that is no word itself."""
        found = self.freq.get(text)
        if found is not None:
            return found
        if len(text) == 1:
            return 0 if text in self._first_chars else 1
        if self._prefixes is None:
            self._prefixes = {word[:end] for word in self.freq for end in range(2, len(word))}
        return 0 if text in self._prefixes else 1

    def suggest_freq(self, word: str) -> int:
        """jieba's `suggest_freq(word, tune=False)`, float for float."""
        ftotal = float(self.total)
        freq: float = 1
        for piece in self._cut_no_hmm(word):
            freq *= self._lookup(piece) / ftotal
        # jieba's max with FREQ.get(word, 1): for a word that is no word (0 or 1) the first term is
        # larger anyway, and `_lookup` would build the prefix set (0.15 s) to say so
        return max(int(freq * self.total) + 1, self.freq.get(word, 0))

    def add_word(self, word: str, freq: int | None = None) -> None:
        """jieba's `add_word`: the new frequency replaces the old, and is added to the total whole."""
        freq = self.suggest_freq(word) if freq is None else int(freq)
        old_freq = self.freq.get(word, 0)
        self.freq[word] = freq
        self.total += freq
        self._first_chars.add(word[0])
        if self._prefixes is not None:
            self._prefixes.update(word[:end] for end in range(2, len(word)))
        self._on_add(word, freq, old_freq)

    def add_lexicon_words(self, words: Iterable[str]) -> int:
        """Entity words, so that each comes out whole when it stands alone. A word jieba already
        keeps whole is left as it is: re-adding it would only raise its frequency by one and the
        total by its frequency, shifting every other sentence's route away from plain jieba's.

        One word after the other, as jieba would: an addition changes the dictionary (and the
        total) that the next word is cut with. But few are added (970 of jieba's 111k proper
        nouns), so words are cut `_LEXICON_CHUNK` at a time, joined by `_WORD_BREAK`, and the cut
        starts again after each word that gets added: a third of the time of a cut per word."""
        words = list(words)
        added = 0
        start = 0
        while start < len(words):
            chunk = words[start : start + _LEXICON_CHUNK]
            split = self._first_split(chunk)
            if split is None:
                start += len(chunk)
                continue
            self.add_word(chunk[split])
            added += 1
            start += split + 1
        return added

    def _first_split(self, chunk: list[str]) -> int | None:
        """Index of the first word of `chunk` that the no-HMM cut does not give back as one word.
        `_WORD_BREAK` is a piece of its own in any cut (no word block, no whitespace), so a word's
        pieces in the joined cut are its pieces alone. While words are whole the pieces go word,
        break, word...; the first word that is not starts with a piece shorter than itself."""
        firsts = self._cut_no_hmm(_WORD_BREAK.join(chunk))[::2]
        if firsts == chunk:
            return None
        return next(index for index, (word, piece) in enumerate(zip(chunk, firsts)) if piece != word)

    def add_user_dict(self, entries: Sequence[UserDictEntry]) -> None:
        """As `jieba.load_userdict`: every line is an `add_word`, even for a word jieba knows."""
        for entry in entries:
            self.add_word(entry.word, entry.freq)
