"""The loop end to end on CPU: the loss falls, a stopped run resumes exactly, DDP over gloo runs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from schemas.errors import UserInputError
from trainer.checkpoint import read_checkpoint_model
from trainer.config import TrainConfig
from trainer.export_hf import export_checkpoint
from trainer.train import METRICS_FILE, lr_factor, train

from shard_factory import write_shard_set

REPO = Path(__file__).resolve().parents[2]


def _config(shard_dir: Path, out: Path, **changes) -> TrainConfig:
    base = TrainConfig(data_dir=str(shard_dir), out_dir=str(out), model="tiny", eval_shards=1, micro_batch_size=16,
                       max_steps=20, lr=2e-3, warmup_steps=5, log_every=1, progress=False, pad_to_multiple_of=8)
    return base.with_updates(**changes)


def test_loss_falls_clearly_on_a_learnable_pattern(shard_dir: Path, tmp_path: Path) -> None:
    records = train(_config(shard_dir, tmp_path, max_steps=200, log_every=20, eval_every=200, eval_batches=8,
                            decay="cosine", lr=3e-3, warmup_steps=20))
    first, last = records[0], records[-1]
    # Guessing over 21,248 ids costs ~10 and the unigram over the 64 ids in use ln 64 = 4.16: a loss
    # under 3 means the model reads the context.
    assert first["mlm_loss"] > 7.0
    assert last["mlm_loss"] < 3.0 and last["mlm_acc"] > 0.08
    evaluation = [json.loads(line) for line in (tmp_path / METRICS_FILE).read_text().splitlines()
                  if json.loads(line)["kind"] == "eval"]
    assert evaluation and evaluation[-1]["mlm_loss"] < 3.0


def test_resume_after_a_stop_reproduces_the_loss_sequence(shard_dir: Path, tmp_path: Path) -> None:
    # 1,024 training rows in micro-batches of 32, two per step: epoch 1 begins after step 16, so the
    # resumed part starts mid-epoch (with dropout on) and crosses an epoch boundary.
    common = dict(micro_batch_size=32, grad_accum_steps=2, max_steps=20)
    straight = train(_config(shard_dir, tmp_path / "straight", **common))
    train(_config(shard_dir, tmp_path / "stopped", stop_after_steps=7, **common))
    resumed = train(_config(shard_dir, tmp_path / "stopped", **common))
    assert [r["step"] for r in resumed] == list(range(8, 21))
    assert straight[-1]["epoch"] == 1
    for a, b in zip(straight[7:], resumed, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-6) and a["mlm_acc"] == b["mlm_acc"]


def test_loss_falls_and_a_stopped_run_resumes_exactly_on_packed_rows(packed_shard_dir: Path, tmp_path: Path) -> None:
    """Two examples a row: attention, positions and SOP per example through the whole loop."""
    common = dict(max_steps=120, log_every=20, decay="cosine", lr=3e-3, warmup_steps=20, eval_every=120,
                  eval_batches=4)
    straight = train(_config(packed_shard_dir, tmp_path / "straight", **common))
    assert straight[0]["mlm_loss"] > 7.0 and straight[-1]["mlm_loss"] < 3.5, straight[-1]
    assert straight[-1]["sop_acc"] > 0.5
    train(_config(packed_shard_dir, tmp_path / "stopped", stop_after_steps=90, **common))
    resumed = train(_config(packed_shard_dir, tmp_path / "stopped", **common))
    assert [r["step"] for r in resumed] == [100, 120]  # the window of 100 began at the resume, 120's did not
    assert straight[-1]["loss"] == pytest.approx(resumed[-1]["loss"], abs=1e-6)
    _, final = read_checkpoint_model(tmp_path / "stopped" / "checkpoint")
    _, expected = read_checkpoint_model(tmp_path / "straight" / "checkpoint")
    assert all(torch.equal(final[key], expected[key]) for key in expected)


@pytest.fixture(scope="module")
def straight_odd_epoch(shard_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 steps of 2 micro-batches of 40 rows, in a single process: 1,024 rows make 25 micro-batches an
    epoch, so step 13 ends at micro-batch 1 of epoch 1, an odd position."""
    out = tmp_path_factory.mktemp("straight_odd")
    train(_config(shard_dir, out, **ODD_RESUME))
    return out


ODD_RESUME = dict(micro_batch_size=40, grad_accum_steps=2, max_steps=16)


@pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")  # 3 workers on 2 cores
@pytest.mark.parametrize("workers", [2, 3])
def test_resume_with_loader_workers_at_an_odd_position_is_exact(shard_dir: Path, tmp_path: Path,
                                                                 straight_odd_epoch: Path, workers: int) -> None:
    """Issue 20: `DataLoader` asks worker 0 first, so workers dealt batches by `index % workers` came
    back in swapped pairs after a resume at an odd micro-batch; the weights then diverged."""
    train(_config(shard_dir, tmp_path, stop_after_steps=13, num_workers=workers, **ODD_RESUME))
    position = torch.load(tmp_path / "checkpoint" / "state.pt", weights_only=True)["position"]
    assert (position["epoch"], position["batch_index"]) == (1, 1)
    resumed = train(_config(shard_dir, tmp_path, num_workers=workers, **ODD_RESUME))
    straight = _train_records(straight_odd_epoch)
    assert [r["step"] for r in resumed] == [14, 15, 16]
    for a, b in zip(straight[13:], resumed, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-6)
    _, final = read_checkpoint_model(tmp_path / "checkpoint")
    _, expected = read_checkpoint_model(straight_odd_epoch / "checkpoint")
    assert all(torch.equal(final[key], expected[key]) for key in expected)


def _train_records(out: Path) -> list[dict]:
    return [r for r in map(json.loads, (out / METRICS_FILE).read_text().splitlines()) if r["kind"] == "train"]


def test_the_logged_learning_rate_is_the_one_its_step_used(shard_dir: Path, tmp_path: Path) -> None:
    config = _config(shard_dir, tmp_path, max_steps=7, warmup_steps=4, decay="cosine")
    records = train(config)
    # Step s (1-based) updates with the schedule's value at s - 1: 1/4, 2/4, 3/4, 1 of lr in warm-up.
    assert [r["lr"] for r in records] == pytest.approx([config.lr * lr_factor(s - 1, config) for s in range(1, 8)])
    assert records[0]["lr"] == pytest.approx(config.lr / 4)


def test_resuming_mid_epoch_with_another_mix_shards_is_refused(shard_dir: Path, tmp_path: Path) -> None:
    """The position counts micro-batches of one order; another K would silently reorder the epoch."""
    train(_config(shard_dir, tmp_path, mix_shards=2, stop_after_steps=3, max_steps=10))
    with pytest.raises(UserInputError, match="resume with --mix-shards 2"):
        train(_config(shard_dir, tmp_path, mix_shards=3, max_steps=10))
    assert [r["step"] for r in train(_config(shard_dir, tmp_path, mix_shards=2, max_steps=5))] == [4, 5]


def test_mix_shards_may_change_at_an_epoch_boundary(shard_dir: Path, tmp_path: Path) -> None:
    # 1,024 rows in micro-batches of 64: epoch 0 ends with step 16.
    train(_config(shard_dir, tmp_path, micro_batch_size=64, mix_shards=2, max_steps=16))
    records = train(_config(shard_dir, tmp_path, micro_batch_size=64, mix_shards=3, max_steps=17))
    assert [(r["step"], r["epoch"]) for r in records] == [(17, 1)]
    position = torch.load(tmp_path / "checkpoint" / "state.pt", weights_only=True)["position"]
    assert position["mix_shards"] == 3


def test_held_out_shards_smaller_than_a_micro_batch_are_refused(tmp_path: Path) -> None:
    """An evaluation that reads no batch logged zero losses; say so before training instead."""
    data = write_shard_set(tmp_path / "data", shards=3, rows_per_shard=[64, 64, 4])
    with pytest.raises(UserInputError, match="hold 4 rows, fewer than one micro-batch"):
        train(_config(data, tmp_path / "run", micro_batch_size=16, max_steps=1, eval_every=1))


def test_schedule_warms_up_then_decays_to_the_floor() -> None:
    config = TrainConfig(data_dir="", out_dir="", max_steps=100, warmup_steps=10, min_lr_ratio=0.1, decay="cosine")
    assert lr_factor(0, config) == pytest.approx(0.1) and lr_factor(9, config) == pytest.approx(1.0)
    assert lr_factor(100, config) == pytest.approx(0.1) and 0.1 < lr_factor(50, config) < 1.0


@pytest.mark.parametrize("fsdp", [False, True], ids=["ddp", "fsdp"])
def test_two_processes_on_cpu_run_steps_and_save_a_loadable_checkpoint(shard_dir: Path, tmp_path: Path,
                                                                       fsdp: bool) -> None:
    script = (
        "from trainer.config import TrainConfig; from trainer.train import train; "
        f"train(TrainConfig(data_dir={str(shard_dir)!r}, out_dir={str(tmp_path)!r}, model='tiny', eval_shards=1, "
        f"micro_batch_size=8, max_steps=3, log_every=1, progress=False, eval_every=3, eval_batches=2, fsdp={fsdp}))"
    )
    # No GPU even on a GPU machine: with one, each rank would take cuda:<local rank>, and rank 1 has none.
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--no-python",
               sys.executable, "-c", script]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in (tmp_path / METRICS_FILE).read_text().splitlines()]
    assert [r["step"] for r in records if r["kind"] == "train"] == [1, 2, 3]
    assert [r["step"] for r in records if r["kind"] == "eval"] == [3]
    assert (tmp_path / "checkpoint" / "rng-1.pt").is_file()
    model = export_checkpoint(tmp_path, tmp_path / "hf")  # full, unsharded weights under HF's names
    assert (model / "model.safetensors").is_file()
