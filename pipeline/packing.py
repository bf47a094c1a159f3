"""Packing whole SOP examples into shard rows of at most max_seq_len tokens (layout 3.0, schemas/shard.py).

One example per row leaves about half of every padded micro-batch to `[PAD]` on WuDao-like text
(issue 19); packing examples into full rows brings that to a few percent (bench/padding.py). The packer
is best-fit decreasing over one window of examples: longest example first, each into the open row
whose room it fills most tightly (ties: the row opened first), a new row when none has room. It looks
at lengths only and breaks every tie by position, so the same window always gives the same rows.

The windows are cut by the writer (pipeline/beam/shard_writer.py) from the file's example sequence
alone, so the rows are the same for any worker count. Within a row the examples keep their window
order, and rows are ordered by their first example: a shard still reads roughly in document order.

The Python loop runs once per example over a sorted list of free room (bisect), never per token; the
columns are then gathered for the whole window with a few numpy/pyarrow calls.
"""
from __future__ import annotations

from bisect import bisect_left, insort

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas import shard

_BIN_BITS = 32  # a free-room key is room << 32 | row: sorted by room, then by the row opened first


def pack_lengths(lengths: np.ndarray, capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """Best-fit decreasing of examples of these token lengths into rows of at most `capacity` tokens.

    Returns the example indices in row order and the number of examples in each row. The plain twin
    is `tests/pipeline/test_packing.py::reference_pack` (an O(n * rows) scan), which this must equal."""
    lengths = np.asarray(lengths, dtype=np.int64)
    count = len(lengths)
    if count == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if lengths.max() > capacity or lengths.min() < 1:
        raise ValueError(f"example lengths must lie in 1..{capacity}")
    smallest = int(lengths.min())
    row_of = np.empty(count, dtype=np.int64)
    free: list[int] = []
    rows = 0
    mask = (1 << _BIN_BITS) - 1
    for index in np.argsort(-lengths, kind="stable").tolist():
        need = int(lengths[index])
        at = bisect_left(free, need << _BIN_BITS)
        if at == len(free):
            row, room = rows, capacity
            rows += 1
        else:
            key = free.pop(at)
            row, room = key & mask, key >> _BIN_BITS
        room -= need
        if room >= smallest:
            insort(free, room << _BIN_BITS | row)
        row_of[index] = row
    first = np.full(rows, count, dtype=np.int64)
    np.minimum.at(first, row_of, np.arange(count))
    rank = np.empty(rows, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(rows)
    order = np.lexsort((np.arange(count), rank[row_of]))
    return order, np.bincount(rank[row_of], minlength=rows)


def _offsets(lengths: np.ndarray) -> pa.Array:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.array(offsets, type=pa.int32())


def _values(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """The flat values of a list column, whatever its chunks and slice offsets."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column.flatten()


def rows_from_examples(examples: pa.Table, order: np.ndarray, sizes: np.ndarray) -> pa.Table:
    """Shard rows (SHARD_SCHEMA) holding `examples` (one example a row, `pipeline.rows.EXAMPLE_SCHEMA`)
    taken in `order`, `sizes[i]` of them in row i: token and entity columns are concatenated, entity
    positions shifted by where their example starts in its row."""
    taken = examples.take(pa.array(order, type=pa.int64()))
    example_len = pc.list_value_length(taken.column(shard.INPUT_IDS)).to_numpy().astype(np.int64)
    entity_counts = pc.list_value_length(taken.column(shard.ENTITY_START)).to_numpy().astype(np.int64)
    row_of = np.repeat(np.arange(len(sizes)), sizes)
    row_tokens = np.bincount(row_of, weights=example_len, minlength=len(sizes)).astype(np.int64)
    row_entities = np.bincount(row_of, weights=entity_counts, minlength=len(sizes)).astype(np.int64)
    row_start = np.cumsum(row_tokens) - row_tokens
    example_start = np.cumsum(example_len) - example_len - row_start[row_of]
    shift = np.repeat(example_start, entity_counts)

    def shifted(name: str) -> pa.Array:
        values = _values(taken.column(name)).to_numpy(zero_copy_only=False).astype(np.int64) + shift
        return pa.array(values.astype(np.uint16), type=pa.uint16())

    tokens, entities, per_row = _offsets(row_tokens), _offsets(row_entities), _offsets(sizes)
    columns = {
        shard.INPUT_IDS: pa.ListArray.from_arrays(tokens, _values(taken.column(shard.INPUT_IDS))),
        shard.WORD_START: pa.ListArray.from_arrays(tokens, _values(taken.column(shard.WORD_START))),
        shard.ENTITY_START: pa.ListArray.from_arrays(entities, shifted(shard.ENTITY_START)),
        shard.ENTITY_END: pa.ListArray.from_arrays(entities, shifted(shard.ENTITY_END)),
        shard.ENTITY_TYPE: pa.ListArray.from_arrays(entities, _values(taken.column(shard.ENTITY_TYPE))),
        shard.EXAMPLE_LEN: pa.ListArray.from_arrays(per_row, pa.array(example_len.astype(np.uint16))),
    }
    for name in (shard.LEN_A, shard.SOP_LABEL, shard.DOC_ID, shard.EXAMPLE_IN_DOC):
        columns[name] = pa.ListArray.from_arrays(per_row, taken.column(name).combine_chunks())
    return pa.Table.from_arrays([columns[field.name] for field in shard.SHARD_SCHEMA], schema=shard.SHARD_SCHEMA)


def pack_examples(examples: pa.Table, capacity: int | None) -> pa.Table:
    """The window's shard rows: packed into rows of at most `capacity` tokens, or one example per row
    when `capacity` is None (`prepare --no-pack`)."""
    if capacity is None:
        count = examples.num_rows
        return rows_from_examples(examples, np.arange(count), np.ones(count, dtype=np.int64))
    lengths = pc.list_value_length(examples.column(shard.INPUT_IDS)).to_numpy()
    return rows_from_examples(examples, *pack_lengths(lengths, capacity))
