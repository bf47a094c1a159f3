"""Epoch order over one-source shards: micro-batches mix `mix_shards` shards, every row once per epoch,
ranks read contiguous ranges, a resume continues the very stream, and K=1 is the shard-major order.

Each shard here is one source read front to back, as `prepare` writes one shard per input file.
"""
from __future__ import annotations

import argparse
import weakref
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from torch.utils.data import DataLoader

from erlangshen_data.commands import train as train_command
from schemas.errors import UserInputError
from trainer import data as data_module
from trainer.config import TrainConfig
from trainer.data import COLUMNS, PretrainingBatches, open_shards
from trainer.train import batches_for

from shard_factory import SPECIALS, VOCAB_SIZE, write_shard_set

# Uneven sources, one of them empty: 12 shards, 626 rows.
ROWS = [40, 64, 23, 90, 55, 0, 71, 48, 33, 66, 29, 107]
MICRO = 16
SEED = 5


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_shard_set(tmp_path_factory.mktemp("sources"), shards=len(ROWS), rows_per_shard=ROWS, max_len=32,
                           examples_per_row=2)


@pytest.fixture(scope="module")
def rows_by_id(source_dir: Path) -> list[dict]:
    """Every row by global id (manifest order), read without the dataset."""
    files = sorted((source_dir / "shards").glob("*.parquet"))
    return [row for path in files for row in pq.read_table(path).to_pylist()]


def _dataset(source_dir: Path, k: int, *, epoch: int = 0, rank: int = 0, world: int = 1, start: int = 0,
             ) -> PretrainingBatches:
    shards = open_shards(source_dir)
    return PretrainingBatches(shards.train, SPECIALS, VOCAB_SIZE, micro_batch_size=MICRO, seed=SEED, epoch=epoch,
                              rank=rank, world_size=world, start=start, pad_to_multiple_of=8, mix_shards=k)


def _batches(source_dir: Path, k: int, **kw) -> list[dict[str, np.ndarray]]:
    return [{key: value.numpy() for key, value in batch.items()} for batch in _dataset(source_dir, k, **kw)]


def _row_ids(batches: list[dict[str, np.ndarray]]) -> np.ndarray:
    return np.concatenate([b["row_ids"] for b in batches]) if batches else np.zeros(0, dtype=np.int64)


def _source(row: dict) -> str:
    return row["doc_id"][0].split("/")[0]


def _mean_sources_per_batch(batches: list[dict[str, np.ndarray]], rows_by_id: list[dict]) -> float:
    return float(np.mean([len({_source(rows_by_id[int(i)]) for i in b["row_ids"]}) for b in batches]))


def test_micro_batches_mix_rows_of_several_sources(source_dir: Path, rows_by_id: list[dict]) -> None:
    mixed = _mean_sources_per_batch(_batches(source_dir, 4), rows_by_id)
    shard_major = _mean_sources_per_batch(_batches(source_dir, 1), rows_by_id)
    # Shard by shard, a micro-batch is one source but where it straddles two shards.
    assert shard_major < 1.5
    # 16 uniform draws from 4 equal sources hold 3.96 of them; these are uneven, one is empty.
    assert mixed >= 3.0, mixed  # 3.6 to 3.9 over seeds 1-5


@pytest.mark.parametrize("k", [1, 4, 20], ids=["k1", "k4", "k-above-shard-count"])
@pytest.mark.parametrize("world", [1, 2])
def test_every_row_appears_once_per_epoch_and_ranks_do_not_overlap(source_dir: Path, k: int, world: int) -> None:
    per_rank = [_row_ids(_batches(source_dir, k, rank=rank, world=world)) for rank in range(world)]
    ids = np.concatenate(per_rank)
    assert len(np.unique(ids)) == ids.size  # within a rank and across ranks
    assert set(ids.tolist()) <= set(range(sum(ROWS)))
    # Only the tail that fills no micro-batch on every rank is dropped.
    assert 0 <= sum(ROWS) - ids.size < MICRO * world
    assert len({r.size for r in per_rank}) == 1 and per_rank[0].size % MICRO == 0


def test_ranks_read_contiguous_ranges_of_one_stream(source_dir: Path) -> None:
    whole = _row_ids(_batches(source_dir, 4))
    for rank in range(2):
        mine = _row_ids(_batches(source_dir, 4, rank=rank, world=2))
        assert np.array_equal(mine, whole[rank * mine.size:(rank + 1) * mine.size])


def test_epochs_draw_different_orders_and_different_groups(source_dir: Path, rows_by_id: list[dict]) -> None:
    first, second = _row_ids(_batches(source_dir, 4, epoch=0)), _row_ids(_batches(source_dir, 4, epoch=1))
    assert (first == second).mean() < 0.05
    assert len(set(first.tolist()) & set(second.tolist())) > sum(ROWS) - 2 * MICRO  # each still near complete
    opening = [{_source(rows_by_id[int(i)]) for i in ids[:MICRO * 4]} for ids in (first, second)]
    assert opening[0] != opening[1]  # the shards that meet in a group change too


@pytest.mark.parametrize("start", [1, 9, 18])
def test_resuming_at_a_micro_batch_yields_the_tail_of_the_straight_stream(source_dir: Path, start: int) -> None:
    straight = _batches(source_dir, 4, rank=1, world=2)
    resumed = _batches(source_dir, 4, rank=1, world=2, start=start)
    assert 0 < len(resumed) == len(straight) - start == len(_dataset(source_dir, 4, rank=1, world=2, start=start))
    for a, b in zip(straight[start:], resumed, strict=True):
        assert a.keys() == b.keys() and all(np.array_equal(a[key], b[key]) for key in a)


@pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")  # 3 workers on 2 cores
@pytest.mark.parametrize("workers", [2, 3])
def test_loader_workers_return_the_single_process_stream_from_a_resume(source_dir: Path, workers: int) -> None:
    # start 7 is no multiple of either worker count: dealing batches by `index % workers` swaps them.
    single = _batches(source_dir, 4, start=7)
    loader = DataLoader(_dataset(source_dir, 4, start=7), batch_size=None, num_workers=workers)
    pooled = [{key: value.numpy() for key, value in batch.items()} for batch in loader]
    assert len(pooled) == len(single)
    for a, b in zip(single, pooled, strict=True):
        assert all(np.array_equal(a[key], b[key]) for key in a)


@pytest.mark.parametrize("world", [1, 2])
@pytest.mark.parametrize("epoch", [0, 3])
def test_one_shard_at_a_time_is_the_shard_major_order(source_dir: Path, world: int, epoch: int) -> None:
    """K=1 keeps the keys of the reader it replaced, so runs started before it resume identically."""
    firsts = np.concatenate([[0], np.cumsum(ROWS)])
    stream = np.concatenate([
        firsts[shard] + np.random.default_rng([SEED, epoch, int(shard)]).permutation(ROWS[shard])
        for shard in np.random.default_rng([SEED, epoch]).permutation(len(ROWS))
    ])
    per_rank = sum(ROWS) // (MICRO * world) * MICRO
    for rank in range(world):
        got = _row_ids(_batches(source_dir, 1, epoch=epoch, rank=rank, world=world))
        assert np.array_equal(got, stream[rank * per_rank:(rank + 1) * per_rank])


def test_a_row_keeps_its_id_content_and_masks_whatever_k(source_dir: Path, rows_by_id: list[dict]) -> None:
    def by_row(batches: list[dict[str, np.ndarray]]) -> dict[int, tuple]:
        out = {}
        for b in batches:
            seq = b["input_ids"].shape[1]
            original = b["input_ids"].copy()
            original.reshape(-1)[b["mlm_positions"]] = b["mlm_labels"]  # undo the masking
            for i, row_id in enumerate(b["row_ids"].tolist()):
                chosen = b["mlm_positions"][b["mlm_positions"] // seq == i] % seq
                length = int(b["attention_mask"][i].sum())
                sop_labels = b["sop_labels"][b["cls_positions"] // seq == i]  # its examples' labels
                out[row_id] = (tuple(original[i, :length]), sop_labels.tolist(), tuple(chosen))
        return out

    mixed, shard_major = by_row(_batches(source_dir, 4)), by_row(_batches(source_dir, 1))
    for row_id, (ids, sop_labels, _) in mixed.items():
        assert ids == tuple(rows_by_id[row_id]["input_ids"]) and sop_labels == rows_by_id[row_id]["sop_label"]
    common = set(mixed) & set(shard_major)
    assert len(common) > sum(ROWS) - 2 * MICRO
    assert all(mixed[r] == shard_major[r] for r in common)  # masks are keyed on the examples, not on their place


def test_a_reader_holds_one_group_and_reads_each_shard_once(source_dir: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    k = 4
    reads, alive_before = [], []
    held: list[weakref.ref] = []
    original = pq.read_table

    def recording_read_table(path, columns=None, **kw):
        alive_before.append(sum(ref() is not None for ref in held))
        table = original(path, columns=columns, **kw)
        reads.append((Path(path).name, list(columns)))
        held.append(weakref.ref(table))
        return table

    monkeypatch.setattr(data_module.pq, "read_table", recording_read_table)
    assert _batches(source_dir, k)
    assert sorted(name for name, _ in reads) == sorted(p.name for p in (source_dir / "shards").glob("*.parquet"))
    assert all(columns == COLUMNS for _, columns in reads)  # never entity_type: only what a batch needs
    assert max(alive_before) == k - 1  # the group being loaded; the previous one is gone


def test_mix_shards_flag_reaches_the_dataset(source_dir: Path) -> None:
    parser = argparse.ArgumentParser()
    train_command.register(parser.add_subparsers())

    def parse(*extra: str) -> TrainConfig:
        return train_command.config_from_args(parser.parse_args(["train", "--data", str(source_dir), "--out", "o",
                                                                 *extra]))

    assert parse().mix_shards == TrainConfig(data_dir="", out_dir="").mix_shards == 8
    config = parse("--mix-shards", "3", "--micro-batch-size", str(MICRO), "--seed", str(SEED))
    assert config.mix_shards == 3
    shards = open_shards(source_dir)
    from_config = batches_for(shards.train, shards, config, rank=0, world=1, epoch=0)
    assert np.array_equal(_row_ids([{"row_ids": b["row_ids"].numpy()} for b in from_config]),
                          _row_ids(_batches(source_dir, 3)))
    with pytest.raises(SystemExit):  # the CLI ranges its numbers (issue 24), the config refuses them too
        parse("--mix-shards", "0")
    with pytest.raises(UserInputError, match="mix_shards"):
        TrainConfig(data_dir="", out_dir="", mix_shards=0)
