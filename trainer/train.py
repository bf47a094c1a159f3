"""The training loop, top to bottom: set-up, data, model, loop.

Runs as one process on a CPU, or under `torchrun` with DDP (FSDP per layer with `fsdp=True`, meant
for the 1.3b config), bf16 autocast and fused AdamW on CUDA. A step is `grad_accum_steps`
micro-batches on each rank, and its gradient is that of the mean loss over all their masked tokens
(`accumulate_gradients`); the checkpoint holds the data position, so a stopped run resumes on the very
batch (and masks, and dropout RNG) it would have seen next.
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from schemas.errors import UserInputError
from trainer.checkpoint import CHECKPOINT_DIR, Position, load_checkpoint, save_checkpoint
from trainer.config import TrainConfig, model_preset
from trainer.data import PretrainingBatches, ShardFile, ShardSet, open_shards
from trainer.export_hf import load_hf, read_hf_config
from trainer.metrics import MetricsLog, peak_flops
from trainer.model import MegatronBertForPreTraining, PretrainingLoss

METRICS_FILE = "metrics.jsonl"
MODEL_INPUTS = ("input_ids", "token_type_ids", "attention_mask", "mlm_positions", "mlm_labels", "sop_labels",
                "position_ids", "sequence_ids", "cls_positions")


def lr_factor(step: int, config: TrainConfig) -> float:
    """Linear warm-up, then linear or cosine decay to `min_lr_ratio` at `max_steps`."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = min((step - config.warmup_steps) / max(config.max_steps - config.warmup_steps, 1), 1.0)
    shape = 1 - progress if config.decay == "linear" else 0.5 * (1 + math.cos(math.pi * progress))
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * shape


def _setup_distributed() -> tuple[int, int, torch.device]:
    if "RANK" not in os.environ:
        return 0, 1, torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if torch.cuda.is_available():
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device)
    else:
        device = torch.device("cpu")
        dist.init_process_group("gloo")
    return dist.get_rank(), dist.get_world_size(), device


def build_model(config: TrainConfig, shards: ShardSet, device: torch.device) -> MegatronBertForPreTraining:
    model_config = read_hf_config(config.init_from) if config.init_from else model_preset(config.model)
    manifest = shards.manifest
    if manifest.vocab.size > model_config.vocab_size:
        raise UserInputError(f"the shards' vocabulary has {manifest.vocab.size} ids, the model only "
                             f"{model_config.vocab_size}")
    if manifest.max_seq_len > model_config.max_position_embeddings:
        raise UserInputError(f"the shards hold rows of up to {manifest.max_seq_len} tokens, the model has "
                             f"{model_config.max_position_embeddings} positions")
    model = load_hf(config.init_from) if config.init_from else MegatronBertForPreTraining(model_config)
    return model.to(device)


def _parallelize(model: MegatronBertForPreTraining, config: TrainConfig, world: int,
                 device: torch.device) -> torch.nn.Module:
    if config.compile:
        # Per layer: one compiled graph serves every layer and FSDP's per-layer hooks stay outside it.
        for layer in model.bert.encoder.layer:
            layer.compile()
    if config.fsdp:
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16 if device.type == "cuda" else None,
                                      reduce_dtype=torch.float32)
        for layer in model.bert.encoder.layer:
            fully_shard(layer, mp_policy=policy)
        fully_shard(model, mp_policy=policy)  # embeddings and the tied MLM head share the root unit
        return model
    if world > 1:
        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    return model


