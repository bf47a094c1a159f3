"""Dynamic whole-word (WWM) + knowledge (KDM) masking of a padded batch, vectorised in numpy.

Its simple twin, one example at a time in plain Python, is `_reference_example` in
tests/trainer/test_dynamic_masking.py; `test_vectorised_units_and_draws_equal_the_per_example_reference`
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

Randomness is a counter-based hash of (seed, epoch, example, position in the example), not a
generator's stream. An example is named by (doc_id, example_in_doc) (`example_keys`), never by its row
or place in it, so its masks are the same packed with others or alone (`prepare --no-pack`), do not
depend on which batch, rank or worker it lands in, differ every epoch, and a resumed run redraws
exactly the same ones, with no RNG state to save. Units never cross an example: every example opens
with [CLS] and closes with [SEP], which are special, and the masking rate is held per example.

`mask_batch` reads as its three phases: find the units, choose some, replace their tokens.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from schemas.manifest import SpecialTokens
from trainer.config import MaskingConfig
from trainer.examples import ExampleLayout

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


def example_keys(doc_ids: Sequence[str], example_in_doc: np.ndarray) -> np.ndarray:
    """(E,) uint64 names of examples from (doc_id, example_in_doc) alone: what a mask is keyed on.
    One blake2b per example (a few per row), never per token."""
    digests = b"".join(hashlib.blake2b(doc.encode("utf-8"), digest_size=8).digest() for doc in doc_ids)
    doc_hash = np.frombuffer(digests, dtype="<u8").astype(np.uint64)
    return splitmix64(doc_hash ^ splitmix64(np.asarray(example_in_doc, dtype=np.uint64)))


def draw_keys(seed: int, epoch: int, keys: np.ndarray, stream: np.uint64) -> np.ndarray:
    """Per example and epoch: `keys` from `example_keys`."""
    base = splitmix64(np.asarray([seed], dtype=np.uint64) ^ stream)
    base = splitmix64(base ^ np.uint64(epoch))
    return splitmix64(base ^ keys.astype(np.uint64))


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


@dataclass(frozen=True)
class _Units:
    """Maskable units of a flattened batch, numbered in flat order (hence grouped by row and example)."""

    start: np.ndarray  # (U,) flat index of each unit's first token
    of_token: np.ndarray  # (B*S,) the unit of each token; meaningful on maskable tokens only
    length: np.ndarray  # (U,) tokens of each unit
    is_entity: np.ndarray  # (U,) an entity span (KDM) rather than a whole word (WWM)


def mask_batch(
    input_ids: np.ndarray,
    word_start: np.ndarray,
    special: np.ndarray,
    entity_row: np.ndarray,
    entity_start: np.ndarray,
    entity_end: np.ndarray,
    examples: ExampleLayout,
    keys: np.ndarray,
    *,
    seed: int,
    epoch: int,
    mask_id: int,
    random_ids: np.ndarray,
    config: MaskingConfig,
) -> MaskedBatch:
    """Masks a padded (B, S) batch; `special` is True at [CLS], [SEP] and padding; entity spans are
    in row coordinates; `keys` (E,) name the examples of `examples` (`example_keys`); `random_ids` are
    the ids a random replacement draws from (`replacement_ids`)."""
    seq = input_ids.shape[1]
    maskable = ~special.reshape(-1)
    rows = entity_row.astype(np.int64) * seq
    units = find_units(maskable, word_start.reshape(-1), rows + entity_start, rows + entity_end)
    if units.start.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return MaskedBatch(input_ids=input_ids.astype(np.int64), positions=empty, labels=empty)
    positions = choose_units(units, maskable, examples, keys, seed=seed, epoch=epoch, config=config)
    return replace_chosen(input_ids, positions, examples, keys, seed=seed, epoch=epoch, mask_id=mask_id,
                          random_ids=random_ids, config=config)


def find_units(maskable: np.ndarray, word_start: np.ndarray, span_start: np.ndarray,
               span_end: np.ndarray) -> _Units:
    """Whole words and entity spans (flat coordinates): an entity is one unit even where word
    boundaries cut it, and the parts of words it cuts are units of their own. A unit begins at a word
    start, an entity start, the first token after an entity or after a special token."""
    flat_count = maskable.size
    # Entity coverage by a difference array: +1 at each span start, -1 at its end.
    delta = np.bincount(span_start, minlength=flat_count + 1)
    delta -= np.bincount(span_end, minlength=flat_count + 1)
    in_entity = np.cumsum(delta[:flat_count]) > 0
    is_entity_start = np.zeros(flat_count, dtype=bool)
    is_entity_start[span_start] = True

    prev_in_entity = np.empty_like(in_entity)
    prev_in_entity[0], prev_in_entity[1:] = False, in_entity[:-1]
    prev_maskable = np.empty_like(maskable)
    prev_maskable[0], prev_maskable[1:] = False, maskable[:-1]
    unit_start = word_start | is_entity_start | (prev_in_entity & ~in_entity) | ~prev_maskable
    unit_start &= maskable & (is_entity_start | ~in_entity)

    starts = np.flatnonzero(unit_start)
    of_token = np.cumsum(unit_start) - 1
    length = np.bincount(of_token[maskable], minlength=starts.size)
    return _Units(start=starts, of_token=of_token, length=length, is_entity=is_entity_start[starts])


def choose_units(units: _Units, maskable: np.ndarray, examples: ExampleLayout, keys: np.ndarray, *,
                 seed: int, epoch: int, config: MaskingConfig) -> np.ndarray:
    """Draws every unit on its own; returns the flat positions of the chosen units' tokens.

    Per example: p * (word tokens + boost * entity tokens) = mask_rate * maskable tokens, and each
    draw hashes the example's key with the unit's position inside the example."""
    example = examples.of_token[units.start]
    count = examples.start.size
    weight = np.where(units.is_entity, config.entity_boost, 1.0)
    weighted_tokens = np.bincount(example, weights=units.length * weight, minlength=count)
    n_maskable = np.bincount(example, weights=units.length, minlength=count)
    word_probability = config.mask_rate * n_maskable / np.maximum(weighted_tokens, 1e-12)
    probability = np.minimum(word_probability[example] * weight, 1.0)
    rand = position_hash(draw_keys(seed, epoch, keys, _UNIT_STREAM)[example], examples.position[units.start])
    chosen_unit = (rand >> np.uint64(11)).astype(np.float64) * _UNIT_FLOAT < probability
    return np.flatnonzero(maskable & chosen_unit[units.of_token])


def replace_chosen(input_ids: np.ndarray, positions: np.ndarray, examples: ExampleLayout, keys: np.ndarray, *,
                   seed: int, epoch: int, mask_id: int, random_ids: np.ndarray,
                   config: MaskingConfig) -> MaskedBatch:
    """80/10/10: [MASK], a random real token, or the token itself, drawn per chosen token from the
    example's key and the token's position inside the example."""
    flat_ids = input_ids.reshape(-1)
    labels = flat_ids[positions].astype(np.int64)
    example = examples.of_token[positions]
    token_rand = position_hash(draw_keys(seed, epoch, keys, _TOKEN_STREAM)[example], examples.position[positions])
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
