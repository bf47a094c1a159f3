"""BERT Chinese WordPiece, vectorised, with the ids of `transformers.BertTokenizer` and char offsets.

For Chinese text nearly every token is one character that stands alone (an ideograph or a punctuation
mark), so tokenization is one gather from a per-code-point table done by numpy: a character's entry is
its token id, or a negative class. Only runs of "word" characters (Latin letters, digits, other
symbols) take the WordPiece path. The character classes are those of the `tokenizers` library that
`BertTokenizer` uses, from its own Unicode 8.0 tables (pipeline/bert_chars.py), never from Python's:
control, format and private-use characters vanish (unassigned ones do not); CJK ideographs and
punctuation stand alone; whitespace separates. `BertTokenizer` is the simple twin: the ids equal its
ids on every Unicode scalar value, alone and between letters, digits or ideographs
(tests/pipeline/test_tokenize_exhaustive.py).

Word runs repeat heavily (numbers, English words), so each distinct run's pieces are kept in a bounded
cache: a run already seen costs one C-level dictionary lookup. The runs never seen before are split
all at once by a leftmost-longest Aho-Corasick automaton over the vocabulary, which is WordPiece's
greedy longest-match-first: each run goes in behind a marker character, the word-initial pieces are
keys that start with the marker and the `##` pieces are keys without it, so a run's first piece can
only match at its start and the others only inside it. A run whose matches do not tile it is a miss
for WordPiece, which gives [UNK] for the whole word.
"""
from __future__ import annotations

import unicodedata
from functools import cache
from itertools import chain, repeat

import ahocorasick_rs
import numpy as np

from pipeline.arrays import code_points, ragged_range
from pipeline.bert_chars import CHINESE, NONSPACING, PUNCTUATION, REMOVED, WHITESPACE, code_point_mask
from pipeline.vocab import Vocab

# A code point's kind: its token id where it stands alone (>= 0), else one of these classes.
DROP, SPACE, WORD, COMPLEX = -1, -2, -3, -4
_SINGLE = -5  # stands alone; replaced by its id (or COMPLEX) once the table is built
_MAX_WORD_CHARS = 100  # BERT's max_input_chars_per_word
_MAX_CACHED_RUNS = 500_000  # distinct word runs kept tokenized; the cache starts over past it
# Put before each run handed to the automaton. NUL is a DROP character, so no run holds it, nor can a
# vocabulary entry that holds it ever match: such entries are left out of the automaton.
_MARKER = "\x00"


@cache
def _code_point_classes(lowercase: bool) -> tuple[np.ndarray, np.ndarray]:
    """Each code point's class (_SINGLE where it stands alone) and whether accent stripping removes it.
    The same for every vocabulary: built once per process.

    From the reference's own tables (pipeline/bert_chars.py), each of them disjoint from the others. The
    normaliser judges what it removes, whitespace and Chinese characters before lowercasing and accent
    stripping, the pre-tokenizer judges punctuation after them: so with lowercasing, a character that
    strips to punctuation (≠ is = and a combining stroke) stands alone. No character normalises to
    punctuation and more (the exhaustive test would find it). One that strips to nothing stays a word
    character, which its run's normalising removes: as a DROP it would send the many texts that hold
    one (an emoji's variation selector) down `encode`'s slower path."""
    classes = np.full(0x110000, WORD, dtype=np.int32)
    punctuation = code_point_mask(PUNCTUATION)
    classes[punctuation | code_point_mask(CHINESE)] = _SINGLE
    classes[code_point_mask(WHITESPACE)] = SPACE
    classes[code_point_mask(REMOVED)] = DROP
    nonspacing = code_point_mask(NONSPACING)
    if lowercase:
        words = np.flatnonzero(classes == WORD)
        marked = np.zeros(2 * len(words), dtype=np.uint32)  # each behind a NUL, which normalising keeps
        marked[1::2] = words
        codes = code_points(_lowercase_and_strip_accents(marked.tobytes().decode("utf-32-le"), nonspacing))
        marks = np.flatnonzero(codes == 0)
        one = np.flatnonzero(np.diff(marks, append=len(codes)) == 2)  # normalised to one character
        classes[words[one[punctuation[codes[marks[one] + 1]]]]] = _SINGLE
    return classes, nonspacing


