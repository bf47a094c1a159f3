"""Turn a batch of documents into tokens with their WWM word starts and KDM entity spans in token space.

This is where the three views of the text meet: segmenter words (character offsets), lexicon
entities (character offsets) and WordPiece tokens (each with its first character's offset).

The batch is annotated as one text (the documents joined by newlines): one tokenizer call and one
matcher call per batch instead of one per sentence, which is what makes these stages cost little next
to segmentation. The result is identical to annotating each sentence on its own: tokens never cross a
sentence boundary (sentences end at punctuation or whitespace, where WordPiece splits anyway), the
segmenter cuts each sentence as if alone (jieba gets runs of sentences that its blocks keep apart
anyway, in a few calls; other backends get all sentences in one `cut_many`), and an entity match that
would cross a sentence boundary sends the batch back to per-sentence matching. Simple twin: annotating
each sentence alone; tests/pipeline/test_annotate.py pins the two together
(`test_a_batch_annotates_real_documents_exactly_as_sentence_by_sentence`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain
from typing import cast

import numpy as np

from knowledge.matcher import BoundaryFlags, EntityMatcher
from pipeline.arrays import code_points
from pipeline.segment import (
    BLOCK_BACKENDS,
    BlockSegmenter,
    ManySegmenter,
    Segmenter,
    is_block_char,
)
from pipeline.sentences import sentence_spans
from pipeline.tokenize import BertChineseTokenizer

NO_ENTITIES = np.zeros((0, 3), dtype=np.int64)


@dataclass(frozen=True)
class AnnotatedBatch:
    """Token arrays of a whole batch; documents and sentences are contiguous ranges of them."""

    ids: np.ndarray  # int32 token ids
    word_start: np.ndarray  # bool, True where a token begins a segmenter word or a sentence
    entities: np.ndarray  # int64 (n, 3): token start, token end (exclusive), type index; sorted
    sentence_bounds: np.ndarray  # int64: token index where each non-empty sentence starts, then len(ids)
    doc_sentences: np.ndarray  # int64 (documents + 1): each document's first index into sentence_bounds

    def document_bounds(self, doc: int) -> np.ndarray:
        """The document's sentence starts followed by its end, in batch token positions."""
        return self.sentence_bounds[self.doc_sentences[doc] : self.doc_sentences[doc + 1] + 1]

    def sentence_count(self, doc: int) -> int:
        return int(self.doc_sentences[doc + 1] - self.doc_sentences[doc])


