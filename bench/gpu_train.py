"""The trainer end to end on one device, through `erlangshen-data train` / `export hf` as a user runs them.

    python -m bench.gpu_train --json train.json --work /tmp/gpu_train            # a GPU
    python -m bench.gpu_train --json t.json --work /tmp/t --smoke                 # a CPU smoke run

Shards come from tests/trainer/shard_factory.py (pyarrow only, a learnable token rule), so neither
Beam nor the pipeline is needed. Three checks, each a JSON record in --json (exit 1 if one fails):

1. learn: the tiny preset on 64-token rows; every logged loss finite and the MLM loss falling clearly.
2. export: that run's checkpoint through `export hf`, loaded by transformers' `from_pretrained` and by
   our `load_hf`; weights equal to the checkpoint's, logits equal on the device.
3. resume: the base preset (`--compile` on CUDA) on rows of up to 512 tokens, once straight and once
   stopped half-way and resumed from its checkpoint; the resumed losses follow the straight run's
   (bf16 kernels with atomics are not bit-exact on a GPU, so a small tolerance) and the trainer's
   own tokens/s and MFU are reported.

The CLI imports only the command it runs, so this needs neither Beam nor the pipeline.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
import traceback
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "trainer"))

from shard_factory import write_shard_set

from erlangshen_data import cli


def run_cli(argv: list[str]) -> int:
    print("$ erlangshen-data " + " ".join(argv), flush=True)
    try:
        code = cli.main(argv)
    except SystemExit as exit_:  # argparse refusing an argument must not end the whole check
        code = exit_.code if isinstance(exit_.code, int) else 1
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def read_metrics(run: Path, kind: str = "train") -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


def train_args(data: Path, run: Path, **options) -> list[str]:
    argv = ["train", "--data", str(data), "--out", str(run), "--eval-shards", "1"]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        argv += [flag] if value is True else [flag, str(value)]
    return argv


def check_learn(work: Path, smoke: bool) -> dict:
    data = write_shard_set(work / "shards64", shards=5, rows_per_shard=256, max_len=64)
    run = work / "learn"
    steps = 12 if smoke else 60
    code = run_cli(train_args(data, run, model="tiny", micro_batch_size=32, max_steps=steps, lr=3e-3,
                              warmup_steps=steps // 10, decay="cosine", log_every=steps // 6,
                              eval_every=steps, eval_batches=4))
    records = read_metrics(run)
    losses = [r["mlm_loss"] for r in records]
    evals = read_metrics(run, "eval")
    finite = all(math.isfinite(r["loss"]) and math.isfinite(r["grad_norm"]) for r in records)
    ok = code == 0 and finite and len(losses) >= 2 and losses[-1] < losses[0] - 1.0 and bool(evals)
    return {"check": "learn", "ok": ok, "exit_code": code, "mlm_loss": losses, "finite": finite,
            "eval": evals, "last": records[-1] if records else None}


def check_resume(work: Path, smoke: bool, device: str) -> dict:
    data = write_shard_set(work / "shards512", shards=3, rows_per_shard=64 if smoke else 512, max_len=512)
    model, steps, batch = ("tiny", 6, 8) if smoke else ("base", 24, 32)
    common = {"model": model, "micro_batch_size": batch, "max_steps": steps, "lr": 5e-4,
              "warmup_steps": steps // 4, "log_every": 1}
    if device == "cuda":
        common["compile"] = True
    timings = {}
    started = time.perf_counter()
    code_straight = run_cli(train_args(data, work / "straight", **common))
    timings["straight_s"] = time.perf_counter() - started
    started = time.perf_counter()
    code_stop = run_cli(train_args(data, work / "resumed", stop_after=steps // 2, **common))
    code_resume = run_cli(train_args(data, work / "resumed", **common))
    timings["stopped_and_resumed_s"] = time.perf_counter() - started
    straight, resumed = read_metrics(work / "straight"), read_metrics(work / "resumed")
    by_step = {r["step"]: r for r in straight}
    diffs = [abs(r["loss"] - by_step[r["step"]]["loss"]) for r in resumed if r["step"] in by_step]
    steps_seen = [r["step"] for r in resumed]
    finite = all(math.isfinite(r["loss"]) for r in straight + resumed)
    ckpt_a = torch.load(work / "straight" / "checkpoint" / "state.pt", map_location="cpu", weights_only=True)
    ckpt_b = torch.load(work / "resumed" / "checkpoint" / "state.pt", map_location="cpu", weights_only=True)
    weight_diff = max((ckpt_a["model"][k].float() - ckpt_b["model"][k].float()).abs().max().item()
                      for k in ckpt_a["model"])
    tail = straight[2:] or straight  # the first logged steps hold the compile
    ok = (code_straight == code_stop == code_resume == 0 and finite and steps_seen == list(range(1, steps + 1))
          and len(diffs) == steps and max(diffs) <= (1e-5 if device == "cpu" else 2e-2)
          and ckpt_b["position"] == ckpt_a["position"])
    return {"check": "resume", "ok": ok, "model": model, "compile": device == "cuda", "steps": steps,
            "exit_codes": [code_straight, code_stop, code_resume], "finite": finite,
            "loss_straight": [r["loss"] for r in straight], "loss_resumed": [r["loss"] for r in resumed],
            "max_abs_loss_diff": max(diffs) if diffs else None, "exact": bool(diffs) and max(diffs) == 0.0,
            "final_weight_max_abs_diff": weight_diff, "position": ckpt_b["position"],
            "trainer_tokens_per_s_median": sorted(r["tokens_per_s"] for r in tail)[len(tail) // 2],
            "trainer_mfu_median": (sorted(r["mfu"] for r in tail)[len(tail) // 2]
                                   if tail and tail[0]["mfu"] is not None else None),
            "seconds": timings}


def check_export(work: Path, device: str) -> dict:
    from transformers import MegatronBertForPreTraining as HfMegatronBert

    from trainer.data import PretrainingBatches, open_shards
    from trainer.export_hf import load_hf

    run, out = work / "learn", work / "hf"
    code = run_cli(["export", "hf", str(run), str(out)])
    state = torch.load(run / "checkpoint" / "state.pt", map_location="cpu", weights_only=True)["model"]
    hf = HfMegatronBert.from_pretrained(out).to(device).eval()
    ours = load_hf(out).to(device).eval()
    hf_state = hf.state_dict()
    weights_equal = all(torch.equal(hf_state[k].cpu(), v) for k, v in state.items() if k in hf_state)
    missing = sorted(set(state) - set(hf_state))
    shards = open_shards(work / "shards64", eval_shards=1)
    batch = next(iter(PretrainingBatches(shards.eval, shards.manifest.special_tokens, shards.manifest.vocab.size,
                                         micro_batch_size=4, seed=0, epoch=0, shuffle=False,
                                         pad_to_multiple_of=8)))
    inputs = {k: batch[k].long().to(device) for k in ("input_ids", "token_type_ids", "attention_mask")}
    with torch.no_grad():
        mlm, sop = ours(**inputs)
        theirs = hf(**inputs)
    real = inputs["attention_mask"].bool()
    mlm_diff = (mlm[real] - theirs.prediction_logits[real]).abs().max().item()
    sop_diff = (sop - theirs.seq_relationship_logits).abs().max().item()
    tolerance = 1e-4 if device == "cpu" else 1e-3  # fp32 on both; SDPA and eager sum differently
    ok = code == 0 and weights_equal and not missing and mlm_diff <= tolerance and sop_diff <= tolerance
    return {"check": "export", "ok": ok, "exit_code": code, "weights_equal_checkpoint": weights_equal,
            "keys_missing_in_hf": missing, "mlm_logits_max_abs_diff": mlm_diff, "sop_logits_max_abs_diff": sop_diff,
            "files": sorted(p.name for p in out.iterdir())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", required=True)
    parser.add_argument("--work", required=True, help="scratch directory for shards, runs and exports")
    parser.add_argument("--smoke", action="store_true", help="fewer steps, tiny models: a CPU check of this script")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results: list[dict] = []
    checks = [("learn", lambda: check_learn(work, args.smoke)),
              ("export", lambda: check_export(work, device)),
              ("resume", lambda: check_resume(work, args.smoke, device))]  # last: it compiles, the slowest
    for name, check in checks:
        started = time.perf_counter()
        try:
            record = check()
        except Exception as error:  # noqa: BLE001 - report and go on
            traceback.print_exc()
            record = {"check": name, "ok": False, "error": f"{type(error).__name__}: {error}"}
        record["wall_s"] = round(time.perf_counter() - started, 1)
        record["device"] = device
        results.append(record)
        brief = {k: record.get(k) for k in ("mlm_loss", "max_abs_loss_diff", "trainer_tokens_per_s_median",
                                            "trainer_mfu_median", "mlm_logits_max_abs_diff", "error")
                 if record.get(k) is not None}
        print(f"{'PASS' if record['ok'] else 'FAIL'} train/{name} ({record['wall_s']} s) {json.dumps(brief)}",
              flush=True)
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
