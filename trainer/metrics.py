"""What a run reports: JSONL records, a one-line progress display and the MFU estimate."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import torch

# Dense bf16 tensor-core peaks (FLOP/s) from the vendors' data sheets; MFU is null on other devices.
PEAK_BF16_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "A800": 312e12, "H800": 989e12,
                   "L40S": 362e12, "A10": 125e12}


def peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((flops for key, flops in PEAK_BF16_FLOPS.items() if key in name), None)


class MetricsLog:
    """Appends one JSON object per line; appending keeps the records of a resumed run in one file."""

    def __init__(self, path: Path | None, stream: TextIO = sys.stderr, progress: bool = True) -> None:
        self.path = path
        self.stream = stream
        self.progress = progress
        self.interactive = progress and stream.isatty()
        self.started = time.monotonic()

    def write(self, record: dict[str, Any]) -> None:
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, sort_keys=True) + "\n")

    def show(self, step: int, total: int, record: dict[str, Any]) -> None:
        """A progress bar on a terminal, a plain line per log interval in a job's log file."""
        if not self.progress:
            return
        width = 24
        done = int(width * step / total)
        elapsed = time.monotonic() - self.started
        fields = " ".join(f"{k}={v:.4g}" for k, v in record.items() if isinstance(v, float))
        line = f"[{'#' * done}{'.' * (width - done)}] {step}/{total} {elapsed:.0f}s {fields}"
        self.stream.write(("\r" + line) if self.interactive else line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\n")
