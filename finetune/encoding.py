"""Examples as BERT inputs: `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`, with the ids `prepare` writes.

The tokenizer is the pipeline's (`pipeline.tokenize.BertChineseTokenizer`, the ids of
`transformers.BertTokenizer`), so a task sees text exactly as pretraining did. It is built for long
texts, so a file's texts are joined by newlines (whitespace, which separates tokens and is dropped)
and encoded in one call, then cut back apart at the texts' character offsets; the simple twin, one
`encode` per text, is what `tests/finetune/test_encoding.py` compares it with.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from finetune.readers import TaskExample
from pipeline.tokenize import BertChineseTokenizer
from schemas.manifest import SpecialTokens

_CHUNK_CHARS = 1 << 22  # texts joined per `encode` call: bounds the tokenizer's per-call arrays


@dataclass(frozen=True)
class EncodedExamples:
    input_ids: list[np.ndarray]  # per example, specials included, at most max_len
    len_a: np.ndarray  # tokens of `[CLS] a [SEP]`: token_type_ids are 1 from there on
    labels: np.ndarray  # class index, -1 where the example has no (known) label
    truncated: int  # examples cut to max_len

    def __len__(self) -> int:
        return len(self.input_ids)


def encode_texts(tokenizer: BertChineseTokenizer, texts: Sequence[str]) -> list[np.ndarray]:
    """Each text's token ids, as `tokenizer.encode(text)[0]` gives them."""
    out: list[np.ndarray] = []
    first = 0
    while first < len(texts):
        last, size = first, 0
        while last < len(texts) and (last == first or size + len(texts[last]) < _CHUNK_CHARS):
            size += len(texts[last]) + 1
            last += 1
        chunk = texts[first:last]
        ids, offsets = tokenizer.encode("\n".join(chunk))
        lengths = np.fromiter(map(len, chunk), dtype=np.int64, count=len(chunk))
        starts = np.cumsum(lengths + 1) - lengths - 1
        owner = np.searchsorted(starts, offsets, side="right") - 1
        bounds = np.searchsorted(owner, np.arange(len(chunk) + 1))
        out.extend(ids[bounds[i]:bounds[i + 1]].astype(np.int64) for i in range(len(chunk)))
        first = last
    return out


def truncate_pair(len_a: int, len_b: int, budget: int) -> tuple[int, int]:
    """BERT's longest-first truncation in closed form: the longer text loses a token at a time (b on a
    tie) until both fit, so a short text stays whole and two long ones split the budget."""
    if len_a + len_b <= budget:
        return len_a, len_b
    kept_a = min(len_a, max(budget - len_b, (budget + 1) // 2))
    return kept_a, min(len_b, budget - kept_a)


def encode_examples(examples: Sequence[TaskExample], tokenizer: BertChineseTokenizer, specials: SpecialTokens,
                    max_len: int) -> EncodedExamples:
    pair = any(example.text_b is not None for example in examples)
    ids_a = encode_texts(tokenizer, [example.text_a for example in examples])
    ids_b = encode_texts(tokenizer, [example.text_b or "" for example in examples]) if pair else None
    cls, sep = np.array([specials.cls]), np.array([specials.sep])
    rows, len_a, truncated = [], np.zeros(len(examples), dtype=np.int64), 0
    for i, a in enumerate(ids_a):
        if ids_b is None:
            keep_a, keep_b = min(len(a), max_len - 2), 0
            truncated += keep_a < len(a)
            rows.append(np.concatenate([cls, a[:keep_a], sep]))
        else:
            b = ids_b[i]
            keep_a, keep_b = truncate_pair(len(a), len(b), max_len - 3)
            truncated += keep_a + keep_b < len(a) + len(b)
            rows.append(np.concatenate([cls, a[:keep_a], sep, b[:keep_b], sep]))
        len_a[i] = keep_a + 2
    labels = np.array([-1 if example.label is None else example.label for example in examples], dtype=np.int64)
    return EncodedExamples(rows, len_a, labels, truncated)
