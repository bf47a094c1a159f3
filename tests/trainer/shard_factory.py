"""Small valid shard sets (layout 3.0) written with pyarrow + SHARD_SCHEMA, with tokens that follow a
learnable rule.

A row packs `examples_per_row` whole examples of one document (1: one example a row, as
`prepare --no-pack` writes); `write_one_example_per_row` rewrites a set with its examples unpacked.
Each example has one of TOPICS topics and walks that topic's cycle of CYCLE ids (next id = previous + 1,
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


def _example(rng: np.random.Generator, max_len: int) -> dict:
    """One `[CLS] A [SEP] B [SEP]` example (or a single segment) of at most `max_len` - 2 tokens."""
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
    return {"input_ids": [int(i) for i in ids], "len_a": len(a) + 2, "word_start": [bool(s) for s in starts],
            "entity_start": entity_start, "sop_label": label}


def _row(rng: np.random.Generator, max_len: int, source: int, doc: int, examples: int) -> dict:
    """`examples` examples of document `doc`, packed back to back; entity spans in row coordinates."""
    row: dict = {key: [] for key in SHARD_SCHEMA.names}
    for index in range(examples):
        example = _example(rng, max_len // examples)
        offset = len(row["input_ids"])
        row["input_ids"] += example["input_ids"]
        row["word_start"] += example["word_start"]
        row["entity_start"] += [offset + s for s in example["entity_start"]]
        row["entity_end"] += [offset + s + 3 for s in example["entity_start"]]
        row["entity_type"] += [0 for _ in example["entity_start"]]
        row["example_len"].append(len(example["input_ids"]))
        row["len_a"].append(example["len_a"])
        row["sop_label"].append(example["sop_label"])
        row["doc_id"].append(f"source-{source}/doc-{doc}")  # one source per shard, as prepare writes one per file
        row["example_in_doc"].append(index)
    return row


def _unpacked(row: dict) -> list[dict]:
    """A packed row's examples, one a row, as `prepare --no-pack` writes them."""
    out, offset = [], 0
    for index, length in enumerate(row["example_len"]):
        end = offset + length
        spans = [(s, e, t) for s, e, t in zip(row["entity_start"], row["entity_end"], row["entity_type"])
                 if offset <= s < end]
        out.append({"input_ids": row["input_ids"][offset:end], "word_start": row["word_start"][offset:end],
                    "entity_start": [s - offset for s, _, _ in spans], "entity_end": [e - offset for _, e, _ in spans],
                    "entity_type": [t for _, _, t in spans], "example_len": [length],
                    **{key: [row[key][index]] for key in ("len_a", "sop_label", "doc_id", "example_in_doc")}})
        offset = end
    return out


def write_shard_set(directory: Path, shards: int, rows_per_shard: int | Sequence[int], max_len: int = 64,
                    seed: int = 0, examples_per_row: int = 1) -> Path:
    """`rows_per_shard` is one count for every shard, or one count per shard (uneven sources)."""
    rng = np.random.default_rng(seed)
    counts = [rows_per_shard] * shards if isinstance(rows_per_shard, int) else list(rows_per_shard)
    assert len(counts) == shards
    firsts = np.concatenate([[0], np.cumsum(counts)])
    tables = [[_row(rng, max_len, index, int(firsts[index]) + i, examples_per_row) for i in range(counts[index])]
              for index in range(shards)]
    return _write(directory, tables, max_len, seed)


def write_one_example_per_row(packed: Path, directory: Path) -> Path:
    """The examples of the shard set `packed`, in the same order, one a row."""
    manifest = Manifest.from_json((packed / MANIFEST_NAME).read_text(encoding="utf-8"))
    tables = [[example for row in pq.read_table(packed / info.file).to_pylist() for example in _unpacked(row)]
              for info in manifest.shards]
    return _write(directory, tables, manifest.max_seq_len, manifest.seed)


def _write(directory: Path, tables: list[list[dict]], max_len: int, seed: int) -> Path:
    (directory / SHARDS_DIR).mkdir(parents=True, exist_ok=True)
    vocab = ("\n".join(vocab_tokens()) + "\n").encode("utf-8")
    (directory / VOCAB_NAME).write_bytes(vocab)
    infos = []
    for index, rows in enumerate(tables):
        relative = f"{SHARDS_DIR}/{shard_file_name(index, 0)}"  # one input file each, in one part
        pq.write_table(pa.Table.from_pylist(rows, schema=SHARD_SCHEMA), directory / relative)
        digest = hashlib.sha256((directory / relative).read_bytes()).hexdigest()
        infos.append(ShardInfo(relative, len(rows), sum(len(r["input_ids"]) for r in rows), digest))
    documents = len({doc for rows in tables for row in rows for doc in row["doc_id"]})
    manifest = Manifest(
        vocab=VocabInfo(VOCAB_NAME, hashlib.sha256(vocab).hexdigest(), VOCAB_SIZE),
        special_tokens=SPECIALS,
        max_seq_len=max_len,
        seed=seed,
        config={},
        entity_types=["test"],
        shards=infos,
        documents=DocumentAccounting(read=documents, kept=documents, rejected={}),
    )
    (directory / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    return directory
