"""Masking properties: rate, whole units, no specials, determinism, fresh masks each epoch."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from trainer.config import MaskingConfig
from trainer.data import PretrainingBatches, open_shards
from trainer.masking import mask_batch

from shard_factory import SPECIALS, VOCAB_SIZE


def _epoch_batches(shard_dir: Path, epoch: int, seed: int = 7, **kw) -> list[dict]:
    shards = open_shards(shard_dir, eval_shards=1)
    data = PretrainingBatches(shards.train, SPECIALS, VOCAB_SIZE, micro_batch_size=32, seed=seed, epoch=epoch, **kw)
    return list(data)


def _units(row_ids: np.ndarray, shard_dir: Path) -> dict[int, dict]:
    """The rows of the shard set by global row id, read independently of the dataset."""
    tables = [pq.read_table(p) for p in sorted((shard_dir / "shards").glob("*.parquet"))]
    rows = [r for t in tables for r in t.to_pylist()]
    return {int(i): rows[int(i)] for i in row_ids}


def test_rate_is_15_percent_of_non_special_tokens(shard_dir: Path) -> None:
    batches = _epoch_batches(shard_dir, 0)
    chosen = sum(b["mlm_positions"].numel() for b in batches)
    originals = _units(np.concatenate([b["row_ids"].numpy() for b in batches]), shard_dir)
    non_special = sum(sum(t not in (SPECIALS.cls, SPECIALS.sep) for t in r["input_ids"]) for r in originals.values())
    # The prefix rule can fall short of a row's budget by less than one unit, never exceed it.
    assert 0.13 < chosen / non_special <= 0.15 + 1e-9


def test_units_are_whole_and_specials_untouched(shard_dir: Path) -> None:
    batch = _epoch_batches(shard_dir, 1)[0]
    originals = _units(batch["row_ids"].numpy(), shard_dir)
    seq = batch["input_ids"].shape[1]
    chosen = np.zeros(batch["input_ids"].shape, dtype=bool)
    chosen.reshape(-1)[batch["mlm_positions"].numpy()] = True
    entity_units = 0
    for b, row_id in enumerate(batch["row_ids"].numpy()):
        row = originals[int(row_id)]
        ids, starts = np.array(row["input_ids"]), np.array(row["word_start"])
        mine = chosen[b, : len(ids)]
        assert not mine[np.isin(ids, [SPECIALS.cls, SPECIALS.sep])].any()
        assert not chosen[b, len(ids):].any()
        inside = np.zeros(len(ids), dtype=bool)
        for s, e in zip(row["entity_start"], row["entity_end"]):
            assert mine[s:e].all() or not mine[s:e].any(), "entity split"
            entity_units += bool(mine[s:e].all())
            inside[s:e] = True
        # Outside entities, a word's tokens share one fate.
        for position in range(1, len(ids)):
            if not starts[position] and not inside[position] and not inside[position - 1]:
                assert mine[position] == mine[position - 1], f"word split at {position}"
        labels = batch["mlm_labels"].numpy()[np.isin(batch["mlm_positions"].numpy() // seq, [b])]
        assert np.array_equal(labels, ids[mine])
    assert entity_units > 0


def test_replacements_are_80_10_10(shard_dir: Path) -> None:
    batches = _epoch_batches(shard_dir, 0)
    after = np.concatenate([b["input_ids"].reshape(-1)[b["mlm_positions"]].numpy() for b in batches])
    labels = np.concatenate([b["mlm_labels"].numpy() for b in batches])
    assert abs((after == SPECIALS.mask).mean() - 0.8) < 0.03
    assert abs((after == labels).mean() - 0.1) < 0.03  # random ids rarely hit the original


def test_same_seed_and_epoch_give_identical_masks(shard_dir: Path) -> None:
    first, again = _epoch_batches(shard_dir, 3), _epoch_batches(shard_dir, 3)
    for a, b in zip(first, again, strict=True):
        assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def test_masks_differ_across_epochs_and_seeds_for_the_same_row(shard_dir: Path) -> None:
    def masks_by_row(batches: list[dict]) -> dict[int, tuple]:
        out = {}
        for b in batches:
            seq = b["input_ids"].shape[1]
            positions = b["mlm_positions"].numpy()
            for i, row in enumerate(b["row_ids"].numpy()):
                out[int(row)] = tuple(positions[positions // seq == i] % seq)
        return out

    e0, e1 = masks_by_row(_epoch_batches(shard_dir, 0)), masks_by_row(_epoch_batches(shard_dir, 1))
    other_seed = masks_by_row(_epoch_batches(shard_dir, 0, seed=8))
    common = set(e0) & set(e1)
    assert len(common) > 100
    assert sum(e0[r] == e1[r] for r in common) < 0.05 * len(common)
    assert sum(e0[r] == other_seed[r] for r in set(e0) & set(other_seed)) < 0.05 * len(common)


def test_mask_of_a_row_does_not_depend_on_its_batch() -> None:
    rng = np.random.default_rng(0)
    ids = rng.integers(700, 900, (4, 40))
    ids[:, 0], ids[:, -1] = SPECIALS.cls, SPECIALS.sep
    special = np.isin(ids, [SPECIALS.cls, SPECIALS.sep])
    starts = rng.random(ids.shape) < 0.5
    rows = np.array([10, 11, 12, 13], dtype=np.uint64)
    kw = dict(seed=1, epoch=2, mask_id=SPECIALS.mask, vocab_size=VOCAB_SIZE, config=MaskingConfig())
    empty = np.zeros(0, dtype=np.int64)
    whole = mask_batch(ids, starts, special, empty, empty, empty, rows, **kw)
    alone = mask_batch(ids[2:3], starts[2:3], special[2:3], empty, empty, empty, rows[2:3], **kw)
    assert np.array_equal(whole.input_ids[2], alone.input_ids[0])


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_entity_share_moves_budget_between_entities_and_words(shard_dir: Path, share: float) -> None:
    batch = _epoch_batches(shard_dir, 0, masking=MaskingConfig(entity_share=share))[0]
    originals = _units(batch["row_ids"].numpy(), shard_dir)
    seq = batch["input_ids"].shape[1]
    in_entity = 0
    for b, row_id in enumerate(batch["row_ids"].numpy()):
        spans = originals[int(row_id)]
        cols = batch["mlm_positions"].numpy()
        cols = cols[cols // seq == b] % seq
        in_entity += sum(any(s <= c < e for s, e in zip(spans["entity_start"], spans["entity_end"])) for c in cols)
    if share == 0.0:
        assert in_entity == 0
    else:
        assert in_entity > 0.5 * batch["mlm_positions"].numel()