def configure_optimizer(model: torch.nn.Module, config: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """Weight decay on matrices only: biases, LayerNorms and embeddings are not shrunk towards zero."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        (decay if parameter.ndim == 2 and "embeddings" not in name else no_decay).append(parameter)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(config.beta1, config.beta2),
                             fused=device.type == "cuda")


def _loader(dataset: PretrainingBatches, config: TrainConfig, device: torch.device) -> DataLoader:
    # Its own generator: a DataLoader draws a base seed when iterated, which from the global RNG would
    # shift the dropout stream of a resumed run against the straight one.
    return DataLoader(dataset, batch_size=None, num_workers=config.num_workers, pin_memory=device.type == "cuda",
                      prefetch_factor=4 if config.num_workers else None,
                      generator=torch.Generator().manual_seed(config.seed))


class _MicroBatchesAcrossEpochs:
    """This rank's micro-batches, epoch after epoch, from `position`, which always names the next one
    to consume (the checkpoint saves it)."""

    def __init__(self, shards: ShardSet, config: TrainConfig, rank: int, world: int, device: torch.device,
                 position: Position, max_len: int) -> None:
        self.shards, self.config, self.rank, self.world, self.device = shards, config, rank, world, device
        self.position = position
        self.max_len = max_len

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        while True:
            dataset = batches_for(self.shards.train, self.shards, self.config, self.rank, self.world,
                                  epoch=self.position.epoch, start=self.position.batch_index, max_len=self.max_len)
            if dataset.batches_per_rank == 0:
                raise UserInputError("the training shards hold fewer rows than one micro-batch per rank")
            for batch in _loader(dataset, self.config, self.device):
                self.position.batch_index += 1
                yield batch
            self.position.epoch += 1
            self.position.batch_index = 0


def batches_for(files: list[ShardFile], shards: ShardSet, config: TrainConfig, rank: int, world: int, *,
                epoch: int, start: int = 0, shuffle: bool = True, max_len: int = 512) -> PretrainingBatches:
    return PretrainingBatches(
        files, shards.manifest.special_tokens, shards.manifest.vocab.size,
        micro_batch_size=config.micro_batch_size, seed=config.seed, epoch=epoch, rank=rank, world_size=world,
        start=start, shuffle=shuffle, masking=config.masking, pad_to_multiple_of=config.pad_to_multiple_of,
        max_len=max_len, mix_shards=config.mix_shards, replacement_ids=shards.replacement_ids,
    )


def model_inputs(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, Any]:
    """A collated batch as the model's keyword arguments on `device`.

    Checked on the host: rows that hold one example each and no padding need no mask at all (SDPA's
    fastest path, positions 0 .. S-1 and pooling at column 0 are then the defaults); padded rows of
    one example each need only the key-padding mask; packed rows need `sequence_ids`, which implies
    the padding."""
    inputs = {k: batch[k].to(device, non_blocking=True) for k in MODEL_INPUTS}
    one_example_per_row = batch["cls_positions"].numel() == batch["input_ids"].shape[0]
    if one_example_per_row:
        inputs["position_ids"] = inputs["sequence_ids"] = inputs["cls_positions"] = None
        if bool(batch["attention_mask"].all()):
            inputs["attention_mask"] = None
    else:
        inputs["attention_mask"] = None
    return inputs


class _Totals:
    """Sums kept on the device between log lines so that a step never waits for the host. Losses are
    means over the window's masked tokens and two-segment rows, the quantity a step minimises."""

    KEYS = ("mlm_loss_sum", "sop_loss_sum", "mlm_correct", "mlm_count", "sop_correct", "sop_count")

    def __init__(self, device: torch.device) -> None:
        self.values = torch.zeros(len(self.KEYS), dtype=torch.float64, device=device)

    def add(self, result: PretrainingLoss) -> None:
        self.values += torch.stack([getattr(result, key).double() for key in self.KEYS])

    def reduce(self) -> dict[str, float]:
        if dist.is_initialized():
            dist.all_reduce(self.values)
        v = dict(zip(self.KEYS, self.values.tolist()))
        self.values.zero_()
        mlm_loss = v["mlm_loss_sum"] / max(v["mlm_count"], 1.0)
        sop_loss = v["sop_loss_sum"] / max(v["sop_count"], 1.0)
        return {"loss": mlm_loss + sop_loss, "mlm_loss": mlm_loss, "sop_loss": sop_loss,
                "mlm_acc": v["mlm_correct"] / max(v["mlm_count"], 1.0),
                "sop_acc": v["sop_correct"] / max(v["sop_count"], 1.0)}


def _autocast(device: torch.device):
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


def accumulate_gradients(model: torch.nn.Module, micro_batches: list[dict[str, torch.Tensor]],
                         device: torch.device, world: int) -> list[PretrainingLoss]:
    """Forward and backward of one step's micro-batches, leaving the gradient of the step's loss: the
    summed cross-entropies over the masked tokens (and two-segment rows) of all micro-batches on all
    ranks, as Megatron normalises. A mean per micro-batch would make a micro-batch with few masked
    tokens weigh as much as a full one, so 1x32 and 4x8 would differ (`test_gradient_accumulation`).

    The counts are known on the host (the collator made the masks), so they cost one small
    all-reduce and no device sync. DDP and FSDP average gradients over ranks, hence the `/ world`.
    """
    counts = torch.tensor([float(sum(b["mlm_labels"].numel() for b in micro_batches)),
                           float(sum(int((b["sop_labels"] >= 0).sum()) for b in micro_batches))],
                          dtype=torch.float32, device=device)
    if dist.is_initialized():
        dist.all_reduce(counts)
    mlm_normalizer, sop_normalizer = (counts.clamp(min=1.0) / world).unbind()
    results = []
    for index, batch in enumerate(micro_batches):
        last = index == len(micro_batches) - 1
        sync = nullcontext() if last or not isinstance(model, DistributedDataParallel) else model.no_sync()
        with sync:
            with _autocast(device):
                result = model(**model_inputs(batch, device), mlm_normalizer=mlm_normalizer,
                               sop_normalizer=sop_normalizer)
            # Outside autocast, as PyTorch's AMP notes ask: backward ops run in the dtype autocast chose
            # for their forward ops anyway, and backward under autocast is not a supported mode.
            result.loss.backward()
        results.append(result)
    return results


@torch.no_grad()
def evaluate(model: torch.nn.Module, shards: ShardSet, config: TrainConfig, rank: int, world: int,
             device: torch.device, max_len: int) -> dict[str, float]:
    """Fixed masks (epoch 0, no shuffle) on the held-out shards, so evaluations compare across steps."""
    model.eval()
    totals = _Totals(device)
    dataset = batches_for(shards.eval, shards, config, rank, world, epoch=0, shuffle=False, max_len=max_len)
    for index, batch in enumerate(dataset):
        if index >= config.eval_batches:
            break
        with _autocast(device):
            totals.add(model(**model_inputs(batch, device)))
    model.train()
    return totals.reduce()


def _check_eval_rows(shards: ShardSet, config: TrainConfig, world: int) -> None:
    """Evaluation reads whole micro-batches on every rank; fewer held-out rows would evaluate nothing
    and log zero losses."""
    rows = sum(shard.rows for shard in shards.eval)
    if config.eval_every and shards.eval and rows < config.micro_batch_size * world:
        raise UserInputError(f"the {len(shards.eval)} held-out shard(s) hold {rows} rows, fewer than one micro-batch "
                             f"({config.micro_batch_size}) per rank; hold out more with --eval-shards or lower "
                             f"--micro-batch-size")


def train(config: TrainConfig) -> list[dict[str, Any]]:
    """Trains until `max_steps` (or `stop_after_steps`), resuming from `out_dir` when it holds a checkpoint.

    Returns the train records rank 0 logged in this call (the JSONL file keeps all of them).
    """
    rank, world, device = _setup_distributed()
    out = Path(config.out_dir)
    try:
        shards = open_shards(config.data_dir, config.eval_shards)
        torch.manual_seed(config.seed)  # the same initial weights on every rank (FSDP does not broadcast)
        model = build_model(config, shards, device)
        torch.manual_seed(config.seed + rank)  # dropout masks differ per rank
        max_len = model.config.max_position_embeddings
        core = model
        model = _parallelize(model, config, world, device)
        optimizer = configure_optimizer(model, config, device)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, config))
        position = (load_checkpoint(out / CHECKPOINT_DIR, model, optimizer, scheduler)
                    or Position(mix_shards=config.mix_shards))
        batches_per_epoch = sum(shard.rows for shard in shards.train) // (config.micro_batch_size * world)
        if 0 < position.batch_index < batches_per_epoch and position.mix_shards != config.mix_shards:
            raise UserInputError(f"{out / CHECKPOINT_DIR} stopped inside epoch {position.epoch}, whose order mixes "
                                 f"--mix-shards {position.mix_shards}; resume with --mix-shards {position.mix_shards} "
                                 f"(another K reorders the epoch; it may change at an epoch boundary)")
        position.mix_shards = config.mix_shards
        _check_eval_rows(shards, config, world)
        log = MetricsLog(out / METRICS_FILE if rank == 0 else None, progress=config.progress and rank == 0)
        if rank == 0:
            out.mkdir(parents=True, exist_ok=True)
        stop = min(config.max_steps, config.stop_after_steps or config.max_steps)
        stream = iter(_MicroBatchesAcrossEpochs(shards, config, rank, world, device, position, max_len))
        totals, records = _Totals(device), []
        peak = peak_flops(device)
        window_start, window_tokens, window_flops = time.perf_counter(), 0, 0.0
        while position.step < stop:
            micro_batches = [next(stream) for _ in range(config.grad_accum_steps)]
            for batch in micro_batches:  # real tokens only: padding and masked-out attention do no work
                window_tokens += int(batch["attention_mask"].sum())
                window_flops += core.example_flops(batch["example_len"].numpy())
            for result in accumulate_gradients(model, micro_batches, device, world):
                totals.add(result)
            lr = scheduler.get_last_lr()[0]  # the rate of this step's update, before the scheduler moves on
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            position.step += 1

            if position.step % config.log_every == 0 or position.step == stop:
                record = {"step": position.step, "epoch": position.epoch, **totals.reduce(),
                          "lr": lr, "grad_norm": float(grad_norm)}
                elapsed = time.perf_counter() - window_start
                record["tokens_per_s"] = window_tokens * world / elapsed
                record["mfu"] = window_flops / elapsed / peak if peak else None
                window_start, window_tokens, window_flops = time.perf_counter(), 0, 0.0
                if rank == 0:
                    log.write({"kind": "train", **record})
                    log.show(position.step, config.max_steps, record)
                    records.append(record)
            if config.eval_every and shards.eval and position.step % config.eval_every == 0:
                record = {"kind": "eval", "step": position.step,
                          **evaluate(model, shards, config, rank, world, device, max_len)}
                if rank == 0:
                    log.write(record)
            if config.save_every and position.step % config.save_every == 0:
                save_checkpoint(out / CHECKPOINT_DIR, model, optimizer, scheduler, position, core.config)
        save_checkpoint(out / CHECKPOINT_DIR, model, optimizer, scheduler, position, core.config)
        log.close()
        return records
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()

