"""Writing one input file's shards as its examples arrive: packed into rows, a window at a time.

Examples are packed within windows of consecutive examples of the file (pipeline/packing.py). A window
closes at the first document boundary once it holds `WINDOW_EXAMPLES` examples, so its bounds are a
function of the file's example sequence alone (never of batches, bundles or workers) and shards stay
byte-identical for any worker count. A shard is written while its input file is read, a row group at
a time, so a worker holds one window of examples and one row group of rows, never a file's or a shard's.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.beam import files
from pipeline.beam.layout import OutputPlan
from pipeline.corpus_profile import row_counts
from pipeline.packing import pack_examples
from schemas import shard
from schemas.manifest import ShardInfo
from schemas.shard import PARQUET_WRITE_OPTIONS, SHARD_SCHEMA

_ROW_GROUP = PARQUET_WRITE_OPTIONS["row_group_size"]

# Best-fit decreasing leaves its loose rows at the end of a window: a few rows of a few thousand, so
# packing loses well under 1% to window ends (bench/padding.py). A window of ~4k examples is ~1M
# tokens (~10 MB of columns), and the once-per-example packing loop costs a few ms per window.
WINDOW_EXAMPLES = 4096
# A document longer than this many examples is cut into windows inside it, so memory stays bounded.
MAX_WINDOW_EXAMPLES = 4 * WINDOW_EXAMPLES


def window_ends(example_in_doc: np.ndarray, carried: int) -> list[int]:
    """Where windows close within newly arrived examples, given `carried` examples already waiting:
    at the first document start (example_in_doc 0) at or after WINDOW_EXAMPLES examples of the
    window, or at MAX_WINDOW_EXAMPLES whatever the document. Positions count from the new examples."""
    ends: list[int] = []
    start = -carried  # the open window's first example, in positions of the new examples
    doc_starts = np.flatnonzero(example_in_doc == 0)
    while True:
        at = np.searchsorted(doc_starts, start + WINDOW_EXAMPLES)
        end = int(doc_starts[at]) if at < len(doc_starts) else len(example_in_doc) + 1
        end = min(end, start + MAX_WINDOW_EXAMPLES)
        if end > len(example_in_doc):
            return ends
        ends.append(end)
        start = end


class _OpenShard:
    def __init__(self, path: str) -> None:
        self.sink = files.HashingSink(path)
        self.writer = pq.ParquetWriter(self.sink, SHARD_SCHEMA, compression=PARQUET_WRITE_OPTIONS["compression"])
        self.rows = 0
        self.tokens = 0


class ShardWriter:
    """One input file's examples, in order, packed into rows of at most `pack_to` tokens (one example a
    row when None, `prepare --no-pack`), written into shards of row groups of `_ROW_GROUP` rows. A new
    shard starts at a window end (unpacked: at a batch end) once one holds `max_rows` rows, so a
    document's examples stay in one shard. `stats` counts the rows written, their lengths and [UNK]s
    (`corpus_profile.row_counts`), for the run summary."""

    def __init__(self, plan: OutputPlan, file_index: int, max_rows: int, pack_to: int | None = None,
                 unk_id: int = -1) -> None:
        self._plan, self._file_index, self._max_rows = plan, file_index, max_rows
        self._pack_to, self._unk_id = pack_to, unk_id
        self._window: list[pa.RecordBatch] = []
        self._window_examples = 0
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._open: _OpenShard | None = None
        self._infos: list[ShardInfo] = []
        self.documents = 0
        self.stats: Counter = Counter()

    def add(self, batch: pa.RecordBatch, documents: int) -> None:
        """A batch of examples (`pipeline.rows.EXAMPLE_SCHEMA`) of `documents` whole documents."""
        if not batch.num_rows:
            return
        self.documents += documents
        if self._pack_to is None:  # one example a row: a batch is a window, and a shard may end after it
            self._window.append(batch)
            self._close_window()
            return
        start = 0
        for end in window_ends(batch.column(shard.EXAMPLE_IN_DOC).to_numpy(), self._window_examples):
            self._window.append(batch.slice(start, end - start))
            self._close_window()
            start = end
        if start < batch.num_rows:
            self._window.append(batch.slice(start))
            self._window_examples += batch.num_rows - start

    def close(self) -> list[ShardInfo]:
        if self._window:
            self._close_window()
        if self._pending_rows:
            self._finish()
        return self._infos

    def _close_window(self) -> None:
        rows = pack_examples(pa.Table.from_batches(self._window), self._pack_to)
        self._window, self._window_examples = [], 0
        self.stats.update(row_counts(rows.column(shard.INPUT_IDS).combine_chunks(), self._unk_id))
        self._pending.extend(rows.to_batches())
        self._pending_rows += rows.num_rows
        self._flush(whole_groups_only=True)
        if (self._open.rows if self._open is not None else 0) + self._pending_rows >= self._max_rows:
            self._finish()

    def _flush(self, whole_groups_only: bool) -> None:
        size = self._pending_rows - self._pending_rows % _ROW_GROUP if whole_groups_only else self._pending_rows
        if not size:
            return
        if self._open is None:
            self._open = _OpenShard(self._plan.staged(self._name()))
        table = pa.Table.from_batches(self._pending, schema=SHARD_SCHEMA)
        written = table.slice(0, size)
        self._open.writer.write_table(written, row_group_size=_ROW_GROUP)
        self._open.rows += size
        self._open.tokens += len(written.column(shard.INPUT_IDS).combine_chunks().flatten())
        self._pending = table.slice(size).to_batches()
        self._pending_rows -= size

    def _finish(self) -> None:
        self._flush(whole_groups_only=False)
        shard_file, self._open = self._open, None
        shard_file.writer.close()
        sha = shard_file.sink.publish()
        self._infos.append(ShardInfo(file=self._name(), rows=shard_file.rows, tokens=shard_file.tokens, sha256=sha))

    def _name(self) -> str:
        return self._plan.shard_name(self._file_index, len(self._infos))
