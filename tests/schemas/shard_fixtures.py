"""Small, valid output directories built from row dicts, so each test can break exactly one thing.

Rows follow the packed contract (layout 3.0) by construction: one to three whole examples a row,
`[CLS] A [SEP] B [SEP]` pairs and `[CLS] A [SEP]` singles over the real BERT-Chinese vocab, word starts
on every special, sorted disjoint entity spans inside one segment of one example. `write_output`
computes the manifest's sha256, rows and tokens from the files it writes.
"""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from schemas import shard
from schemas.manifest import (
    MANIFEST_NAME,
    SHARDS_DIR,
    VOCAB_NAME,
    DocumentAccounting,
    Manifest,
    ShardInfo,
    SpecialTokens,
    VocabInfo,
)
from tests.conftest import require_shared
from tests.schemas.accounting_files import write_accounting

VOCAB = Path(__file__).resolve().parents[3] / "shared" / "data" / "vocab" / "bert-base-chinese-vocab.txt"
SPECIALS = SpecialTokens(pad=0, unk=100, cls=101, sep=102, mask=103)
ENTITY_TYPES = ["PER", "LOC", "ORG"]
MAX_SEQ_LEN = 48
ROWS_PER_SHARD = 60
FIRST_CJK_ID = 670  # 一; ids below are specials, [unused], punctuation and Latin pieces


def _segment(
    rng: np.random.Generator, offset: int
) -> tuple[list[int], list[bool], list[tuple[int, int, int]]]:
    """Content tokens of one segment starting at `offset`, its word starts and up to two entity spans."""
    length = int(rng.integers(3, 11))
    ids = rng.integers(FIRST_CJK_ID, 21128, size=length).tolist()
    word_start = (rng.random(length) < 0.6).tolist()
    word_start[0] = True
    spans = []
    cursor = 0
    while len(spans) < 2 and cursor < length - 1:
        start = cursor + int(rng.integers(0, 2))
        end = min(length, start + int(rng.integers(1, 4)))
        if start >= end:
            break
        spans.append((offset + start, offset + end, int(rng.integers(0, len(ENTITY_TYPES)))))
        cursor = end + 1
    return ids, word_start, spans


def make_example(rng: np.random.Generator, offset: int, label: int) -> dict:
    """One example starting at row position `offset`: ids, word starts, spans (row positions), len_a."""
    ids_a, ws_a, spans = _segment(rng, offset + 1)
    ids = [SPECIALS.cls, *ids_a, SPECIALS.sep]
    word_start = [True, *ws_a, True]
    len_a = len(ids)
    if label != shard.SOP_SINGLE:
        ids_b, ws_b, spans_b = _segment(rng, offset + len_a)
        ids += [*ids_b, SPECIALS.sep]
        word_start += [*ws_b, True]
        spans = spans + spans_b
    return {"ids": ids, "word_start": word_start, "spans": spans, "len_a": len_a, "label": label}


def make_row(rng: np.random.Generator, index: int, labels: list[int]) -> dict:
    """A packed row (layout 3.0) of examples with these labels, as many as fit in MAX_SEQ_LEN tokens
    (at least one); row `index`'s examples belong to documents doc-{index}-{k}."""
    examples: list[dict] = []
    offset = 0
    for label in labels:
        example = make_example(rng, offset, label)
        if examples and offset + len(example["ids"]) > MAX_SEQ_LEN:
            break
        examples.append(example)
        offset += len(example["ids"])
    spans = [span for example in examples for span in example["spans"]]
    return {
        shard.INPUT_IDS: [i for example in examples for i in example["ids"]],
        shard.WORD_START: [w for example in examples for w in example["word_start"]],
        shard.ENTITY_START: [s for s, _, _ in spans],
        shard.ENTITY_END: [e for _, e, _ in spans],
        shard.ENTITY_TYPE: [t for _, _, t in spans],
        shard.EXAMPLE_LEN: [len(example["ids"]) for example in examples],
        shard.LEN_A: [example["len_a"] for example in examples],
        shard.SOP_LABEL: [example["label"] for example in examples],
        shard.DOC_ID: [f"doc-{index:05d}-{k}" for k in range(len(examples))],
        shard.EXAMPLE_IN_DOC: [0] * len(examples),
    }


def make_shards(seed: int = 7, shards: int = 2, rows: int = ROWS_PER_SHARD) -> list[list[dict]]:
    """Rows of one to three examples each (two thirds of them several), a fifth of examples single."""
    rng = np.random.default_rng(seed)
    made = []
    for s in range(shards):
        made.append([])
        for r in range(rows):
            labels = rng.choice([shard.SOP_SINGLE, shard.SOP_ORIGINAL, shard.SOP_SWAPPED], p=[0.2, 0.4, 0.4],
                                size=int(rng.integers(1, 4)))
            made[-1].append(make_row(rng, s * rows + r, [int(label) for label in labels]))
    return made


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _typical_accounting(kept: int) -> DocumentAccounting:
    """About a fifth of what was read is rejected, as cleaning plus dedup does on web text."""
    rejected = {"too_short": kept // 6, "duplicate": kept // 12}
    return DocumentAccounting(read=kept + sum(rejected.values()), kept=kept, rejected=rejected)


def write_output(
    directory: Path,
    shards: list[list[dict]],
    schema: pa.Schema = shard.SHARD_SCHEMA,
    documents: DocumentAccounting | None = None,
) -> Path:
    """An output directory as `prepare` lays it out, with a manifest true to the files written."""
    (directory / SHARDS_DIR).mkdir(parents=True)
    shutil.copyfile(require_shared(VOCAB), directory / VOCAB_NAME)
    infos = []
    for index, rows in enumerate(shards):
        file = f"{SHARDS_DIR}/{shard.shard_file_name(index, 0)}"
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), directory / file)
        tokens = sum(len(row[shard.INPUT_IDS]) for row in rows)
        infos.append(ShardInfo(file=file, rows=len(rows), tokens=tokens, sha256=_sha256(directory / file)))
    kept = sum(row[shard.EXAMPLE_IN_DOC].count(0) for rows in shards for row in rows)
    manifest = Manifest(
        vocab=VocabInfo(file=VOCAB_NAME, sha256=_sha256(VOCAB), size=len(VOCAB.read_text().splitlines())),
        special_tokens=SPECIALS,
        max_seq_len=MAX_SEQ_LEN,
        seed=7,
        config={},
        entity_types=ENTITY_TYPES,
        shards=infos,
        documents=documents or _typical_accounting(kept),
    )
    (directory / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    return write_accounting(directory)
