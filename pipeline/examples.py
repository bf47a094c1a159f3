"""From cleaned documents to a columnar batch of training rows: the pure heart of `prepare`.

Randomness comes from (seed, doc_id) alone, so a document yields the same rows whichever worker,
bundle or batch it lands in.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from pipeline.annotate import SentenceAnnotator
from pipeline.config import SopConfig
from pipeline.sentences import split_sentences
from pipeline.sop import Example, build_examples
from schemas.manifest import SpecialTokens
from schemas.shard import SHARD_SCHEMA, SOP_SINGLE, SOP_SWAPPED


@dataclass(frozen=True)
class CleanDocument:
    doc_id: str
    source: str
    text: str


def document_rng(seed: int, doc_id: str) -> np.random.Generator:
    digest = hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8).digest()
    return np.random.default_rng([seed, int.from_bytes(digest, "little")])


def document_examples(
    doc: CleanDocument, annotator: SentenceAnnotator, config: SopConfig, special: SpecialTokens, seed: int
) -> tuple[list[Example], int]:
    """The document's examples and its sentence count."""
    sentences = [annotator.annotate(s) for s in split_sentences(doc.text)]
    sentences = [s for s in sentences if len(s)]
    if not sentences:
        return [], 0
    return build_examples(sentences, config, special, document_rng(seed, doc.doc_id)), len(sentences)


def examples_to_batch(examples: list[Example], doc_ids: list[str]) -> pa.RecordBatch:
    """Columnar assembly: one concatenation per column, no per-token Python."""
    def offsets(lengths: list[int]) -> pa.Array:
        return pa.array(np.concatenate(([0], np.cumsum(lengths, dtype=np.int64))).astype(np.int32))

    token_offsets = offsets([len(e.input_ids) for e in examples])
    entity_offsets = offsets([len(e.entities) for e in examples])
    spans = np.concatenate([e.entities for e in examples]) if examples else np.zeros((0, 3), np.int64)

    def token_list(values: np.ndarray, kind: pa.DataType) -> pa.Array:
        return pa.ListArray.from_arrays(token_offsets, pa.array(values, type=kind))

    def entity_list(column: int) -> pa.Array:
        return pa.ListArray.from_arrays(entity_offsets, pa.array(spans[:, column].astype(np.uint16)))

    concat = (lambda arrays, dtype: np.concatenate(arrays) if arrays else np.zeros(0, dtype))
    columns = [
        token_list(concat([e.input_ids for e in examples], np.uint16), pa.uint16()),
        pa.array(np.array([e.len_a for e in examples], dtype=np.uint16)),
        token_list(concat([e.word_start for e in examples], bool), pa.bool_()),
        entity_list(0),
        entity_list(1),
        entity_list(2),
        pa.array(np.array([e.sop_label for e in examples], dtype=np.int8)),
        pa.array(doc_ids, type=pa.string()),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=SHARD_SCHEMA)


def example_stats(examples: list[Example], entity_types: tuple[str, ...]) -> Counter:
    stats: Counter = Counter()
    for example in examples:
        stats["rows"] += 1
        stats["tokens"] += len(example.input_ids)
        stats["single_segments" if example.sop_label == SOP_SINGLE else "pairs"] += 1
        stats["swapped_pairs"] += example.sop_label == SOP_SWAPPED
        stats["entities"] += len(example.entities)
        for type_index in example.entities[:, 2].tolist():
            stats[f"entities.{entity_types[type_index]}"] += 1
    return stats
