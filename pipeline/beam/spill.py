"""What the first pass leaves for the later ones, one set of files per input file, under the staging area.

The first pass cleans each document once and spills the survivors (position, doc_id, cleaned text) as a
zstd Arrow stream; the shard pass reads them back instead of reading, parsing and cleaning the input
again (see bench/README.md for the two measured side by side). Each survivor's text digest and MinHash
signature go to a "keys" file of their own, read only by the dedup steps that settle candidates. Spills are Arrow IPC streams written through Beam's
FileSystems, so they live wherever the output does (local disk, gs://, s3://) and are read batch by batch.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

POSITION, DOC_ID, TEXT, DIGEST, SIGNATURE = "position", "doc_id", "text", "digest", "signature"
CLEANED_SCHEMA = pa.schema([(POSITION, pa.uint32()), (DOC_ID, pa.string()), (TEXT, pa.large_string())])
_OPTIONS = pa.ipc.IpcWriteOptions(compression="zstd")


def keys_schema(num_perm: int | None) -> pa.Schema:
    """Position, doc_id and 128-bit digest of each survivor, and its signature when near dedup is on."""
    fields = [(POSITION, pa.uint32()), (DOC_ID, pa.string()), (DIGEST, pa.binary(16))]
    return pa.schema(fields + ([(SIGNATURE, pa.binary(4 * num_perm))] if num_perm else []))


class SpillWriter:
    """Record batches appended to one Arrow stream as they come; nothing is held beyond a batch."""

    def __init__(self, path: str, schema: pa.Schema) -> None:
        self._handle = FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED)
        self._writer = pa.ipc.new_stream(self._handle, schema, options=_OPTIONS)
        self._schema = schema

    def write(self, columns: list) -> None:
        self._writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=self._schema))

    def close(self) -> None:
        self._writer.close()
        self._handle.close()


def write_cleaned(writer: SpillWriter, positions: np.ndarray, doc_ids: list[str], texts: list[str]) -> None:
    writer.write([pa.array(positions, pa.uint32()), pa.array(doc_ids, pa.string()),
                  pa.array(texts, pa.large_string())])


def _fixed_width(rows: np.ndarray) -> pa.Array:
    """(n, k) numbers as n fixed-width binary values, one buffer, no per-row objects."""
    blob = np.ascontiguousarray(rows)
    width = blob.shape[1] * blob.dtype.itemsize
    return pa.Array.from_buffers(pa.binary(width), len(blob), [None, pa.py_buffer(blob.tobytes())])


def write_keys(writer: SpillWriter, positions: np.ndarray, doc_ids: list[str], digests: np.ndarray,
               signatures: np.ndarray | None) -> None:
    columns = [pa.array(positions, pa.uint32()), pa.array(doc_ids, pa.string()), _fixed_width(digests)]
    writer.write(columns + ([_fixed_width(signatures.astype(np.uint32))] if signatures is not None else []))


def read_batches(path: str) -> Iterator[pa.RecordBatch]:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        yield from pa.ipc.open_stream(handle)


def _rows_of(column: pa.Array, dtype) -> np.ndarray:
    width = column.type.byte_width
    data = np.frombuffer(column.buffers()[1], dtype=np.uint8)[column.offset * width:(column.offset + len(column)) * width]
    return data.view(dtype).reshape(len(column), width // np.dtype(dtype).itemsize)


def digests_of(batch: pa.RecordBatch) -> np.ndarray:
    """(rows, 2) uint64 digests of a keys batch."""
    return _rows_of(batch.column(DIGEST), "<u8")


def signatures_of(batch: pa.RecordBatch) -> np.ndarray:
    """(rows, num_perm) uint32 signatures of a keys batch."""
    return _rows_of(batch.column(SIGNATURE), np.uint32)
