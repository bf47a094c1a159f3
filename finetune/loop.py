"""One fine-tuning run, top to bottom: seed, model, epochs of shuffled batches, evaluation, predictions.

Everything random comes from the seed: the head's initial weights and dropout from torch's RNG
(seeded before the model is built), the order of each epoch from numpy's generator keyed by
(seed, epoch). The learning rate warms up linearly over `warmup_ratio` of the steps, then decays
linearly to zero, as BERT's fine-tuning does.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from finetune.config import Hyperparameters
from finetune.encoding import EncodedExamples
from finetune.model import StartingPoint, build_classifier

Log = Callable[[dict[str, Any]], None]


@dataclass
class SeedResult:
    seed: int
    accuracy: dict[str, float | None] = field(default_factory=dict)  # split -> accuracy (None: no labels)
    predictions: dict[str, np.ndarray] = field(default_factory=dict)  # split -> predicted class per example


def _pad(rows: list[np.ndarray], len_a: np.ndarray, pad_id: int, device: torch.device) -> dict[str, Any]:
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    seq = -(-int(lengths.max()) // 8) * 8
    columns = np.arange(seq)
    real = columns[None, :] < lengths[:, None]
    ids = np.full((len(rows), seq), pad_id, dtype=np.int64)
    ids[real] = np.concatenate(rows)
    types = (real & (columns[None, :] >= len_a[:, None])).astype(np.int64)
    return {"input_ids": torch.from_numpy(ids).to(device), "token_type_ids": torch.from_numpy(types).to(device),
            # None where nothing is padded: SDPA's fastest path (as the trainer does).
            "attention_mask": None if real.all() else torch.from_numpy(real).to(device)}


def _batches(data: EncodedExamples, order: np.ndarray, size: int, pad_id: int,
             device: torch.device) -> Iterator[tuple[np.ndarray, dict[str, Any]]]:
    for first in range(0, len(order), size):
        index = order[first:first + size]
        yield index, _pad([data.input_ids[i] for i in index], data.len_a[index], pad_id, device)


def _autocast(device: torch.device):
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


def lr_factor(step: int, total: int, warmup_ratio: float) -> float:
    warmup = max(int(total * warmup_ratio), 1)
    if step < warmup:
        return (step + 1) / warmup
    return max(total - step, 0) / max(total - warmup, 1)


@torch.no_grad()
def predict(model: torch.nn.Module, data: EncodedExamples, batch_size: int, pad_id: int,
            device: torch.device) -> tuple[np.ndarray, float | None, float | None]:
    """Predicted class per example, and accuracy and mean loss over the labelled ones (None if none).
    Batches go by length, so an evaluation pads little; predictions come back in file order."""
    model.eval()
    lengths = np.fromiter(map(len, data.input_ids), dtype=np.int64, count=len(data))
    predicted = np.zeros(len(data), dtype=np.int64)
    loss_sum = 0.0
    for index, batch in _batches(data, np.argsort(lengths, kind="stable"), batch_size, pad_id, device):
        with _autocast(device):
            logits = model(**batch).float()
        predicted[index] = logits.argmax(-1).cpu().numpy()
        labels = torch.from_numpy(data.labels[index]).to(device)
        if bool((labels >= 0).any()):
            loss_sum += float(F.cross_entropy(logits, labels, ignore_index=-1, reduction="sum"))
    model.train()
    labelled = data.labels >= 0
    if not labelled.any():
        return predicted, None, None
    return predicted, float((predicted[labelled] == data.labels[labelled]).mean()), loss_sum / int(labelled.sum())


def fine_tune(start: StartingPoint, train: EncodedExamples, evaluations: dict[str, EncodedExamples], num_labels: int,
              hp: Hyperparameters, seed: int, pad_id: int, device: torch.device, log: Log) -> SeedResult:
    """Trains on `train`; evaluates every split of `evaluations` after the last epoch, and "dev" (if
    given) after each one. Records go to `log`, each with the seed."""
    torch.manual_seed(seed)
    model = build_classifier(start, num_labels).to(device)
    decay = [p for n, p in model.named_parameters() if p.ndim == 2 and "embeddings" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.ndim == 2 and "embeddings" not in n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": hp.weight_decay},
                                   {"params": rest, "weight_decay": 0.0}], lr=hp.lr, fused=device.type == "cuda")
    steps_per_epoch = -(-len(train) // hp.batch_size)
    total = steps_per_epoch * hp.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, total, hp.warmup_ratio))
    labels = torch.from_numpy(train.labels)
    step, window_loss, window_steps = 0, 0.0, 0
    result = SeedResult(seed)
    model.train()
    for epoch in range(hp.epochs):
        order = np.random.default_rng([seed, epoch]).permutation(len(train))
        for index, batch in _batches(train, order, hp.batch_size, pad_id, device):
            with _autocast(device):
                logits = model(**batch).float()
            loss = F.cross_entropy(logits, labels[index].to(device))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), hp.grad_clip)
            lr = scheduler.get_last_lr()[0]  # the rate this step uses
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            window_loss, window_steps = window_loss + float(loss.detach()), window_steps + 1
            if step % hp.log_every == 0 or step == total:
                log({"kind": "train", "seed": seed, "epoch": epoch, "step": step, "loss": window_loss / window_steps,
                     "lr": lr})
                window_loss, window_steps = 0.0, 0
        last = epoch == hp.epochs - 1
        for split, data in evaluations.items():
            if split != "dev" and not last:
                continue
            predicted, accuracy, loss = predict(model, data, hp.eval_batch_size, pad_id, device)
            log({"kind": "eval", "seed": seed, "epoch": epoch, "step": step, "split": split, "accuracy": accuracy,
                 "loss": loss, "examples": len(data), "labelled": int((data.labels >= 0).sum())})
            if last:
                result.accuracy[split], result.predictions[split] = accuracy, predicted
    return result
