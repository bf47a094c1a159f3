"""bench/learning_signal.py's masking schemes do what their names say, through the trainer's own masker."""
from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from bench.learning_signal import scheme_batches
from schemas import shard as cols
from tests.schemas.shard_fixtures import make_shards, write_output
from trainer.data import open_shards


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory):
    directory = write_output(tmp_path_factory.mktemp("scheme_shards"), make_shards(shards=2, rows=120))
    return open_shards(directory, eval_shards=1)


def _masked(shards, scheme: str, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """The (B, S) chosen-token mask of every row of the training shard, in file order, and its row ids."""
    batches = scheme_batches(shards, shards.train, scheme, micro_batch=120, seed=3, epoch=epoch, shuffle=False)
    batch = next(iter(batches))
    chosen = np.zeros(batch["input_ids"].numel(), dtype=bool)
    chosen[batch["mlm_positions"].numpy()] = True
    return chosen.reshape(batch["input_ids"].shape), batch["row_ids"].numpy()


def _words(shards) -> list[list[tuple[int, int]]]:
    """Each row's word spans [start, end) over its content tokens, from `word_start`."""
    table = pq.read_table(shards.train[0].path)
    spans = []
    for ids, starts in zip(table.column(cols.INPUT_IDS).to_pylist(), table.column(cols.WORD_START).to_pylist()):
        bounds = [i for i, start in enumerate(starts) if start] + [len(ids)]
        spans.append(list(zip(bounds[:-1], bounds[1:])))
    return spans


def _partly_masked_words(chosen: np.ndarray, words: list[list[tuple[int, int]]]) -> int:
    return sum(0 < chosen[row, start:end].sum() < end - start for row, spans in enumerate(words)
               for start, end in spans)


def test_char_masks_single_tokens_and_draws_them_once(shards) -> None:
    first, rows = _masked(shards, "char", epoch=0)
    second, rows_again = _masked(shards, "char", epoch=1)
    assert np.array_equal(rows, rows_again) and np.array_equal(first, second)  # static: every epoch the same
    assert _partly_masked_words(first, _words(shards)) > 0  # units are tokens, not words


@pytest.mark.parametrize("scheme", ["wwm", "wwm+kdm"])
def test_word_schemes_draw_new_masks_each_epoch(shards, scheme: str) -> None:
    assert not np.array_equal(_masked(shards, scheme, epoch=0)[0], _masked(shards, scheme, epoch=1)[0])


def test_wwm_masks_whole_words_only_and_kdm_adds_entity_units(shards) -> None:
    words = _words(shards)
    wwm, _ = _masked(shards, "wwm", epoch=0)
    assert wwm.any() and _partly_masked_words(wwm, words) == 0
    # An entity span that cuts a word is a unit of its own under KDM, so some word gets masked in part.
    kdm, _ = _masked(shards, "wwm+kdm", epoch=0)
    assert _partly_masked_words(kdm, words) > 0
