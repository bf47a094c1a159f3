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
from itertools import repeat

import numpy as np

from pipeline.arrays import ragged_range
from pipeline.vocab import Vocab

DROP, SPACE, SINGLE, WORD, COMPLEX = 0, 1, 2, 3, 4
_MAX_WORD_CHARS = 100  # BERT's max_input_chars_per_word
_CJK_RANGES = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
               (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]
_ASCII_PUNCT = {c for c in range(33, 127) if not chr(c).isalnum()}
_MAX_CACHED_RUNS = 500_000  # distinct word runs kept tokenized; the cache starts over past it


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
    if word.isascii():
        return word.lower()  # NFD leaves ASCII alone, and it has no combining marks
    decomposed = unicodedata.normalize("NFD", word.lower())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


class BertChineseTokenizer:
    """Loaded once per worker: building the code point tables takes about a second."""

    def __init__(self, vocab: Vocab, lowercase: bool = True) -> None:
        self.vocab = vocab
        self.lowercase = lowercase
        self._ids = vocab.token_to_id
        self.unk_id = self._ids["[UNK]"]
        # Per id: a `##` piece, which continues a word (an entity span may not start or end at one).
        tokens = vocab.tokens
        self.continuation = np.fromiter((t.startswith("##") for t in tokens), dtype=bool, count=len(tokens))
        # No piece longer than the longest vocab entry can match: a long digit run is not quadratic.
        self._max_piece_chars = max(len(token.removeprefix("##")) for token in self._ids)
        self._class, self._single_id = self._build_tables()
        self._reset_run_cache()

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
            end = min(len(word), start + self._max_piece_chars)
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

    def _run_pieces(self, runs: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each run's first piece in the piece table and its piece count: one C-level dictionary lookup
        per run; only runs never seen before take the WordPiece path."""
        entries = np.fromiter(map(self._entry_of.get, runs, repeat(-1)), dtype=np.int64, count=len(runs))
        if (entries < 0).any():
            missing = list(dict.fromkeys(runs[i] for i in np.flatnonzero(entries < 0).tolist()))
            if len(self._entry_of) + len(missing) > _MAX_CACHED_RUNS:
                self._reset_run_cache()
            self._add_runs(missing)
            entries = np.fromiter(map(self._entry_of.__getitem__, runs), dtype=np.int64, count=len(runs))
        return self._entry_first[entries], self._entry_count[entries]

    def _reset_run_cache(self) -> None:
        self._entry_of: dict[str, int] = {}
        self._entry_first = np.zeros(0, dtype=np.int64)
        self._entry_count = np.zeros(0, dtype=np.int64)
        self._piece_ids = np.zeros(0, dtype=np.int32)
        self._piece_offsets = np.zeros(0, dtype=np.int64)

    def _add_runs(self, runs: list[str]) -> None:
        ids, offsets, counts = [], [], []
        for run in runs:
            normalized = _normalize_word(run, self.lowercase)
            pieces = self._wordpiece(normalized)
            if len(normalized) != len(run):  # offsets inside a re-spelled run are only approximate
                pieces = [(token_id, min(offset, len(run) - 1)) for token_id, offset in pieces]
            ids += [piece[0] for piece in pieces]
            offsets += [piece[1] for piece in pieces]
            counts.append(len(pieces))
            self._entry_of[run] = len(self._entry_of)
        count = np.asarray(counts, dtype=np.int64)
        self._entry_first = np.concatenate((self._entry_first, np.cumsum(count) - count + len(self._piece_ids)))
        self._entry_count = np.concatenate((self._entry_count, count))
        self._piece_ids = np.concatenate((self._piece_ids, np.asarray(ids, dtype=np.int32)))
        self._piece_offsets = np.concatenate((self._piece_offsets, np.asarray(offsets, dtype=np.int64)))

    def encode(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and, for each token, the offset in `text` of its first character.

        Meant for long texts (a batch of documents joined by newlines): the cost is a fixed number of
        numpy calls plus one dictionary lookup per run of word characters."""
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        classes = self._class[codes]
        kept = np.flatnonzero(classes != DROP)  # dropped characters join their neighbours, as in BERT
        kept_classes = classes[kept]
        is_word = kept_classes == WORD
        wordlike = is_word | (kept_classes == COMPLEX)
        single = kept[kept_classes == SINGLE]
        if not wordlike.any():
            return self._single_id[codes[single]], single.astype(np.int64)

        # Runs of WORD characters; a COMPLEX character is always a run of its own.
        previous_word = np.concatenate(([False], is_word[:-1]))
        next_word = np.concatenate((is_word[1:], [False]))
        run_starts = np.flatnonzero(wordlike & ~(is_word & previous_word))
        word_run_ends = np.flatnonzero(is_word & ~next_word) + 1
        run_ends = run_starts + 1
        word_runs = is_word[run_starts]
        run_ends[word_runs] = word_run_ends[np.searchsorted(word_run_ends, run_starts[word_runs], side="right")]

        # A run is a slice of the text with the dropped characters taken out.
        kept_text = text if len(kept) == len(codes) else codes[kept].tobytes().decode("utf-32-le", "surrogatepass")
        runs = [kept_text[start:end] for start, end in zip(run_starts.tolist(), run_ends.tolist())]
        entry_first, piece_counts = self._run_pieces(runs)
        table_index = ragged_range(entry_first, piece_counts)
        pieces_ids = self._piece_ids[table_index]
        # Each piece's kept index: its run's start plus its offset inside the run.
        pieces_kept = np.repeat(run_starts, piece_counts) + self._piece_offsets[table_index]

        # Merge singles and pieces in text order: each kept character contributes its token count.
        counts = np.zeros(len(kept), dtype=np.int64)
        counts[kept_classes == SINGLE] = 1
        counts[run_starts] = piece_counts
        slots = np.cumsum(counts) - counts
        total = int(counts.sum())
        all_ids = np.empty(total, dtype=np.int32)
        all_starts = np.empty(total, dtype=np.int64)
        single_slots = slots[kept_classes == SINGLE]
        all_ids[single_slots] = self._single_id[codes[single]]
        all_starts[single_slots] = single
        piece_slots = ragged_range(slots[run_starts], piece_counts)
        all_ids[piece_slots] = pieces_ids
        all_starts[piece_slots] = kept[pieces_kept]
        return all_ids, all_starts
