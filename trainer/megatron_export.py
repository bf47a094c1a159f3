"""`input_ids` as a Megatron-LM indexed dataset (`PREFIX.bin` + `PREFIX.idx`, the MMIDIDX format).

One sequence per row, tokens exactly as in the shard (specials included), stored as uint16. Rows
that follow each other with the same `doc_id` form one document, which restores the source
documents as far as the shards keep them together (the pipeline writes a document's rows in a run).
The format, as `megatron.core.datasets.indexed_dataset` reads it: header `MMIDIDX\\0\\0`, version
u64 = 1, dtype code u8, sequence count u64, document-index count u64, int32 lengths, int64 byte
pointers, int64 document indices (0, then the sequence index that ends each document).
"""
from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from schemas import shard as cols
from schemas.errors import UserInputError
from schemas.manifest import MANIFEST_NAME, read_manifest

INDEX_HEADER = b"MMIDIDX\x00\x00"
INDEX_VERSION = 1
UINT16_CODE = 8  # megatron.core.datasets.indexed_dataset.DType.uint16


def export_megatron(data_dir: str | Path, out_prefix: str | Path) -> tuple[int, int]:
    """Writes PREFIX.bin/.idx from every shard of the manifest, in its order; returns (sequences, documents)."""
    directory = Path(data_dir)
    if not (directory / MANIFEST_NAME).is_file():
        raise UserInputError(f"{directory} has no {MANIFEST_NAME}: run `erlangshen-data prepare` first")
    manifest = read_manifest(directory)
    prefix = Path(out_prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    bin_path, idx_path = Path(f"{prefix}.bin"), Path(f"{prefix}.idx")
    lengths: list[np.ndarray] = []
    boundaries: list[np.ndarray] = []  # row indices where a new document starts
    previous_doc: str | None = None
    rows_seen = 0
    with open(f"{bin_path}.partial", "wb") as data:
        for info in manifest.shards:
            parquet = pq.ParquetFile(directory / info.file)
            for batch in parquet.iter_batches(columns=[cols.INPUT_IDS, cols.DOC_ID], batch_size=8192):
                ids = batch.column(cols.INPUT_IDS)
                data.write(ids.flatten().to_numpy().astype(np.uint16).tobytes())
                lengths.append(ids.value_lengths().to_numpy().astype(np.int32))
                doc_ids = np.asarray(batch.column(cols.DOC_ID).to_pylist(), dtype=object)
                starts = np.flatnonzero(doc_ids[1:] != doc_ids[:-1]) + 1
                if previous_doc is None or doc_ids[0] != previous_doc:
                    starts = np.concatenate([[0], starts])
                boundaries.append(starts + rows_seen)
                previous_doc = doc_ids[-1]
                rows_seen += len(doc_ids)
    sequence_lengths = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int32)
    pointers = np.concatenate([[0], np.cumsum(sequence_lengths.astype(np.int64) * 2)[:-1]]).astype(np.int64)
    document_starts = np.concatenate(boundaries) if boundaries else np.zeros(0, dtype=np.int64)
    document_indices = np.concatenate([document_starts[1:], [rows_seen]]) if rows_seen else np.zeros(0)
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
