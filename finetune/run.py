"""`erlangshen-data finetune` end to end: task files, starting point and vocab in; metrics and
CLUE submissions out.

OUT/metrics.jsonl holds, one JSON object a line: a "run" record (task, model, vocab, settings), a
"data" record per split (examples, labelled, lines skipped by reason, truncated), "train" and "eval"
records of each seed, a "seed" record with its accuracies, and a closing "summary" record with the
mean and sample standard deviation over seeds. OUT/seed-S/<task>_predict.json is the submission of
seed S: one `{"id": ..., "label": ...}` line per test line, in the test file's order.
"""
from __future__ import annotations

import json
import statistics
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from finetune.config import Hyperparameters
from finetune.encoding import EncodedExamples, encode_examples
from finetune.loop import SeedResult, fine_tune
from finetune.model import load_starting_point, vocab_beside
from finetune.readers import (DEV, DEV_NAMES, TEST, TEST_NAMES, TRAIN, TRAIN_NAMES, TaskFile, find_split,
                              read_task_file)
from finetune.tasks import TaskSpec, task_spec
from pipeline.tokenize import BertChineseTokenizer
from pipeline.vocab import load_vocab
from schemas.errors import UserInputError
from trainer.metrics import MetricsLog

METRICS_FILE = "metrics.jsonl"


@dataclass(frozen=True)
class FinetuneRequest:
    task: str
    model: str  # a `train` run directory, a Hugging Face MegatronBert directory, or scratch:PRESET
    out_dir: str
    data_dir: str | None = None  # CLUE's train/dev/test.json or FewCLUE's *_few_all.json / test_public.json
    train_file: str | None = None
    dev_file: str | None = None
    test_file: str | None = None
    vocab: str | None = None  # default: the vocab.txt beside the weights
    max_len: int | None = None  # default: the task's
    seed: int = 42
    seeds: int = 1
    strict: bool = False
    submission_name: str | None = None
    device: str | None = None
    overwrite: bool = False
    progress: bool = True
    hp: Hyperparameters = field(default_factory=Hyperparameters)


def split_files(request: FinetuneRequest) -> dict[str, Path]:
    files = {}
    for split, given, names in ((TRAIN, request.train_file, TRAIN_NAMES), (DEV, request.dev_file, DEV_NAMES),
                                (TEST, request.test_file, TEST_NAMES)):
        found = Path(given) if given else (find_split(request.data_dir, names) if request.data_dir else None)
        if found is not None:
            files[split] = found
    if TRAIN not in files:
        where = f" in {request.data_dir} (looked for {', '.join(TRAIN_NAMES)})" if request.data_dir else ""
        raise UserInputError(f"no training file{where}: give --data DIR or --train FILE")
    if DEV not in files and TEST not in files:
        raise UserInputError("no dev or test file: nothing to evaluate or predict (--dev FILE, --test FILE)")
    return files


def _validate(request: FinetuneRequest) -> None:
    hp = request.hp
    for name, value in (("--epochs", hp.epochs), ("--batch-size", hp.batch_size), ("--seeds", request.seeds),
                        ("--eval-batch-size", hp.eval_batch_size), ("--log-every", hp.log_every)):
        if value < 1:
            raise UserInputError(f"{name} must be at least 1, got {value}")
    if not hp.lr > 0:
        raise UserInputError(f"--lr must be positive, got {hp.lr}")
    if not 0 <= hp.warmup_ratio < 1:
        raise UserInputError(f"--warmup-ratio must be in [0, 1), got {hp.warmup_ratio}")
    if request.max_len is not None and request.max_len < 8:
        raise UserInputError(f"--max-len must be at least 8, got {request.max_len}")


def _spread(values: list[float]) -> dict[str, float | None]:
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else None}


def summarize(spec: TaskSpec, results: list[SeedResult]) -> dict[str, Any]:
    """Per split: mean and sample standard deviation of accuracy over seeds, and every seed's value."""
    summary: dict[str, Any] = {"kind": "summary", "task": spec.name, "seeds": [r.seed for r in results]}
    for split in (DEV, TEST):
        values = [r.accuracy[split] for r in results if r.accuracy.get(split) is not None]
        if values:
            summary[split] = {**_spread(values), "per_seed": values}
    return summary


