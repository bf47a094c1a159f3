"""Fine-tuning settings, kept free of torch so the CLI can show their defaults without loading it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hyperparameters:
    # BERT's fine-tuning defaults, for base-size models; the tiny test model needs ~1e-3 (README).
    lr: float = 2e-5
    epochs: int = 3
    batch_size: int = 16
    eval_batch_size: int = 64
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    log_every: int = 20  # optimiser steps between train records
