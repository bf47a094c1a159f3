"""The reference stack: how the anchors (Fengshenbang-LM, PaddleNLP) prepare the same rows.

Per sentence: regex split, plain jieba, `transformers.BertTokenizer`, token offsets found by walking
the sentence, entity spans from the same lexicon matcher, then a straightforward SOP builder over
Python lists and `pa.Table.from_pylist`. It draws from the same per-document RNG as the pipeline, so
where the two tokenizations agree (nearly always) the rows are the same; `throughput.py` reports the
share of identical rows as a check that both sides did the same work.

A benchmark baseline, not product code: nothing in `pipeline/` imports it.
"""
from __future__ import annotations

import unicodedata

import pyarrow as pa

from knowledge.matcher import EntityMatcher
from pipeline.config import SopConfig
from pipeline.rows import document_rng
from pipeline.segment import Segmenter
from pipeline.sentences import split_sentences
from pipeline.rows import EXAMPLE_SCHEMA
from schemas.shard import SOP_ORIGINAL, SOP_SINGLE, SOP_SWAPPED


class ReferenceStack:
    """`jieba` is plain jieba (the `jieba-reference` segmenter, with the lexicon's words added as the
    pipeline adds them), so the two sides segment alike and only the machinery differs."""

    def __init__(self, vocab_path: str, jieba: Segmenter, matcher: EntityMatcher, config: SopConfig, seed: int):
        from transformers import BertTokenizer

        self.jieba = jieba
        self.bert = BertTokenizer(vocab_path)
        self.matcher = matcher
        self.config, self.seed = config, seed

    def sentence(self, text: str) -> dict | None:
        tokens = self.bert.tokenize(text)
        if not tokens:
            return None
        ids = self.bert.convert_tokens_to_ids(tokens)
        offsets = _token_offsets(text, tokens)
        word_starts, position = set(), 0
        for word in self.jieba.cut(text):
            word_starts.add(position)
            position += len(word)
        word_start = [offset in word_starts for offset in offsets]
        word_start[0] = True
        boundaries = word_starts | {len(text)}
        token_at = {offset: i for i, offset in enumerate(offsets)}
        entities = []
        for start, end, type_index in self.matcher.find(text, boundaries):
            if start in token_at and (end in token_at or end == len(text)):
                last = token_at.get(end, len(tokens))
                if last > token_at[start]:
                    entities.append([token_at[start], last, type_index])
        return {"ids": ids, "word_start": word_start, "entities": entities}

    def document_rows(self, doc_id: str, text: str) -> list[dict]:
        sentences = [s for s in (self.sentence(t) for t in split_sentences(text)) if s]
        if not sentences:
            return []
        rng = document_rng(self.seed, doc_id)
        rows = _sop_rows(sentences, self.config, rng, self.bert.cls_token_id, self.bert.sep_token_id)
        for index, row in enumerate(rows):
            row["doc_id"] = doc_id
            row["example_in_doc"] = index
        return rows

    def table(self, docs: list[tuple[str, str]]) -> pa.Table:
        rows = [row for doc_id, text in docs for row in self.document_rows(doc_id, text)]
        return pa.Table.from_pylist(rows, schema=EXAMPLE_SCHEMA)


def _token_offsets(text: str, tokens: list[str]) -> list[int]:
    """Where each token starts: find its surface in the lowercased, accent-free sentence."""
    folded = "".join(_fold(c) for c in text)
    if len(folded) != len(text):
        folded = text.lower() if len(text.lower()) == len(text) else text
    offsets, position = [], 0
    for token in tokens:
        piece = token[2:] if token.startswith("##") else token
        found = folded.find(piece, position) if token != "[UNK]" else -1
        if found < 0:
            while position < len(text) and text[position].isspace():
                position += 1
            found = position
        offsets.append(found)
        position = found + (len(piece) if token != "[UNK]" else 1)
    return offsets


