"""Sentence Order Prediction examples with Megatron-LM's semantics.

Sentences fill a chunk up to a target length (short targets with `short_seq_prob`); a chunk closes
only when it and the rest of the document can each form a pair. Segment A ends at a random sentence
boundary, A and B swap with `swap_prob` (label 1), and an over-long pair loses tokens from random
ends of its longer segment. A document of one sentence becomes a single segment, label -1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.annotate import NO_ENTITIES, TokenizedSentence
from pipeline.config import SopConfig
from schemas.manifest import SpecialTokens
from schemas.shard import SOP_ORIGINAL, SOP_SINGLE, SOP_SWAPPED


@dataclass(frozen=True)
class Example:
    input_ids: np.ndarray
    len_a: int
    word_start: np.ndarray
    entities: np.ndarray  # (n, 3) token start, end exclusive, type, in input_ids positions
    sop_label: int


def split_long_sentences(sentences: list[TokenizedSentence], limit: int) -> list[TokenizedSentence]:
    """Pieces of at most `limit` tokens, cut at word starts where one exists, so no text is lost to
    truncation just because a line has no punctuation."""
    pieces = []
    for sentence in sentences:
        start = 0
        while len(sentence) - start > limit:
            cut_candidates = np.flatnonzero(sentence.word_start[start + 1 : start + limit + 1])
            cut = start + 1 + int(cut_candidates[-1]) if len(cut_candidates) else start + limit
            pieces.append(_slice(sentence, start, cut))
            start = cut
        pieces.append(_slice(sentence, start, len(sentence)) if start else sentence)
    return pieces


def _slice(sentence: TokenizedSentence, start: int, end: int) -> TokenizedSentence:
    word_start = sentence.word_start[start:end].copy()
    if len(word_start):
        word_start[0] = True
    spans = sentence.entities
    inside = spans[(spans[:, 0] >= start) & (spans[:, 1] <= end)] if len(spans) else NO_ENTITIES
    shifted = inside - np.array([start, start, 0]) if len(inside) else NO_ENTITIES
    return TokenizedSentence(sentence.ids[start:end], word_start, shifted)


def _concat(sentences: list[TokenizedSentence]) -> TokenizedSentence:
    offsets = np.cumsum([0] + [len(s) for s in sentences])
    spans = [s.entities + np.array([o, o, 0]) for s, o in zip(sentences, offsets) if len(s.entities)]
    return TokenizedSentence(
        np.concatenate([s.ids for s in sentences]),
        np.concatenate([s.word_start for s in sentences]),
        np.concatenate(spans) if spans else NO_ENTITIES,
    )


def _target_length(rng: np.random.Generator, config: SopConfig, max_tokens: int) -> int:
    if rng.random() < config.short_seq_prob:
        return int(rng.integers(2, max_tokens + 1))
    return max_tokens


def build_examples(
    sentences: list[TokenizedSentence],
    config: SopConfig,
    special: SpecialTokens,
    rng: np.random.Generator,
) -> list[Example]:
    sentences = [s for s in sentences if len(s)]
    max_pair_tokens = config.max_seq_len - 3
    if len(sentences) == 1:
        segment = _truncate(sentences[0], config.max_seq_len - 2, rng)
        return [_assemble(segment, None, SOP_SINGLE, special)]
    sentences = split_long_sentences(sentences, max_pair_tokens)
    examples = []
    target = _target_length(rng, config, max_pair_tokens)
    chunk: list[TokenizedSentence] = []
    length = 0
    for index, sentence in enumerate(sentences):
        chunk.append(sentence)
        length += len(sentence)
        remaining = len(sentences) - index - 1
        if (length >= target and len(chunk) >= 2 and remaining > 1) or remaining == 0:
            examples.append(_pair_example(chunk, config, special, rng, max_pair_tokens))
            chunk, length = [], 0
            target = _target_length(rng, config, max_pair_tokens)
    return examples


def _pair_example(chunk, config, special, rng, max_pair_tokens) -> Example:
    a_end = int(rng.integers(1, len(chunk)))
    segment_a, segment_b = _concat(chunk[:a_end]), _concat(chunk[a_end:])
    label = SOP_ORIGINAL
    if rng.random() < config.swap_prob:
        segment_a, segment_b, label = segment_b, segment_a, SOP_SWAPPED
    len_a, len_b = _truncated_lengths(len(segment_a), len(segment_b), max_pair_tokens)
    return _assemble(_truncate(segment_a, len_a, rng), _truncate(segment_b, len_b, rng), label, special)


def _truncated_lengths(len_a: int, len_b: int, budget: int) -> tuple[int, int]:
    """Megatron trims the longer segment one token at a time; this is where that loop ends."""
    excess = len_a + len_b - budget
    if excess <= 0:
        return len_a, len_b
    if len_a > len_b:
        cut = min(excess, len_a - len_b)
        len_a, excess = len_a - cut, excess - cut
    elif len_b > len_a:
        cut = min(excess, len_b - len_a)
        len_b, excess = len_b - cut, excess - cut
    return len_a - excess // 2, len_b - (excess + 1) // 2  # equal lengths: Megatron trims B first


def _truncate(segment: TokenizedSentence, keep: int, rng: np.random.Generator) -> TokenizedSentence:
    """Drops tokens from random ends, as many from the front as a fair coin per token would."""
    removed = len(segment) - keep
    if removed <= 0:
        return segment
    front = int(rng.binomial(removed, 0.5))
    return _slice(segment, front, front + keep)


def _assemble(a: TokenizedSentence, b: TokenizedSentence | None, label: int, special: SpecialTokens) -> Example:
    parts_ids = [[special.cls], a.ids, [special.sep]]
    parts_ws = [[True], a.word_start, [True]]
    spans = [a.entities + np.array([1, 1, 0])] if len(a.entities) else []
    len_a = len(a) + 2
    if b is not None:
        parts_ids += [b.ids, [special.sep]]
        parts_ws += [b.word_start, [True]]
        if len(b.entities):
            spans.append(b.entities + np.array([len_a, len_a, 0]))
    return Example(
        input_ids=np.concatenate(parts_ids).astype(np.uint16),
        len_a=len_a,
        word_start=np.concatenate(parts_ws).astype(bool),
        entities=np.concatenate(spans) if spans else NO_ENTITIES,
        sop_label=label,
    )
