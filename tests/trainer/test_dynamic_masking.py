"""Masking properties: rate, whole units, no specials, determinism, fresh masks each epoch, the
entity boost, independent draws across epochs, real replacement tokens, the per-example reference,
and the same masks for an example packed with others or alone."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from schemas.manifest import SpecialTokens
from trainer.config import MaskingConfig
from trainer.data import PretrainingBatches, open_shards
from trainer.examples import ExampleLayout
from trainer.masking import _UNIT_STREAM, draw_keys, example_keys, mask_batch, position_hash, replacement_ids

from shard_factory import PLACEHOLDER_IDS, SPECIALS, VOCAB_SIZE, write_one_example_per_row, write_shard_set

BERT_VOCAB = Path(__file__).resolve().parents[3] / "shared" / "data" / "vocab" / "bert-base-chinese-vocab.txt"


def _epoch_batches(shard_dir: Path, epoch: int, seed: int = 7, **kw) -> list[dict]:
    shards = open_shards(shard_dir, eval_shards=1)
    data = PretrainingBatches(shards.train, SPECIALS, VOCAB_SIZE, micro_batch_size=32, seed=seed, epoch=epoch,
                              replacement_ids=shards.replacement_ids, **kw)
    return list(data)


def _full_rows(ids: np.ndarray) -> ExampleLayout:
    """One example a row, filling it: the layout of rows with no packing and no padding."""
    rows, seq = ids.shape
    return ExampleLayout.from_lengths(np.full(rows, seq), np.ones(rows, dtype=np.int64), seq)


def _units(row_ids: np.ndarray, shard_dir: Path) -> dict[int, dict]:
    """The rows of the shard set by global row id, read independently of the dataset."""
    tables = [pq.read_table(p) for p in sorted((shard_dir / "shards").glob("*.parquet"))]
    rows = [r for t in tables for r in t.to_pylist()]
    return {int(i): rows[int(i)] for i in row_ids}


def _chosen_and_entities(batches: list[dict], shard_dir: Path) -> tuple[dict[int, np.ndarray], dict[int, list]]:
    """Per row id: a bool per token (chosen or not), and the row as stored."""
    chosen = {}
    for b in batches:
        mask = np.zeros(b["input_ids"].shape, dtype=bool)
        mask.reshape(-1)[b["mlm_positions"].numpy()] = True
        for i, row_id in enumerate(b["row_ids"].tolist()):
            chosen[row_id] = mask[i]
    return chosen, _units(np.array(sorted(chosen)), shard_dir)


def _rates(batches: list[dict], shard_dir: Path) -> tuple[float, float, float]:
    """Per-token mask rates: all non-special tokens, inside entity spans, outside them."""
    chosen, rows = _chosen_and_entities(batches, shard_dir)
    hits = np.zeros(3)
    totals = np.zeros(3)
    for row_id, row in rows.items():
        ids = np.array(row["input_ids"])
        real = ~np.isin(ids, [SPECIALS.cls, SPECIALS.sep])
        inside = np.zeros(len(ids), dtype=bool)
        for s, e in zip(row["entity_start"], row["entity_end"]):
            inside[s:e] = True
        mine = chosen[row_id][: len(ids)]
        for k, where in enumerate((real, real & inside, real & ~inside)):
            hits[k] += mine[where].sum()
            totals[k] += where.sum()
    rate, inside_rate, outside_rate = hits / totals
    return float(rate), float(inside_rate), float(outside_rate)


@pytest.mark.parametrize("boost", [1.0, 3.0])
def test_expected_rate_is_15_percent_of_non_special_tokens_for_any_boost(shard_dir: Path, boost: float) -> None:
    # ~48,000 non-special tokens in ~31,000 units: the binomial spread of the rate is about 0.002.
    rate, _, _ = _rates(_epoch_batches(shard_dir, 0, masking=MaskingConfig(entity_boost=boost)), shard_dir)
    assert abs(rate - 0.15) < 0.008, rate


def test_boost_one_masks_entity_tokens_like_other_tokens(shard_dir: Path) -> None:
    """Factor 1: an entity is a plain whole-word unit (before, the budget went to entities first and
    they were masked 84% of the time against 12% for other tokens)."""
    _, inside, outside = _rates(_epoch_batches(shard_dir, 0, masking=MaskingConfig(entity_boost=1.0)), shard_dir)
    assert abs(inside - 0.15) < 0.02 and abs(outside - 0.15) < 0.01, (inside, outside)


def test_boost_multiplies_the_entity_rate_against_the_word_rate(shard_dir: Path) -> None:
    _, inside, outside = _rates(_epoch_batches(shard_dir, 0, masking=MaskingConfig(entity_boost=3.0)), shard_dir)
    assert 2.6 < inside / outside < 3.4 and outside < 0.15 < inside < 0.5, (inside, outside)


@pytest.mark.parametrize("boost", [1.0, 3.0])
def test_an_entity_is_masked_in_all_of_three_epochs_as_often_as_independent_draws_give(shard_dir: Path,
                                                                                     boost: float) -> None:
    masking = MaskingConfig(entity_boost=boost)
    epochs = [_chosen_and_entities(_epoch_batches(shard_dir, e, masking=masking), shard_dir) for e in range(3)]
    rows = epochs[0][1]
    entities = [(row_id, s) for row_id, row in rows.items() for s in row["entity_start"]
                if all(row_id in chosen for chosen, _ in epochs)]
    masked = np.array([[chosen[row_id][s] for row_id, s in entities] for chosen, _ in epochs])  # (3, entities)
    per_epoch = masked.mean(axis=1)
    all_three = masked.all(axis=0).mean()
    assert len(entities) > 2000
    # Rows here differ little in entity density, so the product of the per-epoch shares is what
    # independent draws give (0.15**3 = 0.003 at boost 1; before, 72% on real rows).
    assert abs(all_three - per_epoch.prod()) < 0.2 * per_epoch.prod() + 0.004, (all_three, per_epoch)
    assert all_three < (0.01 if boost == 1.0 else 0.2)


def test_every_unit_is_masked_at_a_rate_of_one() -> None:
    """No unit is out of reach: a 16-bit sort key of all ones once collided with the 'absent' sentinel
    0xFFFF, and such a word could never be masked (1 unit in 32,768 per epoch)."""
    rows, seq = 4096, 64
    ids = np.full((rows, seq), 800)
    ids[:, 0], ids[:, -1] = SPECIALS.cls, SPECIALS.sep
    special = np.isin(ids, [SPECIALS.cls, SPECIALS.sep])
    empty = np.zeros(0, dtype=np.int64)
    masked = mask_batch(ids, np.ones(ids.shape, dtype=bool), special, empty, empty, empty, _full_rows(ids),
                        np.arange(rows, dtype=np.uint64), seed=3, epoch=0, mask_id=SPECIALS.mask,
                        random_ids=np.arange(672, 800), config=MaskingConfig(mask_rate=1.0))
    assert masked.positions.size == int((~special).sum())  # 253,952 one-token units


def test_random_replacements_are_real_tokens_never_specials_or_unused(shard_dir: Path) -> None:
    every_token_random = MaskingConfig(mask_rate=1.0, mask_token_prob=0.0, random_token_prob=1.0)
    batches = _epoch_batches(shard_dir, 0, masking=every_token_random)
    drawn = np.concatenate([b["input_ids"].reshape(-1)[b["mlm_positions"]].numpy() for b in batches])
    assert drawn.size > 40_000  # uniform over 21,128 ids, ~200 would be among the 104 bracketed ones
    assert not np.isin(drawn, list(PLACEHOLDER_IDS)).any()
    assert len(np.unique(drawn)) > 15_000  # still spread over the real vocabulary


@pytest.mark.skipif(not BERT_VOCAB.is_file(), reason="bert-base-chinese vocab not in ../shared/data")
def test_replacement_ids_of_bert_chinese_leave_out_its_104_bracketed_entries() -> None:
    tokens = BERT_VOCAB.read_text(encoding="utf-8").split("\n")[:21128]
    real = replacement_ids(tokens, SpecialTokens(pad=0, unk=100, cls=101, sep=102, mask=103))
    assert real.size == 21128 - 104 and real[0] == 104
    assert not any(tokens[i].startswith("[") and tokens[i].endswith("]") for i in real)


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


def test_mask_of_an_example_does_not_depend_on_its_batch() -> None:
    rng = np.random.default_rng(0)
    ids = rng.integers(700, 900, (4, 40))
    ids[:, 0], ids[:, -1] = SPECIALS.cls, SPECIALS.sep
    special = np.isin(ids, [SPECIALS.cls, SPECIALS.sep])
    starts = rng.random(ids.shape) < 0.5
    rows = np.array([10, 11, 12, 13], dtype=np.uint64)
    kw = dict(seed=1, epoch=2, mask_id=SPECIALS.mask, random_ids=np.arange(104, VOCAB_SIZE), config=MaskingConfig())
    empty = np.zeros(0, dtype=np.int64)
    whole = mask_batch(ids, starts, special, empty, empty, empty, _full_rows(ids), rows, **kw)
    alone = mask_batch(ids[2:3], starts[2:3], special[2:3], empty, empty, empty, _full_rows(ids[2:3]), rows[2:3], **kw)
    assert np.array_equal(whole.input_ids[2], alone.input_ids[0])


def _reference_example(ids: list[int], word_start: list[bool], spans: list[tuple[int, int]], key: int, *,
                       seed: int, epoch: int, config: MaskingConfig) -> list[int]:
    """The simple twin of `mask_batch`'s unit choice, one example in plain Python: walk the tokens
    into units (an entity span is one unit; the parts of words it cuts are units of their own), give
    each its kind's probability so that the expected masked tokens are mask_rate of the maskable ones,
    and draw it from the same hash of the example's key and the unit's position in the example.
    Returns the chosen positions."""
    special = [t in (SPECIALS.cls, SPECIALS.sep) for t in ids]
    entity_at = {s: e for s, e in spans}
    units: list[tuple[int, int, bool]] = []  # (start, length, is entity)
    position, covered_until = 0, -1
    while position < len(ids):
        if special[position]:
            position += 1
        elif position in entity_at:
            units.append((position, entity_at[position] - position, True))
            covered_until = entity_at[position]
            position = covered_until
        else:
            end = position + 1
            while (end < len(ids) and not special[end] and not word_start[end] and end not in entity_at
                   and end != covered_until):
                end += 1
            units.append((position, end - position, False))
            position = end
    maskable = sum(length for _, length, _ in units)
    weighted = sum(length * (config.entity_boost if entity else 1.0) for _, length, entity in units)
    key = draw_keys(seed, epoch, np.array([key], dtype=np.uint64), _UNIT_STREAM)
    chosen = []
    for start, length, entity in units:
        probability = min(config.mask_rate * maskable / weighted * (config.entity_boost if entity else 1.0), 1.0)
        draw = int(position_hash(key, np.array([start]))[0]) >> 11
        if draw * 2.0**-53 < probability:
            chosen.extend(range(start, start + length))
    return chosen


def _examples_of(row: dict) -> list[tuple[int, list[int], list[bool], list[tuple[int, int]], int]]:
    """A stored row's examples: (offset in the row, ids, word starts, entity spans, key)."""
    keys = example_keys(row["doc_id"], np.array(row["example_in_doc"]))
    out, offset = [], 0
    for length, key in zip(row["example_len"], keys.tolist(), strict=True):
        end = offset + length
        spans = [(s - offset, e - offset) for s, e in zip(row["entity_start"], row["entity_end"]) if offset <= s < end]
        out.append((offset, row["input_ids"][offset:end], row["word_start"][offset:end], spans, key))
        offset = end
    return out