def _fold(char: str) -> str:
    decomposed = unicodedata.normalize("NFD", char.lower())
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return stripped if len(stripped) == 1 else char


def _sop_rows(sentences: list[dict], config: SopConfig, rng, cls: int, sep: int) -> list[dict]:
    """Megatron-style SOP over lists, one sentence at a time (the pipeline's semantics, plainly)."""
    if len(sentences) == 1:
        segment = _truncate(sentences[0], config.max_seq_len - 2, rng)
        return [_row(segment, None, SOP_SINGLE, cls, sep)]
    limit = config.max_seq_len - 3
    pieces = []
    for sentence in sentences:
        start = 0
        while len(sentence["ids"]) - start > limit:
            window = sentence["word_start"][start + 1 : start + limit + 1]
            starts = [i for i, flag in enumerate(window) if flag]
            cut = start + 1 + starts[-1] if starts else start + limit
            pieces.append(_slice(sentence, start, cut))
            start = cut
        pieces.append(_slice(sentence, start, len(sentence["ids"])) if start else sentence)
    rows, chunk, length = [], [], 0
    target = _target(rng, config, limit)
    for index, piece in enumerate(pieces):
        chunk.append(piece)
        length += len(piece["ids"])
        remaining = len(pieces) - index - 1
        if (length >= target and len(chunk) >= 2 and remaining > 1) or remaining == 0:
            split = int(rng.integers(1, len(chunk)))
            a, b = _concat(chunk[:split]), _concat(chunk[split:])
            label = SOP_ORIGINAL
            if rng.random() < config.swap_prob:
                a, b, label = b, a, SOP_SWAPPED
            len_a, len_b = len(a["ids"]), len(b["ids"])
            while len_a + len_b > limit:  # Megatron's loop: trim the longer segment, B on ties
                if len_a > len_b:
                    len_a -= 1
                else:
                    len_b -= 1
            a = _truncate(a, len_a, rng)
            rows.append(_row(a, _truncate(b, len_b, rng), label, cls, sep))
            chunk, length = [], 0
            target = _target(rng, config, limit)
    return rows


def _target(rng, config: SopConfig, limit: int) -> int:
    return int(rng.integers(2, limit + 1)) if rng.random() < config.short_seq_prob else limit


def _slice(sentence: dict, start: int, end: int) -> dict:
    word_start = sentence["word_start"][start:end]
    if word_start:
        word_start[0] = True
    entities = [[s - start, e - start, t] for s, e, t in sentence["entities"] if s >= start and e <= end]
    return {"ids": sentence["ids"][start:end], "word_start": word_start, "entities": entities}


def _concat(sentences: list[dict]) -> dict:
    ids, word_start, entities = [], [], []
    for sentence in sentences:
        entities += [[s + len(ids), e + len(ids), t] for s, e, t in sentence["entities"]]
        ids += sentence["ids"]
        word_start += sentence["word_start"]
    return {"ids": ids, "word_start": word_start, "entities": entities}


def _truncate(segment: dict, keep: int, rng) -> dict:
    removed = len(segment["ids"]) - keep
    if removed <= 0:
        return segment
    front = int(rng.binomial(removed, 0.5))
    return _slice(segment, front, front + keep)


def _row(a: dict, b: dict | None, label: int, cls: int, sep: int) -> dict:
    ids = [cls] + a["ids"] + [sep]
    word_start = [True] + a["word_start"] + [True]
    entities = [[s + 1, e + 1, t] for s, e, t in a["entities"]]
    len_a = len(ids)
    if b is not None:
        entities += [[s + len_a, e + len_a, t] for s, e, t in b["entities"]]
        ids += b["ids"] + [sep]
        word_start += b["word_start"] + [True]
    return {
        "input_ids": ids, "len_a": len_a, "word_start": word_start,
        "entity_start": [s for s, _, _ in entities], "entity_end": [e for _, e, _ in entities],
        "entity_type": [t for _, _, t in entities], "sop_label": label,
    }
