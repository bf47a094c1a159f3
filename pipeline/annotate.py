"""Turn one sentence into tokens with their WWM word starts and KDM entity spans in token space.

This is where the three views of a sentence meet: segmenter words (character offsets), lexicon
entities (character offsets) and WordPiece tokens (each with its first character's offset).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from knowledge.matcher import EntityMatcher
from pipeline.segment import Segmenter, word_start_offsets
from pipeline.tokenize import BertChineseTokenizer


@dataclass(frozen=True)
class TokenizedSentence:
    ids: np.ndarray  # int32 token ids
    word_start: np.ndarray  # bool, True where a token begins a segmenter word
    entities: np.ndarray  # int64 (n, 3): token start, token end (exclusive), type index

    def __len__(self) -> int:
        return len(self.ids)


NO_ENTITIES = np.zeros((0, 3), dtype=np.int64)


@dataclass
class SentenceAnnotator:
    """Holds the per-worker heavy objects; `annotate` is pure given them."""

    segmenter: Segmenter
    matcher: EntityMatcher
    tokenizer: BertChineseTokenizer

    def annotate(self, sentence: str) -> TokenizedSentence:
        ids, starts = self.tokenizer.encode(sentence)
        if len(ids) == 0:
            return TokenizedSentence(ids, np.zeros(0, bool), NO_ENTITIES)
        word_starts = word_start_offsets(self.segmenter.cut(sentence), len(sentence))
        word_start = np.isin(starts, word_starts)
        word_start[0] = True  # a segment always opens a unit
        boundaries = set(word_starts.tolist())
        boundaries.add(len(sentence))
        spans = self.matcher.find(sentence, boundaries)
        return TokenizedSentence(ids, word_start, _token_spans(spans, starts, sentence))


def _token_spans(spans: list[tuple[int, int, int]], starts: np.ndarray, text: str) -> np.ndarray:
    """Character spans to token spans; a span whose ends fall inside a token is dropped, not stretched."""
    if not spans:
        return NO_ENTITIES
    chars = np.asarray(spans, dtype=np.int64)
    first = np.searchsorted(starts, chars[:, 0], side="left")
    after = np.searchsorted(starts, chars[:, 1], side="left")
    kept = []
    for (start, end, type_index), token_start, token_end in zip(spans, first.tolist(), after.tolist()):
        if token_start >= len(starts) or starts[token_start] != start or token_end <= token_start:
            continue
        next_start = int(starts[token_end]) if token_end < len(starts) else len(text)
        if text[end:next_start].strip():  # the last token runs past the entity's end
            continue
        kept.append((token_start, token_end, type_index))
    return np.asarray(kept, dtype=np.int64).reshape(-1, 3)
