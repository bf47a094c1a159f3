"""One checkpoint directory holds everything an exact resume needs.

`state.pt`: model, optimiser, scheduler, step and data position (epoch, micro-batches consumed by
each rank), gathered to full tensors through `torch.distributed.checkpoint.state_dict`, which treats
plain, DDP and FSDP models alike. `rng-<rank>.pt`: each rank's torch RNG (dropout). Files are written
beside their final name and renamed, so a crash while saving leaves the previous checkpoint whole.
Both hold tensors and plain data only and are read with `weights_only=True`: a run directory written by
someone else (resumed, or exported with `export hf`) cannot run code when it is loaded.
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict, set_state_dict

from schemas.errors import UserInputError
from trainer.config import ModelConfig

CHECKPOINT_DIR = "checkpoint"  # inside a run's output directory
STATE_FILE = "state.pt"


@dataclass
class Position:
    step: int = 0
    epoch: int = 0
    batch_index: int = 0  # micro-batches of `epoch` each rank has consumed
    # The --mix-shards that ordered `epoch`: `batch_index` counts micro-batches of that order only.
    # Checkpoints written before it was recorded come from the shard-at-a-time reader, which is K=1.
    mix_shards: int = 1


def _load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        # torch's message suggests weights_only=False, exactly what must not happen; keep its cause only.
        cause = next((line.strip() for line in str(error).splitlines() if "WeightsUnpickler error" in line), "")
        raise UserInputError(f"{path} holds more than tensors and plain data, so it is not loaded"
                             + (f" ({cause})" if cause else "")) from error


def _atomic_save(obj: Any, path: Path) -> None:
    partial = path.with_name(path.name + ".partial")
    torch.save(obj, partial)
    os.replace(partial, path)


def _rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def save_checkpoint(directory: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler, position: Position,
                    model_config: ModelConfig) -> None:
    model_state, optim_state = get_state_dict(
        model, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
    )
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state()
    if _rank() == 0:
        directory.mkdir(parents=True, exist_ok=True)
    if dist.is_initialized():
        dist.barrier()
    _atomic_save(rng, directory / f"rng-{_rank()}.pt")
    if _rank() == 0:
        _atomic_save({"model": model_state, "optimizer": optim_state, "scheduler": scheduler.state_dict(),
                      "position": position.__dict__,
                      "model_config": model_config.to_hf_dict()}, directory / STATE_FILE)
    if dist.is_initialized():
        dist.barrier()


def load_checkpoint(directory: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler) -> Position | None:
    """Restores everything in place; None when the directory holds no checkpoint yet."""
    if not (directory / STATE_FILE).is_file():
        return None
    state = _load(directory / STATE_FILE)
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"],
                   options=StateDictOptions(full_state_dict=True))
    scheduler.load_state_dict(state["scheduler"])
    rng_file = directory / f"rng-{_rank()}.pt"
    if rng_file.is_file():
        rng = _load(rng_file)
        torch.set_rng_state(rng["cpu"])
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state(rng["cuda"])
    return Position(**state["position"])


def read_checkpoint_model(directory: Path) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    """The model config and full weights of a checkpoint, for export without building an optimiser."""
    if not (directory / STATE_FILE).is_file():
        raise UserInputError(f"{directory} holds no {STATE_FILE}: not a training checkpoint")
    state = _load(directory / STATE_FILE)
    return ModelConfig.from_hf_dict(state["model_config"]), state["model"]
