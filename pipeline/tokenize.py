"""BERT Chinese WordPiece, vectorised, with the ids of `transformers.BertTokenizer` and char offsets.

For Chinese text nearly every token is one character that stands alone (an ideograph or a punctuation
mark), so tokenization is a table lookup over code points done by numpy. Only runs of "word"
characters (Latin letters, digits, other symbols) take the WordPiece path, cached per distinct run.
The character classes follow the normaliser of the `tokenizers` library that `BertTokenizer` uses:
control, format and private-use characters vanish (unassigned ones do not); CJK ideographs and punctuation stand
alone; whitespace separates.
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache

import numpy as np

from pipeline.vocab import Vocab

DROP, SPACE, SINGLE, WORD, COMPLEX = 0, 1, 2, 3, 4
_MAX_WORD_CHARS = 100  # BERT's max_input_chars_per_word
_CJK_RANGES = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
               (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]
_ASCII_PUNCT = {c for c in range(33, 127) if not chr(c).isalnum()}


def _is_cjk(code: int) -> bool:
    return any(lo <= code <= hi for lo, hi in _CJK_RANGES)


def _char_class(code: int) -> int:
    char = chr(code)
    if char in "\t\n\r ":
        return SPACE
    category = unicodedata.category(char)
    if code == 0 or code == 0xFFFD or category in ("Cc", "Cf", "Cs", "Co"):
        return DROP
    if char.isspace():
        return SPACE
    if _is_cjk(code) or code in _ASCII_PUNCT or category.startswith("P"):
        return SINGLE
    return WORD


def _normalize_word(word: str, lowercase: bool) -> str:
    if not lowercase:
        return word
    decomposed = unicodedata.normalize("NFD", word.lower())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


class BertChineseTokenizer:
    """Loaded once per worker: building the code point tables takes about a second."""

    def __init__(self, vocab: Vocab, lowercase: bool = True) -> None:
        self.vocab = vocab
        self.lowercase = lowercase
        self._ids = vocab.token_to_id
        self.unk_id = self._ids["[UNK]"]
        self._class, self._single_id = self._build_tables()
        self._word_cache: dict[str, list[tuple[int, int]]] = {}

    def _build_tables(self) -> tuple[np.ndarray, np.ndarray]:
        classes = np.full(0x110000, WORD, dtype=np.uint8)  # unassigned code points are word characters
        classes[0xF0000:0x110000] = DROP  # supplementary private use
        single_ids = np.full(0x110000, self.unk_id, dtype=np.int32)
        for lo, hi in [(0, 0x323B0), (0xE0000, 0xE0080), (0xE0100, 0xE01F0)]:
            for code in range(lo, hi):
                classes[code] = _char_class(code)
        for code in np.flatnonzero(classes == SINGLE):
            pieces = self._wordpiece(_normalize_word(chr(code), self.lowercase))
            if len(pieces) == 1 and pieces[0][1] == 0:
                single_ids[code] = pieces[0][0]
            else:
                classes[code] = COMPLEX  # e.g. a mark that NFD splits: tokenized like a word
        return classes, single_ids

    def _wordpiece(self, word: str) -> list[tuple[int, int]]:
        """(id, offset in word) pieces, greedy longest-match-first; [UNK] for the whole word on a miss."""
        if not word:
            return []
        if len(word) > _MAX_WORD_CHARS:
            return [(self.unk_id, 0)]
        pieces = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else f"##{word[start:end]}"
                token_id = self._ids.get(piece)
                if token_id is not None:
                    pieces.append((token_id, start))
                    break
                end -= 1
            else:
                return [(self.unk_id, 0)]
            start = end
        return pieces

    def _word_tokens(self, run: str) -> list[tuple[int, int]]:
        cached = self._word_cache.get(run)
        if cached is None:
            normalized = _normalize_word(run, self.lowercase)
            cached = self._wordpiece(normalized)
            if len(normalized) != len(run):  # offsets inside a re-spelled run are only approximate
                cached = [(token_id, min(offset, len(run) - 1)) for token_id, offset in cached]
            if len(self._word_cache) < 500_000:
                self._word_cache[run] = cached
        return cached

    def encode(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and, for each token, the offset in `text` of its first character."""
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        classes = self._class[codes]
        kept = np.flatnonzero(classes != DROP)  # dropped characters join their neighbours, as in BERT
        kept_classes = classes[kept]
        wordlike = (kept_classes == WORD) | (kept_classes == COMPLEX)
        single = kept[kept_classes == SINGLE]
        if not wordlike.any():
            return self._single_id[codes[single]], single.astype(np.int64)

        # Runs of WORD characters; a COMPLEX character is always a run of its own.
        previous_word = np.concatenate(([False], kept_classes[:-1] == WORD))
        run_starts = np.flatnonzero(wordlike & ~((kept_classes == WORD) & previous_word))
        run_ends = np.empty_like(run_starts)
        is_word = kept_classes == WORD
        for i, start in enumerate(run_starts):
            end = start + 1
            if is_word[start]:
                while end < len(kept) and is_word[end]:
                    end += 1
            run_ends[i] = end

        ids = [self._single_id[codes[single]]]
        starts = [single]
        for start, end in zip(run_starts.tolist(), run_ends.tolist()):
            positions = kept[start:end]
            run = "".join(map(chr, codes[positions].tolist()))
            pieces = self._word_tokens(run)
            if pieces:
                ids.append(np.array([p[0] for p in pieces], dtype=np.int32))
                starts.append(positions[[p[1] for p in pieces]])
        all_ids = np.concatenate(ids)
        all_starts = np.concatenate(starts).astype(np.int64)
        order = np.argsort(all_starts, kind="stable")
        return all_ids[order], all_starts[order]


@lru_cache(maxsize=4)
def cached_tokenizer(vocab: Vocab, lowercase: bool) -> BertChineseTokenizer:
    return BertChineseTokenizer(vocab, lowercase)
