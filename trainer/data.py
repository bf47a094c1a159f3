"""Masked, padded micro-batches straight from the Parquet shards.

Order of an epoch: shards in a (seed, epoch) permutation, rows within each shard in a
(seed, epoch, shard) permutation. That local shuffle lets a reader hold one shard at a time; the
global batch still mixes as many shards as there are ranks. The epoch's stream is cut into
`world_size` contiguous ranges of whole micro-batches (the tail that fills no micro-batch on every
rank is dropped, a different tail each epoch); loader workers of a rank take its micro-batches
round-robin, which is the order `DataLoader` returns them in. So the position of a run inside an
epoch is one integer, the number of micro-batches a rank has consumed, and does not depend on the
number of workers.

Batches are built from Arrow buffers with numpy, never row by row in Python, and are padded only to
the longest row (rounded up to `pad_to_multiple_of`, which bounds `torch.compile` recompiles).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch.utils.data import IterableDataset, get_worker_info

from schemas import shard as cols
from schemas.errors import UserInputError
from schemas.manifest import MANIFEST_NAME, Manifest, SpecialTokens, read_manifest
from trainer.config import MaskingConfig
from trainer.masking import mask_batch

COLUMNS = [cols.INPUT_IDS, cols.LEN_A, cols.WORD_START, cols.ENTITY_START, cols.ENTITY_END, cols.SOP_LABEL]


@dataclass(frozen=True)
class ShardFile:
    path: Path
    rows: int
    first_row: int  # global row id of its first row, in manifest order: the key masks are drawn from


@dataclass(frozen=True)
class ShardSet:
    manifest: Manifest
    train: list[ShardFile]
    eval: list[ShardFile]


def open_shards(data_dir: str | Path, eval_shards: int = 0) -> ShardSet:
    """Reads the manifest and holds out its last `eval_shards` shards for evaluation."""
    directory = Path(data_dir)
    if not (directory / MANIFEST_NAME).is_file():
        raise UserInputError(f"{directory} has no {MANIFEST_NAME}: run `erlangshen-data prepare` first")
    manifest = read_manifest(directory)
    files, first = [], 0
    for info in manifest.shards:
        path = directory / info.file
        if not path.is_file():
            raise UserInputError(f"shard {path} listed in the manifest is missing")
        files.append(ShardFile(path, info.rows, first))
        first += info.rows
    if not 0 <= eval_shards < len(files):
        raise UserInputError(f"--eval-shards must be in [0, {len(files) - 1}] for {len(files)} shards")
    cut = len(files) - eval_shards
    return ShardSet(manifest, files[:cut], files[cut:])


def _permutation(n: int, *key: int) -> np.ndarray:
    return np.random.default_rng([*key]).permutation(n)


class PretrainingBatches(IterableDataset):
    """One epoch of masked micro-batches for one rank, from micro-batch `start` on."""

    def __init__(
        self,
        shards: list[ShardFile],
        specials: SpecialTokens,
        vocab_size: int,
        *,
        micro_batch_size: int,
        seed: int,
        epoch: int,
        rank: int = 0,
        world_size: int = 1,
        start: int = 0,
        shuffle: bool = True,
        masking: MaskingConfig = MaskingConfig(),
        pad_to_multiple_of: int = 8,
        max_len: int = 512,
    ) -> None:
        self.shards = shards
        self.specials = specials
        self.vocab_size = vocab_size
        self.micro_batch_size = micro_batch_size
        self.seed, self.epoch = seed, epoch
        self.rank, self.world_size = rank, world_size
        self.start = start
        self.masking = masking
        self.pad_to_multiple_of = pad_to_multiple_of
        self.max_len = max_len
        count = len(shards)
        self.shard_order = _permutation(count, seed, epoch) if shuffle else np.arange(count)
        self.shuffle = shuffle
        # Row offsets of each shard in this epoch's stream.
        rows = np.array([shards[i].rows for i in self.shard_order], dtype=np.int64)
        self.stream_offsets = np.concatenate([[0], np.cumsum(rows)])
        self.batches_per_rank = int(self.stream_offsets[-1]) // (micro_batch_size * world_size)

    def __len__(self) -> int:
        return max(self.batches_per_rank - self.start, 0)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        reader = _ShardReader(self)
        for index in range(self.start, self.batches_per_rank):
            if index % workers == worker:
                yield self.build(reader, index)

    def build(self, reader: "_ShardReader", index: int) -> dict[str, torch.Tensor]:
        first = (self.rank * self.batches_per_rank + index) * self.micro_batch_size
        table, row_ids = reader.rows(np.arange(first, first + self.micro_batch_size))
        return self.collate(table, row_ids)

    def collate(self, table: pa.Table, row_ids: np.ndarray) -> dict[str, torch.Tensor]:
        ids_column = table.column(cols.INPUT_IDS).combine_chunks()
        lengths = ids_column.value_lengths().to_numpy().astype(np.int64)
        batch = lengths.size
        multiple = self.pad_to_multiple_of
        seq = min(-(-int(lengths.max()) // multiple) * multiple, self.max_len)
        if lengths.max() > seq:
            raise UserInputError(f"a row has {lengths.max()} tokens; the model has {self.max_len} positions")
        columns = np.arange(seq)
        real = columns[None, :] < lengths[:, None]
        pad = self.specials.pad
        input_ids = np.full((batch, seq), pad, dtype=np.int64)
        input_ids[real] = ids_column.flatten().to_numpy()
        word_start = np.zeros((batch, seq), dtype=bool)
        word_start[real] = table.column(cols.WORD_START).combine_chunks().flatten().to_numpy(zero_copy_only=False)
        special = ~real | (input_ids == self.specials.cls) | (input_ids == self.specials.sep)
        special |= input_ids == self.specials.mask

        starts = table.column(cols.ENTITY_START).combine_chunks()
        entity_row = np.repeat(np.arange(batch), starts.value_lengths().to_numpy())
        masked = mask_batch(
            input_ids,
            word_start,
            special,
            entity_row,
            starts.flatten().to_numpy().astype(np.int64),
            table.column(cols.ENTITY_END).combine_chunks().flatten().to_numpy().astype(np.int64),
            row_ids,
            seed=self.seed,
            epoch=self.epoch,
            mask_id=self.specials.mask,
            vocab_size=self.vocab_size,
            config=self.masking,
        )
        len_a = table.column(cols.LEN_A).to_numpy().astype(np.int64)
        return {
            "input_ids": torch.from_numpy(masked.input_ids),
            "token_type_ids": torch.from_numpy((real & (columns[None, :] >= len_a[:, None])).astype(np.int64)),
            "attention_mask": torch.from_numpy(real),
            "mlm_positions": torch.from_numpy(masked.positions),
            "mlm_labels": torch.from_numpy(masked.labels),
            "sop_labels": torch.from_numpy(table.column(cols.SOP_LABEL).to_numpy().astype(np.int64)),
            "row_ids": torch.from_numpy(row_ids.astype(np.int64)),
        }


class _ShardReader:
    """Holds the shard being read (and its row permutation); streams are shard-major, so one suffices."""

    def __init__(self, batches: PretrainingBatches) -> None:
        self.batches = batches
        self.loaded: int | None = None
        self.table: pa.Table | None = None
        self.row_order: np.ndarray | None = None

    def _load(self, slot: int) -> None:
        if self.loaded != slot:
            b = self.batches
            shard_index = int(b.shard_order[slot])
            shard = b.shards[shard_index]
            self.table = pq.read_table(shard.path, columns=COLUMNS)
            if self.table.num_rows != shard.rows:
                raise UserInputError(f"{shard.path} has {self.table.num_rows} rows, the manifest says {shard.rows}")
            self.row_order = (_permutation(shard.rows, b.seed, b.epoch, shard_index) if b.shuffle
                              else np.arange(shard.rows))
            self.loaded = slot

    def rows(self, stream_positions: np.ndarray) -> tuple[pa.Table, np.ndarray]:
        b = self.batches
        slots = np.searchsorted(b.stream_offsets, stream_positions, side="right") - 1
        parts, row_ids = [], []
        for slot in np.unique(slots):
            self._load(int(slot))
            local = self.row_order[stream_positions[slots == slot] - b.stream_offsets[slot]]
            parts.append(self.table.take(local))
            row_ids.append(local + b.shards[int(b.shard_order[slot])].first_row)
        return pa.concat_tables(parts), np.concatenate(row_ids).astype(np.uint64)
