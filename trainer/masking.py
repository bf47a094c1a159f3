"""Dynamic whole-word (WWM) + knowledge (KDM) masking of a padded batch, vectorised in numpy.

Units are entity spans and whole words (`word_start`); a unit is masked whole or not at all. An
entity span is one unit even where the segmenter's word boundaries cut it, and the words it cuts keep
their outside parts as units of their own. Per example the budget is 15% of the non-special tokens:
entity units are drawn first, up to `entity_share` of the budget, then words fill the rest. Units are
taken in a random order while the running length fits the budget (a prefix, so the rate can fall
short by less than one unit, never exceed it). Chosen tokens become [MASK] 80%, a random id 10%,
themselves 10%.

Randomness is a counter-based hash of (seed, epoch, global row, position), not a generator's stream:
the masks of a row do not depend on which batch, rank or worker it lands in, they differ every epoch
and a resumed run redraws exactly the same ones, with no RNG state to save.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainer.config import MaskingConfig

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_UNIT_STREAM = np.uint64(0x5EED0001)
_TOKEN_STREAM = np.uint64(0x5EED0002)
_ABSENT = np.uint16(0xFFFF)  # sorts after every real unit key


def splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijective, well-mixed hash of uint64 (numpy wraps on overflow)."""
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def row_keys(seed: int, epoch: int, row_ids: np.ndarray, stream: np.uint64) -> np.ndarray:
    base = splitmix64(np.asarray([seed], dtype=np.uint64) ^ stream)
    base = splitmix64(base ^ np.uint64(epoch))
    return splitmix64(base ^ row_ids.astype(np.uint64))


def position_hash(keys: np.ndarray, positions: np.ndarray) -> np.ndarray:
    return splitmix64(keys ^ (positions.astype(np.uint64) * _GOLDEN))


@dataclass(frozen=True)
class MaskedBatch:
    input_ids: np.ndarray  # (B, S) int64 with the 80/10/10 replacements applied
    positions: np.ndarray  # (N,) int64 flat indices into (B*S) of the chosen tokens
    labels: np.ndarray  # (N,) int64 original ids at `positions`


def mask_batch(
    input_ids: np.ndarray,
    word_start: np.ndarray,
    special: np.ndarray,
    entity_row: np.ndarray,
    entity_start: np.ndarray,
    entity_end: np.ndarray,
    row_ids: np.ndarray,
    *,
    seed: int,
    epoch: int,
    mask_id: int,
    vocab_size: int,
    config: MaskingConfig,
) -> MaskedBatch:
    """Masks a padded (B, S) batch; `special` is True at [CLS], [SEP] and padding."""
    batch, seq = input_ids.shape
    flat_count = batch * seq
    maskable = ~special.reshape(-1)

    # Entity coverage by a difference array: +1 at each span start, -1 at its end.
    span_starts = entity_row.astype(np.int64) * seq + entity_start
    delta = np.bincount(span_starts, minlength=flat_count + 1)
    delta -= np.bincount(entity_row.astype(np.int64) * seq + entity_end, minlength=flat_count + 1)
    in_entity = np.cumsum(delta[:flat_count]) > 0
    is_entity_start = np.zeros(flat_count, dtype=bool)
    is_entity_start[span_starts] = True

    prev_in_entity = np.empty_like(in_entity)
    prev_in_entity[0], prev_in_entity[1:] = False, in_entity[:-1]
    prev_maskable = np.empty_like(maskable)
    prev_maskable[0], prev_maskable[1:] = False, maskable[:-1]
    unit_start = (word_start.reshape(-1) | is_entity_start | (prev_in_entity & ~in_entity) | ~prev_maskable)
    unit_start &= maskable & (is_entity_start | ~in_entity)

    # Units numbered in flat order, hence grouped by row; each gets a column within its row.
    starts = np.flatnonzero(unit_start)
    if starts.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return MaskedBatch(input_ids=input_ids.astype(np.int64), positions=empty, labels=empty)
    unit_of_token = np.cumsum(unit_start) - 1
    unit_len = np.bincount(unit_of_token[maskable], minlength=starts.size)
    unit_row = starts // seq
    units_per_row = np.bincount(unit_row, minlength=batch)
    first_unit = np.cumsum(units_per_row) - units_per_row
    unit_col = np.arange(starts.size) - first_unit[unit_row]

    # 16-bit sort keys: the top bit puts entity units (0) before word units (1), 15 random bits
    # order units within each phase. numpy sorts 16-bit keys by radix sort, which keeps this fast.
    unit_is_entity = is_entity_start[starts]
    rand = position_hash(row_keys(seed, epoch, row_ids, _UNIT_STREAM)[unit_row], starts % seq)
    keys = np.full((batch, max(int(units_per_row.max(initial=0)), 1)), _ABSENT, dtype=np.uint16)
    keys[unit_row, unit_col] = (rand >> np.uint64(49)).astype(np.uint16) | np.where(
        unit_is_entity, np.uint16(0), np.uint16(0x8000)
    )
    order = np.argsort(keys, axis=1, kind="stable")
    sorted_present = np.take_along_axis(keys, order, axis=1) != _ABSENT
    unit_index = np.where(sorted_present, first_unit[:, None] + order, 0)
    sorted_len = np.where(sorted_present, unit_len[unit_index], 0)
    sorted_entity = sorted_present & unit_is_entity[unit_index]

    n_maskable = maskable.reshape(batch, seq).sum(axis=1)
    budget = np.where(n_maskable > 0, np.maximum(np.rint(n_maskable * config.mask_rate), 1), 0).astype(np.int64)
    entity_budget = np.rint(budget * config.entity_share).astype(np.int64)
    cumulative = np.cumsum(sorted_len, axis=1)
    take_entity = sorted_entity & (cumulative <= entity_budget[:, None])
    entity_taken = np.where(take_entity, sorted_len, 0).sum(axis=1)
    entity_total = np.where(sorted_entity, sorted_len, 0).sum(axis=1)
    word_cumulative = cumulative - entity_total[:, None]
    take_word = sorted_present & ~sorted_entity & (entity_taken[:, None] + word_cumulative <= budget[:, None])

    chosen_unit = np.zeros(starts.size, dtype=bool)
    chosen_unit[unit_index[take_entity | take_word]] = True
    positions = np.flatnonzero(maskable & chosen_unit[unit_of_token])

    flat_ids = input_ids.reshape(-1)
    labels = flat_ids[positions].astype(np.int64)
    token_rand = position_hash(row_keys(seed, epoch, row_ids, _TOKEN_STREAM)[positions // seq], positions % seq)
    draw = (token_rand >> np.uint64(40)).astype(np.float64) / float(1 << 24)
    replacement = np.where(
        draw < config.mask_token_prob,
        mask_id,
        np.where(
            draw < config.mask_token_prob + config.random_token_prob,
            (token_rand & np.uint64(0xFFFFFFFF)) % np.uint64(vocab_size),
            labels,
        ),
    )
    masked = input_ids.astype(np.int64, copy=True)
    masked.reshape(-1)[positions] = replacement
    return MaskedBatch(input_ids=masked, positions=positions.astype(np.int64), labels=labels)
