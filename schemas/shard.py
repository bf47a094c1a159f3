"""Arrow schema of one training shard (one row = one SOP example or single segment).

Layout 2.0: one input file's rows, in its document order, fill shards `part-FFFFF-PPPP.parquet` (file
index in sorted path order, then part), a new part once one holds `PrepareConfig.shard_rows` rows. 1.0
spread rows over N shards by document hash, which took a shuffle of every row. Readers mix rows across
shards themselves (trainer/data.py).

The columns mirror the contract table in DESIGN.md. Masking is deliberately absent: the trainer draws
it afresh every epoch from `word_start` and the entity spans, which is what makes WWM/KDM dynamic.
"""
from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = "2.0"
SHARD_SUFFIX = ".parquet"

INPUT_IDS = "input_ids"
LEN_A = "len_a"
WORD_START = "word_start"
ENTITY_START = "entity_start"
ENTITY_END = "entity_end"
ENTITY_TYPE = "entity_type"
SOP_LABEL = "sop_label"
DOC_ID = "doc_id"

SOP_ORIGINAL = 0
SOP_SWAPPED = 1
SOP_SINGLE = -1

SHARD_SCHEMA = pa.schema(
    [
        pa.field(INPUT_IDS, pa.list_(pa.uint16()), nullable=False),
        pa.field(LEN_A, pa.uint16(), nullable=False),
        pa.field(WORD_START, pa.list_(pa.bool_()), nullable=False),
        pa.field(ENTITY_START, pa.list_(pa.uint16()), nullable=False),
        pa.field(ENTITY_END, pa.list_(pa.uint16()), nullable=False),
        pa.field(ENTITY_TYPE, pa.list_(pa.uint16()), nullable=False),
        pa.field(SOP_LABEL, pa.int8(), nullable=False),
        pa.field(DOC_ID, pa.string(), nullable=False),
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