def write_submission(path: Path, task: TaskFile, spec: TaskSpec, predicted: np.ndarray) -> None:
    lines = [json.dumps({"id": ex.uid, "label": spec.labels[int(p)]}, ensure_ascii=False)
             for ex, p in zip(task.examples, predicted)]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    partial.replace(path)


def run_finetune(request: FinetuneRequest) -> dict[str, Any]:
    """Returns the summary record (also the last line of OUT/metrics.jsonl)."""
    _validate(request)
    spec = task_spec(request.task)
    files = split_files(request)
    out = Path(request.out_dir)
    metrics = out / METRICS_FILE
    if metrics.exists() and not request.overwrite:
        raise UserInputError(f"{out} already holds a fine-tuning run ({METRICS_FILE}); choose another --out "
                             "or pass --overwrite")
    tasks = {split: read_task_file(path, spec, split, strict=request.strict) for split, path in files.items()}
    start = load_starting_point(request.model)
    vocab_path = Path(request.vocab) if request.vocab else vocab_beside(start)
    if vocab_path is None:
        raise UserInputError(f"no vocab.txt beside {request.model}: pass --vocab (the `prepare` output's vocab.txt, "
                             "or the one Erlangshen's weights ship)")
    vocab = load_vocab(vocab_path)
    if len(vocab.tokens) > start.config.vocab_size:
        raise UserInputError(f"vocab {vocab_path} has {len(vocab.tokens)} entries, the model only "
                             f"{start.config.vocab_size}")
    max_len = min(request.max_len or spec.max_len, start.config.max_position_embeddings)
    tokenizer, specials = BertChineseTokenizer(vocab), vocab.special_tokens
    encoded: dict[str, EncodedExamples] = {
        split: encode_examples(task.examples, tokenizer, specials, max_len) for split, task in tasks.items()}
    try:
        device = torch.device(request.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    except RuntimeError as error:
        raise UserInputError(f"--device {request.device}: {error}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserInputError(f"--device {request.device}: this machine has no CUDA device")

    out.mkdir(parents=True, exist_ok=True)
    metrics.unlink(missing_ok=True)
    log = MetricsLog(metrics, stream=sys.stderr, progress=False)

    def record(entry: dict[str, Any]) -> None:
        log.write(entry)
        if entry["kind"] == "data" and entry["skipped"]:  # shown whatever --no-progress says, as prepare does
            reasons = ", ".join(f"{reason}: {count}" for reason, count in entry["skipped"].items())
            print(f"{entry['split']} file {entry['file']}: {sum(entry['skipped'].values())} lines skipped ({reasons})",
                  file=sys.stderr, flush=True)
        if request.progress and entry["kind"] in ("eval", "seed"):
            shown = {k: v for k, v in entry.items() if k not in ("kind", "per_seed")}
            print(f"{entry['kind']}: " + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                                 for k, v in shown.items()), file=sys.stderr, flush=True)

    record({"kind": "run", "task": spec.name, "task_kind": spec.kind, "model": request.model, "model_kind": start.kind,
            "pooler": "loaded" if start.has_pooler else "initialised", "vocab": str(vocab_path),
            "vocab_sha256": vocab.sha256, "max_len": max_len, "seed": request.seed, "seeds": request.seeds,
            "device": str(device), "hyperparameters": asdict(request.hp)})
    for split, task in tasks.items():
        record({"kind": "data", "split": split, "file": str(task.path), "examples": len(task.examples),
                "labelled": task.labelled, "skipped": dict(task.skipped), "truncated": encoded[split].truncated})
    evaluations = {split: encoded[split] for split in (DEV, TEST) if split in encoded}
    results = []
    for seed in range(request.seed, request.seed + request.seeds):
        result = fine_tune(start, encoded[TRAIN], evaluations, len(spec.labels), request.hp, seed, specials.pad,
                           device, record)
        if TEST in tasks:
            write_submission(out / f"seed-{seed}" / (request.submission_name or spec.submission_file), tasks[TEST],
                             spec, result.predictions[TEST])
        record({"kind": "seed", "seed": seed, **{f"{split}_accuracy": acc for split, acc in result.accuracy.items()}})
        results.append(result)
    summary = summarize(spec, results)
    record(summary)
    log.close()
    return summary
