"""Turn a batch of documents into tokens with their WWM word starts and KDM entity spans in token space.

This is where the three views of the text meet: segmenter words (character offsets), lexicon
entities (character offsets) and WordPiece tokens (each with its first character's offset).

The batch is annotated as one text (the documents joined by newlines): one tokenizer call and one
matcher call per batch instead of one per sentence, which is what makes these stages cost little next
to segmentation. The result is identical to annotating each sentence on its own: tokens never cross a
sentence boundary (sentences end at punctuation or whitespace, where WordPiece splits anyway), the
segmenter still sees one sentence at a time, and an entity match that would cross a sentence boundary
sends the batch back to per-sentence matching.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from knowledge.matcher import EntityMatcher
from pipeline.segment import Segmenter
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
        text = "\n".join(texts)  # a newline never joins tokens, words or entities across documents
        spans, doc_first_span = [], [0]
        offset = 0
        for doc_text in texts:
            spans.extend((start + offset, end + offset) for start, end in sentence_spans(doc_text))
            doc_first_span.append(len(spans))
            offset += len(doc_text) + 1
        ids, starts = self.tokenizer.encode(text)
        char_bounds = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
        token_first = np.searchsorted(starts, char_bounds[:, 0])
        token_after = np.searchsorted(starts, char_bounds[:, 1])
        has_tokens = token_after > token_first

        is_word_start = self._word_start_mask(text, spans, has_tokens)
        word_start = is_word_start[starts]
        word_start[token_first[has_tokens]] = True  # a sentence always opens a unit

        kept_spans = np.flatnonzero(has_tokens)
        sentence_bounds = np.append(token_first[kept_spans], len(ids))
        doc_sentences = np.searchsorted(kept_spans, doc_first_span)
        entities = self._entities(text, char_bounds, has_tokens, is_word_start, starts)
        return AnnotatedBatch(ids, word_start, entities, sentence_bounds, doc_sentences)

    def _word_start_mask(self, text: str, spans: list[tuple[int, int]], has_tokens: np.ndarray) -> np.ndarray:
        """Per character of `text` (and one past its end): does a word start here? Sentence ends are
        word boundaries too, which the matcher needs. Sentences without tokens are not segmented."""
        lengths: list[int] = []
        position = 0
        cut = self.segmenter.cut
        for (start, end), tokens in zip(spans, has_tokens.tolist()):
            if not tokens:
                continue
            if start > position:
                lengths.append(start - position)  # the gap before the sentence, as one pseudo-word
            words = cut(text[start:end])
            lengths.extend(map(len, words))
            position = end
        mask = np.zeros(len(text) + 1, dtype=bool)
        if lengths:
            ends = np.cumsum(lengths)
            if int(ends[-1]) != position:
                raise RuntimeError("segmenter output does not cover its input exactly")
            mask[0] = True
            mask[ends] = True
        return mask

    def _entities(self, text, char_bounds, has_tokens, is_word_start, starts) -> np.ndarray:
        found = self.matcher.find(text, set(np.flatnonzero(is_word_start).tolist()))
        if not found:
            return NO_ENTITIES
        sentence_of = lambda chars: np.searchsorted(char_bounds[:, 0], chars, side="right") - 1  # noqa: E731
        found_chars = np.asarray(found, dtype=np.int64)
        if (sentence_of(found_chars[:, 0]) != sentence_of(found_chars[:, 1] - 1)).any():
            found = self._per_sentence_entities(text, char_bounds, has_tokens, is_word_start)
            if not found:
                return NO_ENTITIES
            found_chars = np.asarray(found, dtype=np.int64)
        return _token_spans(found, starts, text, char_bounds[sentence_of(found_chars[:, 0]), 1])

    def _per_sentence_entities(self, text, char_bounds, has_tokens, is_word_start) -> list[tuple[int, int, int]]:
        """The slow path, for a lexicon whose entries hold sentence-ending punctuation."""
        found = []
        for (start, end), tokens in zip(char_bounds.tolist(), has_tokens.tolist()):
            if tokens:
                local = set(np.flatnonzero(is_word_start[start : end + 1]).tolist())
                local.add(end - start)
                found.extend((s + start, e + start, t) for s, e, t in self.matcher.find(text[start:end], local))
        return found


def _token_spans(spans: list[tuple[int, int, int]], starts: np.ndarray, text: str, limits: np.ndarray) -> np.ndarray:
    """Character spans to token spans; a span whose ends fall inside a token is dropped, not stretched.
    `limits` holds the end of each span's sentence: the last token is checked only up to there."""
    if not spans:
        return NO_ENTITIES
    chars = np.asarray(spans, dtype=np.int64)
    first = np.searchsorted(starts, chars[:, 0], side="left")
    after = np.searchsorted(starts, chars[:, 1], side="left")
    kept = []
    for (start, end, type_index), token_start, token_end, limit in zip(
        spans, first.tolist(), after.tolist(), limits.tolist()
    ):
        if token_start >= len(starts) or starts[token_start] != start or token_end <= token_start:
            continue
        next_start = min(int(starts[token_end]), limit) if token_end < len(starts) else limit
        if text[end:next_start].strip():  # the last token runs past the entity's end
            continue
        kept.append((token_start, token_end, type_index))
    return np.asarray(kept, dtype=np.int64).reshape(-1, 3)
