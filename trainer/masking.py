"""Dynamic whole-word (WWM) + knowledge (KDM) masking of a padded batch, vectorised in numpy.

Its simple twin, one row at a time in plain Python, is `_reference_row` in
tests/trainer/test_dynamic_masking.py; `test_vectorised_units_and_draws_equal_the_per_row_reference`
pins the two to the same units and draws. Read it first.

Units are entity spans and whole words (`word_start`); a unit is masked whole or not at all. An
entity span is one unit even where the segmenter's word boundaries cut it, and the words it cuts keep
their outside parts as units of their own.

Sampling. Each unit is drawn on its own, with a probability set by its kind: a word unit with p, an
entity unit with `entity_boost` * p, where p is fixed per example so that the expected number of
masked tokens is `mask_rate` of its non-special tokens (sum over units of probability * length). With
a boost of 1 every unit has probability `mask_rate`: entities are plain whole-word units, which is how
ERNIE 1.0's `mask()` (every word, phrase or entity unit chosen with p = 0.15) and Erlangshen's
Fengshenbang-LM (`create_masked_lm_predictions`: one shuffled pool of units) sample them; the README
says why that is the default. A draw is independent of the other units and of the other epochs, so an
entity is masked in all of k epochs with probability p_entity**k, never nearly always. The count per
example varies (binomially) around its expectation; the loss is normalised by the step's masked
tokens, so a row with few masks weighs no less per token (trainer/train.py). An entity probability
above 1 is capped, which only a boost above 1 / mask_rate can reach.

Chosen tokens become [MASK] `mask_token_prob`, a random real token `random_token_prob` (never a
special or [unusedN]: `replacement_ids`), and stay themselves otherwise.

Randomness is a counter-based hash of (seed, epoch, global row, position), not a generator's stream:
the masks of a row do not depend on which batch, rank or worker it lands in, they differ every epoch
and a resumed run redraws exactly the same ones, with no RNG state to save.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from schemas.manifest import SpecialTokens
from trainer.config import MaskingConfig

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_UNIT_STREAM = np.uint64(0x5EED0001)
_TOKEN_STREAM = np.uint64(0x5EED0002)
_UNIT_FLOAT = 2.0**-53  # a hash's top 53 bits as a float in [0, 1): every unit can fall under any p > 0
_PLACEHOLDER = re.compile(r"\[[^\[\]]*\]")  # [PAD], [CLS], [unused7]: BERT's bracketed non-text entries


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


def replacement_ids(tokens: Sequence[str], specials: SpecialTokens) -> np.ndarray:
    """The ids a random replacement may take: every vocabulary entry but the special tokens and the
    bracketed placeholders ([unused1], ...), which no text tokenizes to."""
    reserved = {specials.pad, specials.unk, specials.cls, specials.sep, specials.mask}
    return np.array([i for i, token in enumerate(tokens)
                     if i not in reserved and not _PLACEHOLDER.fullmatch(token)], dtype=np.int64)


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
    random_ids: np.ndarray,
    config: MaskingConfig,
) -> MaskedBatch:
    """Masks a padded (B, S) batch; `special` is True at [CLS], [SEP] and padding; `random_ids` are
    the ids a random replacement draws from (`replacement_ids`)."""
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

    # Units numbered in flat order, hence grouped by row.
    starts = np.flatnonzero(unit_start)
    if starts.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return MaskedBatch(input_ids=input_ids.astype(np.int64), positions=empty, labels=empty)
    unit_of_token = np.cumsum(unit_start) - 1
    unit_len = np.bincount(unit_of_token[maskable], minlength=starts.size)
    unit_row = starts // seq

    # Per example: p * (word tokens + boost * entity tokens) = mask_rate * maskable tokens.
    weight = np.where(is_entity_start[starts], config.entity_boost, 1.0)
    weighted_tokens = np.bincount(unit_row, weights=unit_len * weight, minlength=batch)
    n_maskable = np.bincount(unit_row, weights=unit_len, minlength=batch)
    word_probability = config.mask_rate * n_maskable / np.maximum(weighted_tokens, 1e-12)
    probability = np.minimum(word_probability[unit_row] * weight, 1.0)
    rand = position_hash(row_keys(seed, epoch, row_ids, _UNIT_STREAM)[unit_row], starts % seq)
    chosen_unit = (rand >> np.uint64(11)).astype(np.float64) * _UNIT_FLOAT < probability
    positions = np.flatnonzero(maskable & chosen_unit[unit_of_token])

    flat_ids = input_ids.reshape(-1)
    labels = flat_ids[positions].astype(np.int64)
    token_rand = position_hash(row_keys(seed, epoch, row_ids, _TOKEN_STREAM)[positions // seq], positions % seq)
    draw = (token_rand >> np.uint64(40)).astype(np.float64) / float(1 << 24)
    random_token = random_ids[((token_rand & np.uint64(0xFFFFFFFF)) % np.uint64(random_ids.size)).astype(np.int64)]
    replacement = np.where(
        draw < config.mask_token_prob,
        mask_id,
        np.where(draw < config.mask_token_prob + config.random_token_prob, random_token, labels),
    )
    masked = input_ids.astype(np.int64, copy=True)
    masked.reshape(-1)[positions] = replacement
    return MaskedBatch(input_ids=masked, positions=positions.astype(np.int64), labels=labels)
