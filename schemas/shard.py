"""Arrow schema of one training shard: one row = one or more whole SOP examples, packed.

Layout 3.0 (issue 19): a row holds whole examples, `[CLS] A [SEP] B [SEP]` or `[CLS] A [SEP]` each, at
most max_seq_len tokens in all, so a micro-batch is mostly real tokens instead of half `[PAD]`. Token
and entity columns are in row coordinates (an entity never crosses an example); the per-example columns
list the row's examples in the order they sit in it, and `example_len` says where each one ends. An
example is named by (`doc_id`, `example_in_doc`) whatever row it lands in, which is what keys the
trainer's masks, so an example is masked the same packed or not. `prepare --no-pack` writes the same
schema with exactly one example per row. 2.0 held one example per row with scalar per-example columns.

Placement (since 2.0): one input file's rows, in its document order, fill shards
`part-FFFFF-PPPP.parquet` (file index in sorted path order, then part), a new part once one holds
`PrepareConfig.shard_rows` rows. Readers mix rows across shards themselves (trainer/data.py).

Masking is deliberately absent: the trainer draws it afresh every epoch from `word_start` and the
entity spans, which is what makes WWM/KDM dynamic.
"""
from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = "3.0"
SHARD_SUFFIX = ".parquet"

# Per token, in row coordinates.
INPUT_IDS = "input_ids"
WORD_START = "word_start"
# Per entity, in row coordinates (end exclusive).
ENTITY_START = "entity_start"
ENTITY_END = "entity_end"
ENTITY_TYPE = "entity_type"
# Per example, in the order the examples sit in the row.
EXAMPLE_LEN = "example_len"
LEN_A = "len_a"
SOP_LABEL = "sop_label"
DOC_ID = "doc_id"
EXAMPLE_IN_DOC = "example_in_doc"

PER_EXAMPLE = (EXAMPLE_LEN, LEN_A, SOP_LABEL, DOC_ID, EXAMPLE_IN_DOC)

SOP_ORIGINAL = 0
SOP_SWAPPED = 1
SOP_SINGLE = -1

SHARD_SCHEMA = pa.schema(
    [
        pa.field(INPUT_IDS, pa.list_(pa.uint16()), nullable=False),
        pa.field(WORD_START, pa.list_(pa.bool_()), nullable=False),
        pa.field(ENTITY_START, pa.list_(pa.uint16()), nullable=False),
        pa.field(ENTITY_END, pa.list_(pa.uint16()), nullable=False),
        pa.field(ENTITY_TYPE, pa.list_(pa.uint16()), nullable=False),
        pa.field(EXAMPLE_LEN, pa.list_(pa.uint16()), nullable=False),
        pa.field(LEN_A, pa.list_(pa.uint16()), nullable=False),
        pa.field(SOP_LABEL, pa.list_(pa.int8()), nullable=False),
        pa.field(DOC_ID, pa.list_(pa.string()), nullable=False),
        pa.field(EXAMPLE_IN_DOC, pa.list_(pa.uint32()), nullable=False),
    ],
    metadata={b"erlangshen.schema_version": SCHEMA_VERSION.encode()},
)

# How shards are written, one place for the pipeline and the benchmarks that measure it: zstd keeps a
# shard at ~2/3 of its Arrow size; row groups of 4,096 rows are the unit a reader decodes at once.
PARQUET_WRITE_OPTIONS = {"compression": "zstd", "row_group_size": 4096}

# uint16 ids cap the vocabulary; BERT Chinese (21,128) and its padded 21,248 fit with room to spare.
MAX_VOCAB_SIZE = 2**16


def shard_file_name(file_index: int, part: int) -> str:
    """Names sort in input order: the input file's index, then the part of that file's rows."""
    return f"part-{file_index:05d}-{part:04d}{SHARD_SUFFIX}"
