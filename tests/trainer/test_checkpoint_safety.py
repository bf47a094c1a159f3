"""A run directory is data: loading its checkpoint (to resume, or `export hf`) never runs code from it."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from erlangshen_data.cli import main
from schemas.errors import UserInputError
from trainer.config import TrainConfig
from trainer.train import train


class _OpensAFile:
    """Unpickling it calls `open(marker, "w")`: proof that a load ran code of the file's choosing."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


@pytest.fixture()
def run_dir(shard_dir: Path, tmp_path: Path) -> Path:
    config = TrainConfig(data_dir=str(shard_dir), out_dir=str(tmp_path / "run"), model="tiny", eval_shards=1,
                         micro_batch_size=8, max_steps=2, log_every=1, progress=False, pad_to_multiple_of=8)
    train(config)
    return tmp_path / "run"


def _config(shard_dir: Path, run: Path) -> TrainConfig:
    return TrainConfig(data_dir=str(shard_dir), out_dir=str(run), model="tiny", eval_shards=1, micro_batch_size=8,
                       max_steps=3, log_every=1, progress=False, pad_to_multiple_of=8)


def _plant(path: Path, marker: Path) -> None:
    state = torch.load(path, weights_only=True)
    state["planted"] = _OpensAFile(marker)
    torch.save(state, path)


@pytest.mark.parametrize("file", ["state.pt", "rng-0.pt"])
def test_resuming_from_a_checkpoint_holding_an_object_refuses_it_and_runs_nothing(
        shard_dir: Path, run_dir: Path, tmp_path: Path, file: str) -> None:
    marker = tmp_path / "code-ran"
    _plant(run_dir / "checkpoint" / file, marker)
    with pytest.raises(UserInputError, match=f"{file} holds more than tensors and plain data"):
        train(_config(shard_dir, run_dir))
    assert not marker.exists()


def test_export_hf_of_a_planted_checkpoint_is_a_one_line_error_and_runs_nothing(
        run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "code-ran"
    _plant(run_dir / "checkpoint" / "state.pt", marker)
    assert main(["export", "hf", str(run_dir), str(tmp_path / "hf")]) == 2
    error = capsys.readouterr().err.strip()
    assert "state.pt holds more than tensors and plain data" in error and "\n" not in error
    assert not marker.exists() and not (tmp_path / "hf" / "model.safetensors").exists()


def test_a_checkpoint_the_trainer_wrote_loads_with_weights_only(shard_dir: Path, run_dir: Path) -> None:
    for file in ("state.pt", "rng-0.pt"):
        torch.load(run_dir / "checkpoint" / file, weights_only=True)  # raises on anything but plain data
    assert [r["step"] for r in train(_config(shard_dir, run_dir))] == [3]
