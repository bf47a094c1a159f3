"""Writing one input file's shards as its rows arrive.

A shard is written while its input file is read, a row group at a time, so a worker holds one row group
of rows, never a file's or a shard's.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.beam import files
from pipeline.beam.layout import OutputPlan
from schemas.manifest import ShardInfo
from schemas.shard import PARQUET_WRITE_OPTIONS, SHARD_SCHEMA

_ROW_GROUP = PARQUET_WRITE_OPTIONS["row_group_size"]


class _OpenShard:
    def __init__(self, path: str) -> None:
        self.sink = files.HashingSink(path)
        self.writer = pq.ParquetWriter(self.sink, SHARD_SCHEMA, compression=PARQUET_WRITE_OPTIONS["compression"])
        self.rows = 0
        self.tokens = 0


class ShardWriter:
    """One input file's rows, in order, into shards of row groups of `_ROW_GROUP` rows. A new shard
    starts at a batch boundary once one holds `max_rows` rows, so a document's rows stay together."""

    def __init__(self, plan: OutputPlan, file_index: int, max_rows: int) -> None:
        self._plan, self._file_index, self._max_rows = plan, file_index, max_rows
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._open: _OpenShard | None = None
        self._infos: list[ShardInfo] = []
        self.documents = 0

    def add(self, batch: pa.RecordBatch, documents: int) -> None:
        if not batch.num_rows:
            return
        self.documents += documents
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        self._flush(whole_groups_only=True)
        if (self._open.rows if self._open is not None else 0) + self._pending_rows >= self._max_rows:
            self._finish()

    def close(self) -> list[ShardInfo]:
        if self._pending_rows:
            self._finish()
        return self._infos

    def _flush(self, whole_groups_only: bool) -> None:
        size = self._pending_rows - self._pending_rows % _ROW_GROUP if whole_groups_only else self._pending_rows
        if not size:
            return
        if self._open is None:
            self._open = _OpenShard(self._plan.staged(self._name()))
        table = pa.Table.from_batches(self._pending)
        written = table.slice(0, size)
        self._open.writer.write_table(written, row_group_size=_ROW_GROUP)
        self._open.rows += size
        self._open.tokens += len(written.column("input_ids").combine_chunks().values)
        self._pending = table.slice(size).to_batches()
        self._pending_rows -= size

    def _finish(self) -> None:
        self._flush(whole_groups_only=False)
        shard, self._open = self._open, None
        shard.writer.close()
        sha = shard.sink.publish()
        self._infos.append(ShardInfo(file=self._name(), rows=shard.rows, tokens=shard.tokens, sha256=sha))

    def _name(self) -> str:
        return self._plan.shard_name(self._file_index, len(self._infos))
