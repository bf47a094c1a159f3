"""Small valid shard sets written with pyarrow + SHARD_SCHEMA, with tokens that follow a learnable rule.

Each row has one of TOPICS topics and walks that topic's cycle of CYCLE ids (next id = previous + 1,
wrapping), cut into words of 1-3 tokens, with a few entity spans; B continues A, swapped for SOP
label 1. Unigram statistics alone cost ln(TOPICS * CYCLE) per masked token; a model that reads the
context finds the topic (ln CYCLE at most) and then the neighbours.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from schemas.manifest import (MANIFEST_NAME, SHARDS_DIR, VOCAB_NAME, DocumentAccounting, Manifest, ShardInfo,
                              SpecialTokens, VocabInfo)
from schemas.shard import SHARD_SCHEMA, shard_file_name

SPECIALS = SpecialTokens(pad=0, unk=100, cls=101, sep=102, mask=103)
FIRST_ID = 672  # CJK characters start here in bert-base-chinese's vocabulary
TOPICS = 8
CYCLE = 8
VOCAB_SIZE = 21128
# bert-base-chinese's layout: [PAD], [unused1..99], [UNK], [CLS], [SEP], [MASK], then text tokens.
PLACEHOLDER_IDS = frozenset(range(0, 104))


def vocab_tokens() -> list[str]:
    tokens = ["[PAD]", *(f"[unused{i}]" for i in range(1, 100)), "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    return tokens + [chr(0x4E00 + i) for i in range(VOCAB_SIZE - len(tokens))]


def _row(rng: np.random.Generator, max_len: int, source: int, doc: int) -> dict:
    length = int(rng.integers(max_len // 2, max_len - 2))
    topic = int(rng.integers(TOPICS))
    body = FIRST_ID + topic * CYCLE + (int(rng.integers(CYCLE)) + np.arange(length)) % CYCLE
    single = rng.random() < 0.1
    cut = length if single else int(rng.integers(length // 3, 2 * length // 3))
    a, b = body[:cut], body[cut:]
    label = -1 if single else int(rng.integers(2))
    if label == 1:
        a, b = b, a
    ids = [SPECIALS.cls, *a, SPECIALS.sep] + ([] if single else [*b, SPECIALS.sep])
    starts = rng.random(len(ids)) < 0.55
    specials = np.isin(ids, [SPECIALS.cls, SPECIALS.sep])
    starts |= specials
    after = np.flatnonzero(specials) + 1
    starts[after[after < len(ids)]] = True  # a segment's first token begins a word
    entity_start = [s for s in (3, 12, 30) if s + 3 <= len(a) + 1]  # spans inside A
    return {
        "input_ids": [int(i) for i in ids],
        "len_a": len(a) + 2,
        "word_start": [bool(s) for s in starts],
        "entity_start": entity_start,
        "entity_end": [s + 3 for s in entity_start],
        "entity_type": [0 for _ in entity_start],
        "sop_label": label,
        "doc_id": f"source-{source}/doc-{doc}",  # one source per shard, as prepare writes one per input file
    }


def write_shard_set(directory: Path, shards: int, rows_per_shard: int | Sequence[int], max_len: int = 64,
                    seed: int = 0) -> Path:
    """`rows_per_shard` is one count for every shard, or one count per shard (uneven sources)."""
    rng = np.random.default_rng(seed)
    counts = [rows_per_shard] * shards if isinstance(rows_per_shard, int) else list(rows_per_shard)
    assert len(counts) == shards
    firsts = np.concatenate([[0], np.cumsum(counts)])
    (directory / SHARDS_DIR).mkdir(parents=True, exist_ok=True)
    vocab = ("\n".join(vocab_tokens()) + "\n").encode("utf-8")
    (directory / VOCAB_NAME).write_bytes(vocab)
    infos = []
    for index in range(shards):
        rows = [_row(rng, max_len, index, int(firsts[index]) + i) for i in range(counts[index])]
        relative = f"{SHARDS_DIR}/{shard_file_name(index, 0)}"  # one input file each, in one part
        pq.write_table(pa.Table.from_pylist(rows, schema=SHARD_SCHEMA), directory / relative)
        digest = hashlib.sha256((directory / relative).read_bytes()).hexdigest()
        infos.append(ShardInfo(relative, len(rows), sum(len(r["input_ids"]) for r in rows), digest))
    manifest = Manifest(
        vocab=VocabInfo(VOCAB_NAME, hashlib.sha256(vocab).hexdigest(), VOCAB_SIZE),
        special_tokens=SPECIALS,
        max_seq_len=max_len,
        seed=seed,
        config={},
        entity_types=["test"],
        shards=infos,
        documents=DocumentAccounting(read=sum(counts), kept=sum(counts), rejected={}),
    )
    (directory / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    return directory
