"""A step's gradient is that of the mean loss over all its masked tokens, however the step is cut into
micro-batches, and backward runs outside autocast."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from trainer import train as train_module
from trainer.config import ModelConfig
from trainer.data import PretrainingBatches, open_shards
from trainer.model import MegatronBertForPreTraining
from trainer.train import accumulate_gradients

from shard_factory import SPECIALS, VOCAB_SIZE

NO_DROPOUT = ModelConfig(hidden_size=64, num_layers=2, num_heads=4, intermediate_size=256, hidden_dropout=0.0,
                         attention_dropout=0.0)
STEP_ROWS = 32


def _micro_batches(shard_dir: Path, size: int) -> list[dict[str, torch.Tensor]]:
    """The first 32 training rows in manifest order, in micro-batches of `size`; a row's masks do not
    depend on its micro-batch."""
    shards = open_shards(shard_dir, eval_shards=1)
    batches = PretrainingBatches(shards.train, SPECIALS, VOCAB_SIZE, micro_batch_size=size, seed=3, epoch=0,
                                 shuffle=False, pad_to_multiple_of=8, replacement_ids=shards.replacement_ids)
    return [batch for _, batch in zip(range(STEP_ROWS // size), batches)]


def _gradients(micro_batches: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = MegatronBertForPreTraining(NO_DROPOUT)
    accumulate_gradients(model, micro_batches, torch.device("cpu"), world=1)
    return {name: parameter.grad for name, parameter in model.named_parameters()}


def test_one_micro_batch_of_32_and_four_of_8_give_the_same_gradient(shard_dir: Path) -> None:
    four = _micro_batches(shard_dir, 8)
    masked = [batch["mlm_labels"].numel() for batch in four]
    sop_rows = [int((batch["sop_labels"] >= 0).sum()) for batch in four]
    # Unequal counts, else a mean per micro-batch would give the same gradient and prove nothing.
    assert len(set(masked)) > 1 and len(set(sop_rows)) > 1, (masked, sop_rows)
    whole, accumulated = _gradients(_micro_batches(shard_dir, 32)), _gradients(four)
    for name, gradient in whole.items():
        torch.testing.assert_close(accumulated[name], gradient, rtol=1e-4, atol=1e-7, msg=name)


def test_backward_runs_outside_autocast(shard_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # CPU autocast stands in for CUDA's: the training step must leave the context before backward.
    monkeypatch.setattr(train_module, "_autocast", lambda device: torch.autocast("cpu", dtype=torch.bfloat16))
    torch.manual_seed(0)
    model = MegatronBertForPreTraining(NO_DROPOUT)
    in_autocast: list[bool] = []
    model.bert.embeddings.word_embeddings.weight.register_hook(
        lambda grad: in_autocast.append(torch.is_autocast_enabled("cpu")))
    accumulate_gradients(model, _micro_batches(shard_dir, 8)[:2], torch.device("cpu"), world=1)
    assert in_autocast == [False, False]
