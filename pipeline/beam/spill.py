"""What the first pass leaves for the later ones, one set of files per input file, under the staging area.

The first pass cleans each document once and spills the survivors (position, doc_id, cleaned text) as a
zstd Arrow stream; the shard pass reads them back instead of reading, parsing and cleaning the input
again (see bench/README.md for the two measured side by side). MinHash signatures go to a file of their
own, read only by the near-dedup candidate step. Spills are Arrow IPC streams written through Beam's
FileSystems, so they live wherever the output does (local disk, gs://, s3://) and are read batch by batch.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

POSITION, DOC_ID, TEXT, SIGNATURE = "position", "doc_id", "text", "signature"
CLEANED_SCHEMA = pa.schema([(POSITION, pa.uint32()), (DOC_ID, pa.string()), (TEXT, pa.large_string())])
_OPTIONS = pa.ipc.IpcWriteOptions(compression="zstd")


def signature_schema(num_perm: int) -> pa.Schema:
    return pa.schema([(POSITION, pa.uint32()), (DOC_ID, pa.string()), (SIGNATURE, pa.binary(4 * num_perm))])


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


def write_signatures(writer: SpillWriter, positions: np.ndarray, doc_ids: list[str], signatures: np.ndarray) -> None:
    width = signatures.shape[1] * 4
    blob = pa.py_buffer(np.ascontiguousarray(signatures, dtype=np.uint32).tobytes())
    column = pa.Array.from_buffers(pa.binary(width), len(doc_ids), [None, blob])
    writer.write([pa.array(positions, pa.uint32()), pa.array(doc_ids, pa.string()), column])


def read_batches(path: str) -> Iterator[pa.RecordBatch]:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        yield from pa.ipc.open_stream(handle)


def signatures_of(batch: pa.RecordBatch) -> np.ndarray:
    """(rows, num_perm) uint32 from a signature batch's fixed-width column."""
    column = batch.column(SIGNATURE)
    width = column.type.byte_width
    data = np.frombuffer(column.buffers()[1], dtype=np.uint8)[column.offset * width:(column.offset + len(column)) * width]
    return data.view(np.uint32).reshape(len(column), width // 4)