@pytest.fixture(scope="module")
def packed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three examples of one document a row, rows up to 64 tokens."""
    return write_shard_set(tmp_path_factory.mktemp("packed"), shards=3, rows_per_shard=64, examples_per_row=3,
                           seed=1)


@pytest.mark.parametrize("boost", [1.0, 2.5])
@pytest.mark.parametrize("layout", ["one example a row", "packed"])
def test_vectorised_units_and_draws_equal_the_per_example_reference(shard_dir: Path, packed_dir: Path, boost: float,
                                                                     layout: str) -> None:
    masking = MaskingConfig(entity_boost=boost)
    directory = shard_dir if layout == "one example a row" else packed_dir
    batches = _epoch_batches(directory, 2, masking=masking)[:8]
    chosen, rows = _chosen_and_entities(batches, directory)
    examples = 0
    for row_id, row in rows.items():
        expected = []
        for offset, ids, word_start, spans, key in _examples_of(row):
            reference = _reference_example(ids, word_start, spans, key, seed=7, epoch=2, config=masking)
            expected += [offset + position for position in reference]
            examples += 1
        assert np.flatnonzero(chosen[row_id]).tolist() == expected, row_id
    assert examples >= (3 if layout == "packed" else 1) * len(rows)


def _masks_by_example(directory: Path, epoch: int) -> dict[tuple[str, int], tuple[list[int], list[int]]]:
    """Per (doc_id, example_in_doc): its chosen positions inside the example and the ids they became."""
    shards = open_shards(directory)
    rows = sum(f.rows for f in shards.train)
    batch = next(iter(PretrainingBatches(shards.train, SPECIALS, VOCAB_SIZE, micro_batch_size=rows, seed=7,
                                         epoch=epoch, shuffle=False, replacement_ids=shards.replacement_ids)))
    stored = _units(batch["row_ids"].numpy(), directory)
    seq = batch["input_ids"].shape[1]
    positions = batch["mlm_positions"].numpy()
    after = batch["input_ids"].reshape(-1).numpy()
    out = {}
    for b, row_id in enumerate(batch["row_ids"].tolist()):
        row = stored[row_id]
        for index, (offset, ids, _, _, _) in enumerate(_examples_of(row)):
            first = b * seq + offset
            mine = positions[(positions >= first) & (positions < first + len(ids))]
            out[(row["doc_id"][index], row["example_in_doc"][index])] = ((mine - first).tolist(), after[mine].tolist())
    return out


@pytest.mark.parametrize("epoch", [0, 3])
def test_an_example_gets_the_same_mask_packed_as_one_example_a_row(packed_dir: Path, tmp_path: Path, epoch: int) -> None:
    unpacked_dir = write_one_example_per_row(packed_dir, tmp_path / "unpacked")
    packed, unpacked = _masks_by_example(packed_dir, epoch), _masks_by_example(unpacked_dir, epoch)
    assert len(packed) == 3 * 3 * 64 and packed.keys() == unpacked.keys()
    assert sum(len(chosen) for chosen, _ in packed.values()) > 1000
    assert packed == unpacked


def test_an_entity_cutting_words_is_one_unit_and_leaves_the_cut_parts_as_units() -> None:
    # [CLS] w w w w w w [SEP]: words at 1-3 and 4-6, an entity at 2-5 cuts both.
    ids = np.array([[SPECIALS.cls, 700, 701, 702, 703, 704, 705, SPECIALS.sep]])
    word_start = np.array([[True, True, False, False, True, False, False, True]])
    special = np.isin(ids, [SPECIALS.cls, SPECIALS.sep])
    row = np.array([0])
    seen = set()
    for epoch in range(200):
        masked = mask_batch(ids, word_start, special, row, np.array([2]), np.array([5]), _full_rows(ids),
                            np.array([9], np.uint64),
                            seed=1, epoch=epoch, mask_id=SPECIALS.mask, random_ids=np.arange(104, 800),
                            config=MaskingConfig(mask_rate=0.5))
        chosen = set(masked.positions.tolist())
        assert {2, 3, 4} <= chosen or not chosen & {2, 3, 4}
        seen.add(frozenset(chosen))
        reference = _reference_example(ids[0].tolist(), word_start[0].tolist(), [(2, 5)], 9, seed=1, epoch=epoch,
                                       config=MaskingConfig(mask_rate=0.5))
        assert sorted(chosen) == reference
    units = {frozenset({1}), frozenset({2, 3, 4}), frozenset({5, 6})}
    assert {frozenset(u) for s in seen for u in units if u <= s} == units  # each of the 3 units gets masked
