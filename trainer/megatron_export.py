"""`input_ids` as a Megatron-LM indexed dataset (`PREFIX.bin` + `PREFIX.idx`, the MMIDIDX format).

One sequence per example, tokens exactly as in the shard (specials included), stored as uint16:
packed rows (layout 3.0) are unpacked, since Megatron's BERT dataset builds its own samples from
sequences. Inside a shard, a document's examples are put back together in `example_in_doc` order
(packing may have moved them apart, within the window it packs), documents in the order their first
example appears; consecutive sequences with the same `doc_id` form one document, across shards too
(a document's examples run over a part boundary). A shard at a time is held, never the corpus.
The format, as `megatron.core.datasets.indexed_dataset` reads it: header `MMIDIDX\\0\\0`, version
u64 = 1, dtype code u8, sequence count u64, document-index count u64, int32 lengths, int64 byte
pointers, int64 document indices (0, then the sequence index that ends each document).
"""
from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from schemas import shard as cols
from trainer.outputs import output_file, read_output_manifest

INDEX_HEADER = b"MMIDIDX\x00\x00"
INDEX_VERSION = 1
UINT16_CODE = 8  # megatron.core.datasets.indexed_dataset.DType.uint16
_GATHER_EXAMPLES = 8192


def export_megatron(data_dir: str | Path, out_prefix: str | Path) -> tuple[int, int]:
    """Writes PREFIX.bin/.idx from every shard of the manifest, in its order; returns (sequences, documents)."""
    directory = Path(data_dir)
    manifest = read_output_manifest(directory)
    shard_paths = [output_file(directory, info.file) for info in manifest.shards]
    prefix = Path(out_prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    bin_path, idx_path = Path(f"{prefix}.bin"), Path(f"{prefix}.idx")
    lengths: list[np.ndarray] = []
    boundaries: list[np.ndarray] = []  # sequence indices where a new document starts
    previous_doc: str | None = None
    sequences_seen = 0
    with open(f"{bin_path}.partial", "wb") as data:
        for path in shard_paths:
            table = pq.read_table(path, columns=[cols.INPUT_IDS, cols.EXAMPLE_LEN, cols.DOC_ID,
                                                                   cols.EXAMPLE_IN_DOC])
            example_len, doc_ids = _write_by_document(table, data)
            lengths.append(example_len.astype(np.int32))
            if doc_ids.size:
                starts = np.flatnonzero(doc_ids[1:] != doc_ids[:-1]) + 1
                if doc_ids[0] != previous_doc:
                    starts = np.concatenate([[0], starts])
                boundaries.append(starts + sequences_seen)
                previous_doc = doc_ids[-1]
            sequences_seen += doc_ids.size
    sequence_lengths = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int32)
    pointers = np.concatenate([[0], np.cumsum(sequence_lengths.astype(np.int64) * 2)[:-1]]).astype(np.int64)
    document_starts = np.concatenate(boundaries) if boundaries else np.zeros(0, dtype=np.int64)
    document_indices = np.concatenate([document_starts[1:], [sequences_seen]]) if sequences_seen else np.zeros(0)
    document_indices = np.concatenate([[0], document_indices]).astype(np.int64)
    with open(f"{idx_path}.partial", "wb") as index:
        index.write(INDEX_HEADER)
        index.write(struct.pack("<Q", INDEX_VERSION))
        index.write(struct.pack("<B", UINT16_CODE))
        index.write(struct.pack("<Q", len(sequence_lengths)))
        index.write(struct.pack("<Q", len(document_indices)))
        index.write(sequence_lengths.astype(np.int32).tobytes())
        index.write(pointers[: len(sequence_lengths)].tobytes())
        index.write(document_indices.tobytes())
    os.replace(f"{bin_path}.partial", bin_path)
    os.replace(f"{idx_path}.partial", idx_path)
    return len(sequence_lengths), len(document_indices) - 1


def _write_by_document(table: pa.Table, data: BinaryIO) -> tuple[np.ndarray, np.ndarray]:
    """Writes a shard's examples to `data`, each document's examples together in `example_in_doc`
    order, documents in the order of their first example; returns their lengths and doc ids in that
    order. Tokens are gathered `_GATHER_EXAMPLES` examples at a time: a shard's index arrays at once
    would take 8 bytes per token, gigabytes for a full shard."""
    ids = table.column(cols.INPUT_IDS).combine_chunks().flatten().to_numpy()
    example_len = table.column(cols.EXAMPLE_LEN).combine_chunks().flatten().to_numpy().astype(np.int64)
    docs = table.column(cols.DOC_ID).combine_chunks().flatten().dictionary_encode()  # codes by first appearance
    codes = docs.indices.to_numpy()
    order = np.lexsort((table.column(cols.EXAMPLE_IN_DOC).combine_chunks().flatten().to_numpy(), codes))
    first_token = np.concatenate([[0], np.cumsum(example_len)[:-1]]).astype(np.int64)
    for at in range(0, order.size, _GATHER_EXAMPLES):
        chunk = order[at:at + _GATHER_EXAMPLES]
        lengths = example_len[chunk]
        within = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        data.write(ids[np.repeat(first_token[chunk], lengths) + within].astype(np.uint16).tobytes())
    doc_ids = np.asarray(docs.dictionary.to_pylist(), dtype=object)[codes[order]]
    return example_len[order], doc_ids
