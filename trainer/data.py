"""Masked, padded micro-batches straight from the Parquet shards.

Order of an epoch. `prepare` writes one shard per input file, rows in document order, and a WuDao
file is often one source: read shard by shard, an epoch would feed the model one source (even one
document) for many steps in a row. So the epoch's (seed, epoch) shard permutation is cut into groups of
`mix_shards` consecutive shards and a group's rows are permuted jointly, keyed by (seed, epoch, the
group's shards): every micro-batch draws from up to `mix_shards` sources, and which sources meet
changes every epoch. A reader holds one group at a time (only the columns a batch needs), so memory is
`mix_shards` shards per loader worker whatever the corpus size, where a global shuffle would hold the
corpus or read every file at random. With `mix_shards=1` the key is (seed, epoch, shard), the order of
the shard-at-a-time reader this replaced: a run started under it resumes on the same batches with
`--mix-shards 1` (the position counts micro-batches of one order, so K must not change mid-epoch).

Why 8 by default: B rows drawn from K equal sources hold K(1 - (1 - 1/K)^B) distinct ones, 7.1 of 8 at
B = 16 and 5.3 at B = 8; a larger K adds little to one micro-batch while memory grows with it, and the
global batch multiplies the mix by the number of ranks, each reading its own stretch of the stream.
Lower it when shards are large; raise it when a micro-batch is much larger than K.

The epoch's stream is cut into `world_size` contiguous ranges of whole micro-batches (the tail that
fills no micro-batch on every rank is dropped, a different tail each epoch); loader workers of a rank
take its micro-batches round-robin from `start`, the order `DataLoader` returns them in. So the
position of a run inside an epoch is one integer, the number of micro-batches a rank has consumed,
and does not depend on the number of workers.

Rows are packed (shard layout 3.0): a row holds one or more whole SOP examples, so a micro-batch of
B rows holds more than B examples and little padding. The collator describes where each example sits
(`trainer/examples.py`) and the model keeps attention, positions, token types and SOP inside it.
Masks are keyed on the example's (doc_id, example_in_doc), never on its row or place, so they do not
depend on packing, `mix_shards`, rank or worker either.

Batches are built from Arrow buffers with numpy, never row by row in Python, and are padded only to
the longest row (rounded up to `pad_to_multiple_of`, which bounds `torch.compile` recompiles).
"""
from __future__ import annotations

import hashlib
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
from schemas.manifest import Manifest, SpecialTokens
from trainer.config import MIX_SHARDS, MaskingConfig
from trainer.examples import ExampleLayout
from trainer.masking import example_keys, mask_batch, replacement_ids
from trainer.outputs import output_file, read_output_manifest

COLUMNS = [cols.INPUT_IDS, cols.WORD_START, cols.ENTITY_START, cols.ENTITY_END, cols.EXAMPLE_LEN, cols.LEN_A,
           cols.SOP_LABEL, cols.DOC_ID, cols.EXAMPLE_IN_DOC]
# The shard layout this reader understands, schemas/shard.py's (3.x: packed rows, per-example columns).


@dataclass(frozen=True)
class ShardFile:
    path: Path
    rows: int
    first_row: int  # global row id of its first row, in manifest order


@dataclass(frozen=True)
class ShardSet:
    manifest: Manifest
    train: list[ShardFile]
    eval: list[ShardFile]
    replacement_ids: np.ndarray  # what masking's random replacement draws from: the vocabulary's real tokens


def read_vocab_tokens(directory: Path, manifest: Manifest) -> list[str]:
    """The vocabulary the shards were tokenized with (`prepare` copies it into its output), checked
    against the manifest's sha256: another vocabulary would give other replacement ids."""
    path = output_file(directory, manifest.vocab.file)
    if not path.is_file():
        raise UserInputError(f"{path}, the vocabulary the manifest names, is missing")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != manifest.vocab.sha256:
        raise UserInputError(f"{path} is not the vocabulary the shards were made with (its sha256 is not the "
                             f"manifest's)")
    tokens = [line.rstrip("\r") for line in data.decode("utf-8").split("\n")]
    if tokens and tokens[-1] == "":
        tokens.pop()
    if len(tokens) != manifest.vocab.size:
        raise UserInputError(f"{path} has {len(tokens)} entries, the manifest says {manifest.vocab.size}")
    return tokens