@dataclass
class BatchAnnotator:
    """Holds the per-worker heavy objects; `annotate` is pure given them."""

    segmenter: Segmenter
    matcher: EntityMatcher
    tokenizer: BertChineseTokenizer

    def annotate(self, texts: list[str]) -> AnnotatedBatch:
        text = "\n".join(texts)  # a newline ends a sentence and never joins tokens, words or entities
        char_bounds = sentence_spans(text)
        doc_starts = np.cumsum([0] + [len(doc_text) + 1 for doc_text in texts])
        doc_first_span = np.searchsorted(char_bounds[:, 0], doc_starts)
        ids, starts = self.tokenizer.encode(text)
        # Spans are ordered and disjoint: their bounds, laid flat, are sorted needles for one search.
        token_first, token_after = np.searchsorted(starts, char_bounds.ravel()).reshape(-1, 2).T
        has_tokens = token_after > token_first

        is_word_start = self._word_start_mask(text, char_bounds, has_tokens)
        word_start = is_word_start[starts]
        word_start[token_first[has_tokens]] = True  # a sentence always opens a unit

        kept_spans = np.flatnonzero(has_tokens)
        sentence_bounds = np.append(token_first[kept_spans], len(ids))
        doc_sentences = np.searchsorted(kept_spans, doc_first_span)
        entities = self._entities(text, char_bounds, has_tokens, is_word_start, starts, ids)
        return AnnotatedBatch(ids, word_start, entities, sentence_bounds, doc_sentences)

    def _word_start_mask(self, text: str, char_bounds: np.ndarray, has_tokens: np.ndarray) -> np.ndarray:
        """Per character of `text` (and one past its end): does a word start here? Sentence ends are
        word boundaries too, which the matcher needs. As if each sentence with tokens were cut alone and
        the text between them were one word; only those sentences' boundaries are kept."""
        mask = np.zeros(len(text) + 1, dtype=bool)
        kept = char_bounds[has_tokens]
        if not len(kept):
            return mask
        if self.segmenter.name in BLOCK_BACKENDS:
            ends = self._block_word_ends(text, _block_pieces(text, char_bounds))
        else:
            ends = [self._sentence_word_ends(text, kept)]
        mask[kept[:, 0]] = True
        mask[np.concatenate(ends)] = True
        if len(kept) < len(char_bounds):
            # Keep what lies within a kept sentence, its two ends included (word ends of a piece lie within
            # its sentences, so there is nothing to drop when every sentence is kept): sentence starts
            # never repeat, nor do the positions after their ends, so one assignment each builds the
            # +1/-1 steps. At most two sentences cover a position (one's end, the next one's start).
            steps = np.zeros(len(text) + 2, dtype=np.int8)
            steps[kept[:, 0]] += 1
            steps[kept[:, 1] + 1] -= 1
            mask &= np.cumsum(steps[:-1], dtype=np.int8) > 0
        mask[0] = True
        return mask

    def _sentence_word_ends(self, text: str, kept: np.ndarray) -> np.ndarray:
        """Word ends of each sentence cut alone: all sentences in one `cut_many` call where the segmenter
        has one, else (a segmenter with `cut` alone, e.g. a user's own) one `cut` per sentence."""
        sentences = [text[start:end] for start, end in kept.tolist()]
        if isinstance(self.segmenter, ManySegmenter):
            cuts = self.segmenter.cut_many(sentences)
        else:
            cuts = [self.segmenter.cut(sentence) for sentence in sentences]
        counts = np.fromiter(map(len, cuts), dtype=np.int64, count=len(cuts))
        lengths = np.fromiter(map(len, chain.from_iterable(cuts)), dtype=np.int64, count=int(counts.sum()))
        spans = kept[:, 1] - kept[:, 0]
        ends = np.cumsum(lengths)  # in the sentences laid end to end
        if (counts == 0).any() or not np.array_equal(ends[np.cumsum(counts) - 1], np.cumsum(spans)):
            raise RuntimeError("segmenter output does not cover its input exactly")
        return ends + np.repeat(kept[:, 0] - (np.cumsum(spans) - spans), counts)

    def _block_word_ends(self, text: str, pieces: np.ndarray) -> list[np.ndarray]:
        """Word ends of each piece cut alone, with one segmenter call per `_CUT_CHARS` characters: the
        pieces go in joined by newlines, which a block segmenter always cuts at (each call costs
        some Python around the segmenter; each word, a length)."""
        segmenter = cast(BlockSegmenter, self.segmenter)
        ends = []
        calls = np.flatnonzero(np.diff(pieces[:, 0] // _CUT_CHARS, prepend=-1))
        for first, after in zip(calls.tolist(), np.append(calls[1:], len(pieces)).tolist()):
            group = pieces[first:after]
            joined = "\n".join([text[start:end] for start, end in group.tolist()])
            group_ends = _ends(segmenter.cut_lengths(joined), 0, len(joined))
            # Piece k starts at `joined_starts[k]` in `joined`, and a word end from there up to the next
            # piece's start moves by the same shift; the newline after a piece ends a word that maps to
            # the next piece's start, which is a sentence start anyway.
            lengths = group[:, 1] - group[:, 0]
            joined_starts = np.cumsum(lengths + 1) - lengths - 1
            shift_at = np.repeat(group[:, 0] - joined_starts, lengths + 1)
            ends.append(group_ends + shift_at[group_ends])
        return ends

    def _entities(self, text, char_bounds, has_tokens, is_word_start, starts, ids) -> np.ndarray:
        found = self.matcher.find(text, BoundaryFlags(is_word_start))
        if not found:
            return NO_ENTITIES
        sentence_of = lambda chars: np.searchsorted(char_bounds[:, 0], chars, side="right") - 1  # noqa: E731
        found_chars = _span_array(found)
        sentence = sentence_of(found_chars[:, 0])
        if (sentence != sentence_of(found_chars[:, 1] - 1)).any():
            found = self._per_sentence_entities(text, char_bounds, has_tokens, is_word_start)
            if not found:
                return NO_ENTITIES
            found_chars = _span_array(found)
            sentence = sentence_of(found_chars[:, 0])
        limits = char_bounds[sentence, 1]
        return _token_spans(found_chars, starts, text, limits, lambda tokens: self.tokenizer.continuation[ids[tokens]])

    def _per_sentence_entities(self, text, char_bounds, has_tokens, is_word_start) -> list[tuple[int, int, int]]:
        """The slow path, for a lexicon whose entries hold sentence-ending punctuation."""
        found = []
        for (start, end), tokens in zip(char_bounds.tolist(), has_tokens.tolist()):
            if tokens:
                local = set(np.flatnonzero(is_word_start[start : end + 1]).tolist())
                local.add(end - start)
                found.extend((s + start, e + start, t) for s, e, t in self.matcher.find(text[start:end], local))
        return found


def _ends(lengths: np.ndarray, start: int, end: int) -> np.ndarray:
    if int(lengths.sum()) != end - start:
        raise RuntimeError("segmenter output does not cover its input exactly")
    return np.cumsum(lengths) + start


# A block segmenter's input at most, about: bounds the list of words one call returns.
_CUT_CHARS = 1 << 16


def _block_pieces(text: str, char_bounds: np.ndarray) -> np.ndarray:
    """Runs of consecutive sentences that a block segmenter cuts as it cuts each sentence alone, as
    (start, end) rows. Two sentences must be kept apart only where they meet inside a jieba block: no
    whitespace between and block characters on both sides (an ASCII "." between ideographs ends a
    sentence but is a block character itself)."""
    starts, ends = char_bounds[:, 0], char_bounds[:, 1]
    codes = code_points(text)
    meets = starts[1:] == ends[:-1]
    inside_block = meets & is_block_char(codes[ends[:-1] - 1]) & is_block_char(codes[starts[1:]])
    first = np.flatnonzero(np.concatenate(([True], inside_block)))
    last = np.append(first[1:], len(starts)) - 1
    return np.stack([starts[first], ends[last]], axis=1)


def _span_array(spans: list[tuple[int, int, int]]) -> np.ndarray:
    """The matcher's spans as an (n, 3) array, without numpy inspecting each tuple."""
    return np.fromiter(chain.from_iterable(spans), dtype=np.int64, count=3 * len(spans)).reshape(-1, 3)


def _token_spans(chars: np.ndarray, starts: np.ndarray, text: str, limits: np.ndarray,
                 continuation: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Character spans (start, end, type) to token spans; a span whose ends fall inside a token is
    dropped, not stretched. The last token runs past the entity's end when a visible character lies
    between the entity's end and the next token (or the sentence's end, `limits`). A span may not
    start or end at a ## piece either (`continuation` of token indices): iPhone in iPhones would take
    `iphone` from `iphone ##s`, splitting a WordPiece word even where the segmenter has a boundary (or
    no say, as in Latin text)."""
    if len(starts) == 0:
        return NO_ENTITIES
    first = np.searchsorted(starts, chars[:, 0], side="left")
    after = np.searchsorted(starts, chars[:, 1], side="left")
    begins_a_token = (first < len(starts)) & (starts[np.minimum(first, len(starts) - 1)] == chars[:, 0])
    next_start = np.where(after < len(starts), starts[np.minimum(after, len(starts) - 1)], limits)
    next_start = np.minimum(next_start, limits)
    # A gap between an entity and the next token is rare (whitespace, mostly): looked at one by one.
    runs_past = np.zeros(len(chars), dtype=bool)
    gaps = np.flatnonzero(next_start > chars[:, 1])
    runs_past[gaps] = [not text[end:limit].isspace() for end, limit in zip(chars[gaps, 1].tolist(),
                                                                           next_start[gaps].tolist())]
    splits_a_piece = continuation(np.minimum(first, len(starts) - 1))
    splits_a_piece |= (after < len(starts)) & continuation(np.minimum(after, len(starts) - 1))
    kept = begins_a_token & (after > first) & ~runs_past & ~splits_a_piece
    return np.stack([first[kept], after[kept], chars[kept, 2]], axis=1).astype(np.int64)