def _lowercase_and_strip_accents(text: str, nonspacing: np.ndarray) -> str:
    """BERT's lowercasing and accent stripping. Done to runs joined by a starter that it keeps, it gives
    each run's own result: lowercasing maps each character alone, and NFD reorders no marks across a
    starter. Python's lowercasing and NFD stand in for Rust's and a crate's, whose Unicode versions
    differ from it on characters no vocabulary holds (on Python 3.11 the exhaustive test finds no id
    that differs)."""
    # `tokenizers` lowercases character by character: Σ is σ even where Python's final-sigma rule
    # would make it ς, the only lowercasing of Python's that looks at neighbouring characters.
    text = text.replace("Σ", "σ").lower()
    if text.isascii():
        return text  # NFD leaves ASCII alone, and it has no combining marks
    codes = np.frombuffer(unicodedata.normalize("NFD", text).encode("utf-32-le"), dtype=np.uint32)
    return codes[~nonspacing[codes]].tobytes().decode("utf-32-le")


class BertChineseTokenizer:
    """Loaded once per worker: building the tables and the automaton takes about 0.1 s."""

    def __init__(self, vocab: Vocab, lowercase: bool = True) -> None:
        self.vocab = vocab
        self.lowercase = lowercase
        ids = vocab.token_to_id
        self.unk_id = ids["[UNK]"]
        # Per id: a `##` piece, which continues a word (an entity span may not start or end at one).
        tokens = vocab.tokens
        self.continuation = np.fromiter((t.startswith("##") for t in tokens), dtype=bool, count=len(tokens))
        keys, key_ids = [], []
        for token, token_id in ids.items():
            if token and _MARKER not in token:
                keys.append(_MARKER + token)
                key_ids.append(token_id)
                if token.startswith("##") and len(token) > 2:
                    keys.append(token[2:])
                    key_ids.append(token_id)
        self._key_ids = np.asarray(key_ids, dtype=np.int32)
        self._automaton = ahocorasick_rs.AhoCorasick(
            keys, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
            implementation=ahocorasick_rs.Implementation.ContiguousNFA, store_patterns=False)
        self._reset_run_cache()
        classes, self._nonspacing = _code_point_classes(lowercase)
        self._kind = self._kinds(classes)

    def _kinds(self, classes: np.ndarray) -> np.ndarray:
        """The code point table `encode` reads: a character that stands alone gets its token id."""
        kinds = classes.copy()
        singles = np.flatnonzero(kinds == _SINGLE)
        counts, piece_ids, _ = self._word_pieces(list(map(chr, singles.tolist())))
        one_piece = counts == 1  # else, e.g. a mark that NFD splits: tokenized like a word
        kinds[singles[one_piece]] = piece_ids[(np.cumsum(counts) - counts)[one_piece]]
        kinds[singles[~one_piece]] = COMPLEX
        return kinds

    def _normalized(self, text: str) -> str:
        """What the automaton reads: runs joined by markers, each normalized as if alone."""
        return _lowercase_and_strip_accents(text, self._nonspacing) if self.lowercase else text

    def _word_pieces(self, runs: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per run its piece count, and the pieces' ids and offsets in the run, runs laid end to end."""
        text = self._normalized(_MARKER + _MARKER.join(runs))
        codes = code_points(text)
        marks = np.flatnonzero(codes == ord(_MARKER))
        lengths = np.diff(marks, append=len(codes)) - 1  # of the normalized runs
        found = self._automaton.find_matches_as_indexes(text)
        key, start, end = np.fromiter(chain.from_iterable(found), dtype=np.int64, count=3 * len(found)).reshape(-1, 3).T
        run = np.searchsorted(marks, start, side="right") - 1
        # Matches never overlap and stay inside their run (only a word-initial key holds a marker, at
        # its start): they tile the run, marker included, exactly when their lengths add up to it.
        # Anything else is WordPiece's [UNK] for the whole run; an empty run (all accents) has no pieces.
        covered = np.bincount(run, weights=end - start, minlength=len(runs))
        unknown = ((covered != lengths + 1) & (lengths > 0)) | (lengths > _MAX_WORD_CHARS)
        counts = np.where(unknown, 1, np.bincount(run, minlength=len(runs)))
        offset = start - marks[run]
        offset -= offset > 0  # the first piece starts at the marker, the others one character further
        known = ~unknown[run]
        pieces = np.ones(int(counts.sum()), dtype=bool)  # the slots of known runs' pieces
        pieces[(counts.cumsum() - counts)[unknown]] = False
        ids = np.full(len(pieces), self.unk_id, dtype=np.int32)
        ids[pieces] = self._key_ids[key[known]]
        offsets = np.zeros(len(pieces), dtype=np.int64)
        offsets[pieces] = offset[known]
        # Offsets inside a re-spelled run (NFD, a longer lowercase) are only approximate: kept inside it.
        run_lengths = np.fromiter(map(len, runs), dtype=np.int64, count=len(runs))
        return counts, ids, np.minimum(offsets, np.repeat(run_lengths - 1, counts))

    def _run_pieces(self, runs: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each run's first piece in the piece table and its piece count: one C-level dictionary lookup
        per run; only runs never seen before go to the automaton."""
        entries = np.fromiter(map(self._entry_of.get, runs, repeat(-1)), dtype=np.int64, count=len(runs))
        unseen = np.flatnonzero(entries < 0)
        if len(unseen):
            missing = [runs[i] for i in unseen.tolist()]
            distinct = list(dict.fromkeys(missing))
            if len(self._entry_of) + len(distinct) > _MAX_CACHED_RUNS:
                self._reset_run_cache()  # the runs this text found in the cache are gone too
                unseen, missing = np.arange(len(runs)), runs
                distinct = list(dict.fromkeys(runs))
            self._add_runs(distinct)
            entries[unseen] = np.fromiter(map(self._entry_of.__getitem__, missing), dtype=np.int64, count=len(missing))
        return self._entry_first[entries], self._entry_count[entries]

    def _reset_run_cache(self) -> None:
        self._entry_of: dict[str, int] = {}
        self._entry_first = np.zeros(0, dtype=np.int64)
        self._entry_count = np.zeros(0, dtype=np.int64)
        self._piece_ids = np.zeros(0, dtype=np.int32)
        self._piece_offsets = np.zeros(0, dtype=np.int64)

    def _add_runs(self, runs: list[str]) -> None:
        counts, ids, offsets = self._word_pieces(runs)
        self._entry_of.update(zip(runs, range(len(self._entry_of), len(self._entry_of) + len(runs))))
        self._entry_first = np.concatenate((self._entry_first, np.cumsum(counts) - counts + len(self._piece_ids)))
        self._entry_count = np.concatenate((self._entry_count, counts))
        self._piece_ids = np.concatenate((self._piece_ids, ids))
        self._piece_offsets = np.concatenate((self._piece_offsets, offsets))

    def encode(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and, for each token, the offset in `text` of its first character.

        Meant for long texts (a batch of documents joined by newlines): the cost is a fixed number of
        numpy calls plus one dictionary lookup per run of word characters."""
        codes = code_points(text)
        kinds = np.take(self._kind, codes)  # a fresh array: the pieces' ids are written into it
        kept = None
        if (kinds == DROP).any():  # dropped characters join their neighbours, as in BERT
            kept = np.flatnonzero(kinds != DROP)
            codes, kinds = codes[kept], kinds[kept]
        word_chars = np.flatnonzero(kinds <= WORD)
        if len(word_chars):
            piece_starts, piece_ids = self._pieces(codes, kinds, word_chars)
            if (piece_starts[1:] <= piece_starts[:-1]).any():
                ids, starts = _merged(kinds, piece_starts, piece_ids)
                return ids, (starts if kept is None else kept[starts])
            # Each piece's id goes on its first character: then every token is a character with an id.
            kinds[piece_starts] = piece_ids
        is_token = kinds >= 0
        starts = np.flatnonzero(is_token)
        return kinds[is_token], (starts if kept is None else kept[starts])

    def _pieces(self, codes, kinds, word_chars) -> tuple[np.ndarray, np.ndarray]:
        """First characters (in `codes`) and ids of the word runs' pieces, in text order. Runs are
        maximal stretches of WORD characters; a COMPLEX character is always a run of its own."""
        is_complex = kinds[word_chars] == COMPLEX
        run_begins = np.ones(len(word_chars), dtype=bool)
        run_begins[1:] = (np.diff(word_chars) != 1) | is_complex[1:] | is_complex[:-1]
        # All runs in one string, each behind a marker (NUL, code 0): one split gives the cache's keys.
        marked = np.zeros(len(word_chars) + int(run_begins.sum()), dtype=np.uint32)
        marked[np.arange(len(word_chars)) + np.cumsum(run_begins)] = codes[word_chars]
        entry_first, piece_counts = self._run_pieces(marked.tobytes().decode("utf-32-le").split(_MARKER)[1:])
        table_index = ragged_range(entry_first, piece_counts)
        run_starts = word_chars[run_begins]
        piece_starts = np.repeat(run_starts, piece_counts) + self._piece_offsets[table_index]
        return piece_starts, self._piece_ids[table_index]


def _merged(kinds: np.ndarray, piece_starts: np.ndarray, piece_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The single tokens with the pieces put in among them, for a text where two pieces share a first
    character: a run that normalizing lengthens (NFD spells 한 as three jamo) has offsets clamped inside it."""
    single = kinds >= 0
    single_starts = np.flatnonzero(single)
    at = np.searchsorted(single_starts, piece_starts)
    return np.insert(kinds[single], at, piece_ids), np.insert(single_starts, at, piece_starts)