def open_shards(data_dir: str | Path, eval_shards: int = 0) -> ShardSet:
    """Reads the manifest and holds out its last `eval_shards` shards for evaluation."""
    directory = Path(data_dir)
    manifest = read_output_manifest(directory)
    files, first = [], 0
    for info in manifest.shards:
        path = output_file(directory, info.file)
        if not path.is_file():
            raise UserInputError(f"shard {path} listed in the manifest is missing")
        files.append(ShardFile(path, info.rows, first))
        first += info.rows
    if not 0 <= eval_shards < len(files):
        raise UserInputError(f"--eval-shards must be in [0, {len(files) - 1}] for {len(files)} shards")
    cut = len(files) - eval_shards
    real = replacement_ids(read_vocab_tokens(directory, manifest), manifest.special_tokens)
    return ShardSet(manifest, files[:cut], files[cut:], real)


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
        mix_shards: int = MIX_SHARDS,
        replacement_ids: np.ndarray | None = None,
    ) -> None:
        """`replacement_ids`: what a random replacement draws (`ShardSet.replacement_ids`, the real
        tokens); without it, every id below `vocab_size` but the special tokens, for a vocabulary
        that has no [unusedN] placeholders."""
        if mix_shards < 1:
            raise UserInputError(f"mix_shards must be at least 1, got {mix_shards}")
        self.shards = shards
        self.specials = specials
        self.vocab_size = vocab_size
        if replacement_ids is None:
            reserved = [specials.pad, specials.unk, specials.cls, specials.sep, specials.mask]
            replacement_ids = np.setdiff1d(np.arange(vocab_size), reserved)
        self.replacement_ids = np.asarray(replacement_ids, dtype=np.int64)
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
        # Unshuffled (evaluation) streams keep manifest order, which no grouping changes: one shard at a time.
        width = mix_shards if shuffle else 1
        self.groups = [[int(i) for i in self.shard_order[g:g + width]] for g in range(0, count, width)]
        # Row offsets of each group in this epoch's stream.
        rows = np.array([sum(shards[i].rows for i in group) for group in self.groups], dtype=np.int64)
        self.group_offsets = np.concatenate([[0], np.cumsum(rows)])
        self.batches_per_rank = int(self.group_offsets[-1]) // (micro_batch_size * world_size)

    def __len__(self) -> int:
        return max(self.batches_per_rank - self.start, 0)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        reader = _GroupReader(self)
        # Dealt from `start`, not from 0: `DataLoader` asks worker 0 first, so from an odd `start` (a
        # resume) dealing by `index % workers` would return the micro-batches in swapped pairs.
        for index in range(self.start + worker, self.batches_per_rank, workers):
            yield self.build(reader, index)

    def build(self, reader: "_GroupReader", index: int) -> dict[str, torch.Tensor]:
        first = (self.rank * self.batches_per_rank + index) * self.micro_batch_size
        table, row_ids = reader.rows(np.arange(first, first + self.micro_batch_size))
        return self.collate(table, row_ids)

    def collate(self, table: pa.Table, row_ids: np.ndarray) -> dict[str, torch.Tensor]:
        """Padded (B, S) tensors of `table`'s rows, masked, and where their E examples sit: per token
        `position_ids` and `token_type_ids` that restart at each example and `sequence_ids` (the
        example within the row, -1 on padding); per example `cls_positions` (flat [CLS] indices) and
        `sop_labels`. `row_ids` are the rows' global ids, kept for the caller's bookkeeping."""
        ids_column = table.column(cols.INPUT_IDS).combine_chunks()
        lengths = ids_column.value_lengths().to_numpy().astype(np.int64)
        batch = lengths.size
        multiple = self.pad_to_multiple_of
        seq = min(-(-int(lengths.max()) // multiple) * multiple, self.max_len)
        if lengths.max() > seq:
            raise UserInputError(f"a row has {lengths.max()} tokens; the model has {self.max_len} positions")
        example_column = table.column(cols.EXAMPLE_LEN).combine_chunks()
        example_len = example_column.flatten().to_numpy().astype(np.int64)
        per_row = example_column.value_lengths().to_numpy().astype(np.int64)
        if not np.array_equal(np.bincount(np.repeat(np.arange(batch), per_row), example_len, minlength=batch),
                              lengths) or (per_row == 0).any():
            raise UserInputError("a shard row's example_len does not add up to its tokens: the shard is corrupt")
        examples = ExampleLayout.from_lengths(example_len, per_row, seq)
        keys = example_keys(table.column(cols.DOC_ID).combine_chunks().flatten().to_pylist(),
                            table.column(cols.EXAMPLE_IN_DOC).combine_chunks().flatten().to_numpy())

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
            examples,
            keys,
            seed=self.seed,
            epoch=self.epoch,
            mask_id=self.specials.mask,
            random_ids=self.replacement_ids,
            config=self.masking,
        )
        len_a = table.column(cols.LEN_A).combine_chunks().flatten().to_numpy().astype(np.int64)
        token_type = real.reshape(-1) & (examples.position >= len_a[np.maximum(examples.of_token, 0)])
        sop = table.column(cols.SOP_LABEL).combine_chunks().flatten().to_numpy().astype(np.int64)
        return {
            "input_ids": torch.from_numpy(masked.input_ids),
            "token_type_ids": torch.from_numpy(token_type.reshape(batch, seq).astype(np.int64)),
            "attention_mask": torch.from_numpy(real),
            "position_ids": torch.from_numpy(examples.position.reshape(batch, seq)),
            "sequence_ids": torch.from_numpy(examples.sequence_ids.reshape(batch, seq)),
            "cls_positions": torch.from_numpy(examples.start),
            "example_len": torch.from_numpy(example_len),
            "mlm_positions": torch.from_numpy(masked.positions),
            "mlm_labels": torch.from_numpy(masked.labels),
            "sop_labels": torch.from_numpy(sop),
            "row_ids": torch.from_numpy(row_ids.astype(np.int64)),
        }


class _GroupReader:
    """Holds the group being read: its shards' tables and the joint row permutation. The stream is
    group-major, so one group suffices; the previous one is dropped before the next is read."""

    def __init__(self, batches: PretrainingBatches) -> None:
        self.batches = batches
        self.loaded: int | None = None
        self.tables: list[pa.Table] = []
        self.member_offsets = np.zeros(1, dtype=np.int64)  # row offsets of the members inside the group
        self.first_rows = np.zeros(0, dtype=np.int64)
        self.row_order = np.zeros(0, dtype=np.int64)

    def _load(self, group: int) -> None:
        if self.loaded == group:
            return
        b = self.batches
        members = b.groups[group]
        self.loaded, self.tables = None, []
        for shard_index in members:
            shard = b.shards[shard_index]
            table = pq.read_table(shard.path, columns=COLUMNS)
            if table.num_rows != shard.rows:
                raise UserInputError(f"{shard.path} has {table.num_rows} rows, the manifest says {shard.rows}")
            self.tables.append(table)
        sizes = [b.shards[i].rows for i in members]
        self.member_offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.first_rows = np.array([b.shards[i].first_row for i in members], dtype=np.int64)
        total = int(self.member_offsets[-1])
        # A one-shard group's key is (seed, epoch, shard): the key of the shard-at-a-time order.
        self.row_order = _permutation(total, b.seed, b.epoch, *members) if b.shuffle else np.arange(total)
        self.loaded = group

    def rows(self, stream_positions: np.ndarray) -> tuple[pa.Table, np.ndarray]:
        """The rows at these stream positions, in that order, and their global row ids."""
        b = self.batches
        groups = np.searchsorted(b.group_offsets, stream_positions, side="right") - 1
        parts, row_ids = [], []
        for group in np.unique(groups):
            self._load(int(group))
            local = self.row_order[stream_positions[groups == group] - b.group_offsets[group]]
            member = np.searchsorted(self.member_offsets, local, side="right") - 1
            in_shard = local - self.member_offsets[member]
            # Taken per shard (a concatenated group could overflow a list column's 32-bit offsets),
            # then put back in stream order.
            order = np.argsort(member, kind="stable")
            taken = [self.tables[m].take(in_shard[member == m]) for m in np.unique(member)]
            table = pa.concat_tables(taken)
            if len(taken) > 1:
                table = table.take(np.argsort(order))
            parts.append(table)
            row_ids.append(in_shard + self.first_rows[member])
        return pa.concat_tables(parts), np.concatenate(row_ids).astype(np.uint64)
