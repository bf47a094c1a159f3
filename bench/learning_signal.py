"""Does the masking teach? One model, one corpus, one token budget, three masking schemes, then FewCLUE.

    python -m bench.learning_signal --data /tmp/wudao-prep                 # tiny: 10-20 min on a 2-core CPU
    python -m bench.learning_signal --data DIR --config base               # base: ~1 h on one H100, estimated

Each scheme pretrains the same model (same initial weights, same shards, same row order, same number
of tokens, the held-out last shard untouched) with the trainer's model and batches; only the units the
masker sees differ, so the masker itself (`trainer.masking.mask_batch`) is the trainer's:
- `char`: BERT's original masking. Every token is its own unit (word boundaries and entity spans are
  hidden from the masker) and the masks are drawn once: every epoch reuses epoch 0's, as
  `create_pretraining_data.py` with dupe_factor 1 would have written them into the data.
- `wwm`: whole-word masking, drawn afresh every epoch; entity spans are hidden from the masker, so an
  entity is masked as the words it is made of.
- `wwm+kdm`: whole words and entity spans, drawn afresh, an entity unit `--entity-boost` (2) times as
  likely as a word unit. At the trainer's default boost of 1 this row is `wwm` bit for bit on `prepare`'s
  output: entity words are added to the segmenter, so every entity span there is exactly one word unit,
  and units and draws coincide. KDM can differ from WWM only by its boost.
A fourth row, `none`, fine-tunes the same initial weights without pretraining: the floor.

Then each model's held-out MLM loss and accuracy, under the same fixed masks for all (char masks
and WWM+KDM masks of epoch 0 on the held-out shard), and its FewCLUE accuracy on dev and test,
mean ± sd over seeds. The smoke setting (tiny, a few minutes of CPU per scheme on WuDao's 1.6M-token
sample) shows the pipeline of the experiment works; its numbers are only indicative. The base setting
(768 hidden, 12 layers; 120M tokens per scheme, all five FewCLUE tasks) is the one whose table means
something, on a corpus of at least a few hundred million tokens (a few GB of WuDao through
`prepare`): on the 1.6M-token sample it would repeat the data ~75 times.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch
import torch.nn.functional as F

from finetune.config import Hyperparameters
from finetune.encoding import encode_examples
from finetune.loop import fine_tune
from finetune.model import StartingPoint, encoder_weights
from finetune.readers import DEV, DEV_NAMES, TEST, TEST_NAMES, TRAIN, TRAIN_NAMES, find_split, read_task_file
from finetune.tasks import task_spec
from pipeline.tokenize import BertChineseTokenizer
from pipeline.vocab import load_vocab
from schemas import shard as cols
from trainer.config import MaskingConfig, ModelConfig, TrainConfig, model_preset
from trainer.data import PretrainingBatches, ShardSet, open_shards
from trainer.model import MegatronBertForPreTraining
from trainer.train import configure_optimizer, lr_factor, model_inputs

SCHEMES = ("char", "wwm", "wwm+kdm")
FEWCLUE = Path(__file__).resolve().parents[2] / "shared" / "data" / "fewclue"


@dataclass(frozen=True)
class BenchConfig:
    model: ModelConfig
    tokens: int  # pretraining tokens per scheme (non-padding)
    entity_boost: float  # of `wwm+kdm` (module docstring: at 1 it equals `wwm` on prepare's output)
    micro_batch: int
    lr: float
    warmup_steps: int
    eval_rows: int  # held-out rows the MLM figures are measured on
    tasks: tuple[str, ...]
    seeds: int
    finetune: Hyperparameters
    max_len: int  # fine-tuning inputs


CONFIGS = {
    # 1.5 epochs of the sample's training shard (0.81M tokens), so static and dynamic masks part ways for
    # the second half. Attention dropout off: on a CPU, SDPA with dropout takes its unfused path, 8x slower.
    "tiny": BenchConfig(replace(model_preset("tiny"), attention_dropout=0.0), tokens=1_200_000, entity_boost=2.0, micro_batch=16,
                        lr=1e-3, warmup_steps=30, eval_rows=512, tasks=("eprstmt",), seeds=5, max_len=128,
                        finetune=Hyperparameters(lr=1e-3, epochs=5, batch_size=16)),
    # Sized by estimate, not yet measured: ~8 min of pretraining per scheme at ~250k real tokens/s, then
    # 5 tasks x 5 seeds x 4 models of few-shot fine-tuning (seconds to a minute each).
    "base": BenchConfig(model_preset("base"), tokens=120_000_000, entity_boost=2.0, micro_batch=64, lr=2e-4, warmup_steps=300,
                        eval_rows=4096, tasks=("eprstmt", "bustm", "ocnli", "tnews", "cluewsc"), seeds=5,
                        max_len=256, finetune=Hyperparameters(lr=3e-5, epochs=10, batch_size=16)),
}


def _without_entities(table: pa.Table) -> pa.Table:
    empty = pa.array([[]] * table.num_rows, type=pa.list_(pa.uint16()))
    for name in (cols.ENTITY_START, cols.ENTITY_END):
        table = table.set_column(table.schema.get_field_index(name), name, empty)
    return table


def _every_token_a_word(table: pa.Table) -> pa.Table:
    starts = table.column(cols.WORD_START).combine_chunks()
    ones = pa.array(np.ones(len(starts.flatten()), dtype=bool))
    index = table.schema.get_field_index(cols.WORD_START)
    return table.set_column(index, cols.WORD_START, pa.ListArray.from_arrays(starts.offsets, ones))


class SchemeBatches(PretrainingBatches):
    """The trainer's batches, with the masker's view of a row changed for `scheme` (module docstring)."""

    def __init__(self, *args, scheme: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if scheme not in SCHEMES:
            raise ValueError(f"unknown masking scheme {scheme!r}")
        self.scheme = scheme

    def collate(self, table: pa.Table, row_ids: np.ndarray) -> dict[str, torch.Tensor]:
        if self.scheme == "wwm+kdm":
            return super().collate(table, row_ids)
        table = _without_entities(table)
        if self.scheme == "wwm":
            return super().collate(table, row_ids)
        # Static: masks are keyed by (seed, epoch, row), so epoch 0's key gives every epoch the same ones.
        # Only `collate` reads the epoch for masks; the row order was fixed before with the true epoch.
        epoch, self.epoch = self.epoch, 0
        try:
            return super().collate(_every_token_a_word(table), row_ids)
        finally:
            self.epoch = epoch


def scheme_batches(shards: ShardSet, files, scheme: str, *, micro_batch: int, seed: int, epoch: int,
                   shuffle: bool = True, max_len: int = 512, entity_boost: float = 2.0) -> SchemeBatches:
    manifest = shards.manifest
    return SchemeBatches(files, manifest.special_tokens, manifest.vocab.size, micro_batch_size=micro_batch, seed=seed,
                         epoch=epoch, shuffle=shuffle, masking=MaskingConfig(entity_boost=entity_boost),
                         pad_to_multiple_of=64, max_len=max_len, replacement_ids=shards.replacement_ids, scheme=scheme)


def _autocast(device: torch.device):
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


def pretrain(model: MegatronBertForPreTraining, shards: ShardSet, scheme: str, config: BenchConfig, seed: int,
             device: torch.device) -> dict[str, float]:
    """The trainer's optimiser and schedule, one micro-batch a step, until `config.tokens` real tokens."""
    rows = sum(f.rows for f in shards.train)
    steps = int(config.tokens / (_train_tokens(shards) / rows * config.micro_batch))  # where the schedule ends
    train_config = TrainConfig(data_dir="", out_dir="", lr=config.lr, warmup_steps=config.warmup_steps,
                               max_steps=max(steps, config.warmup_steps + 1))
    optimizer = configure_optimizer(model, train_config, device)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, train_config))
    model.train()
    tokens, step, epoch, began = 0, 0, 0, time.perf_counter()
    while tokens < config.tokens:
        for batch in scheme_batches(shards, shards.train, scheme, micro_batch=config.micro_batch, seed=seed,
                                    epoch=epoch, max_len=model.config.max_position_embeddings,
                                    entity_boost=config.entity_boost):
            with _autocast(device):
                result = model(**model_inputs(batch, device))
            result.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            tokens += int(batch["attention_mask"].sum())
            step += 1
            if tokens >= config.tokens:
                break
        epoch += 1
    return {"steps": step, "tokens": tokens, "epochs": round(tokens / _train_tokens(shards), 2),
            "seconds": round(time.perf_counter() - began, 1)}


def _train_tokens(shards: ShardSet) -> int:
    names = {Path(f.path).name for f in shards.train}
    return sum(info.tokens for info in shards.manifest.shards if Path(info.file).name in names)


@torch.no_grad()
def heldout_mlm(model: MegatronBertForPreTraining, shards: ShardSet, scheme: str, config: BenchConfig,
                device: torch.device) -> dict[str, float]:
    """MLM loss and accuracy over the masked tokens of the first `eval_rows` held-out rows (epoch 0's masks),
    from the encoder and the MLM head (the names transformers gives them), whatever the loss API."""
    model.eval()
    loss_sum, correct, count = 0.0, 0, 0
    batches = scheme_batches(shards, shards.eval, scheme, micro_batch=config.micro_batch, seed=0, epoch=0,
                             shuffle=False, max_len=model.config.max_position_embeddings,
                             entity_boost=config.entity_boost)
    for index, batch in enumerate(batches):
        if index * config.micro_batch >= config.eval_rows:
            break
        inputs = model_inputs(batch, device)
        with _autocast(device):
            hidden, _ = model.bert(inputs["input_ids"], inputs["token_type_ids"], inputs["attention_mask"],
                                   inputs["position_ids"], inputs["sequence_ids"], inputs["cls_positions"])
            masked = hidden.reshape(-1, hidden.shape[-1]).index_select(0, inputs["mlm_positions"])
            logits = model.cls.predictions(masked).float()
        labels = inputs["mlm_labels"]
        loss_sum += float(F.cross_entropy(logits, labels, reduction="sum"))
        correct += int((logits.argmax(-1) == labels).sum())
        count += labels.numel()
    model.train()
    return {"loss": loss_sum / max(count, 1), "acc": correct / max(count, 1), "masked_tokens": count}


def task_data(task: str, vocab_path: Path, max_len: int, task_root: Path) -> tuple:
    spec = task_spec(task)
    vocab = load_vocab(vocab_path)
    tokenizer = BertChineseTokenizer(vocab)
    directory = task_root / task
    encoded = {}
    for split, names in ((TRAIN, TRAIN_NAMES), (DEV, DEV_NAMES), (TEST, TEST_NAMES)):
        path = find_split(directory, names)
        if path is not None:
            examples = read_task_file(path, spec, split).examples
            encoded[split] = encode_examples(examples, tokenizer, vocab.special_tokens, max_len)
    return spec, encoded, vocab.special_tokens.pad


def _mean_sd(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.3f}"
    return f"{statistics.fmean(values):.3f} ± {statistics.stdev(values):.3f}"


def evaluate_tasks(model_config: ModelConfig, state: dict[str, torch.Tensor], name: str, tasks: dict,
                   config: BenchConfig, device: torch.device) -> dict[str, dict[str, list[float]]]:
    start = StartingPoint(name, "checkpoint", model_config, encoder_weights(state, name), None)
    scores = {}
    for task, (spec, encoded, pad) in tasks.items():
        evaluations = {split: encoded[split] for split in (DEV, TEST) if split in encoded}
        per_split: dict[str, list[float]] = {split: [] for split in evaluations}
        for seed in range(config.seeds):
            result = fine_tune(start, encoded[TRAIN], evaluations, len(spec.labels), config.finetune, seed, pad,
                               device, lambda record: None)
            for split in evaluations:
                per_split[split].append(result.accuracy[split])
        scores[task] = per_split
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True,
                        help="a `prepare` output with at least 2 shards (the last is held out)")
    parser.add_argument("--config", choices=list(CONFIGS), default="tiny")
    parser.add_argument("--tokens", type=int, help="pretraining tokens per scheme (default: the config's)")
    parser.add_argument("--tasks", help="comma-separated FewCLUE tasks (default: the config's)")
    parser.add_argument("--task-root", default=str(FEWCLUE), help="directory holding one directory per task")
    parser.add_argument("--seeds", type=int, help="fine-tuning seeds per task (default: the config's)")
    parser.add_argument("--schemes", default=",".join(SCHEMES), help="comma-separated subset of " + ",".join(SCHEMES))
    parser.add_argument("--entity-boost", type=float, help="of the wwm+kdm scheme (default: the config's, 2)")
    parser.add_argument("--seed", type=int, default=1234, help="initial weights and data order of pretraining")
    parser.add_argument("--out", default="/tmp/learning_signal.json", help="results as JSON")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's; 1 on a busy machine)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    config = CONFIGS[args.config]
    config = replace(config, tokens=args.tokens or config.tokens, seeds=args.seeds or config.seeds,
                     entity_boost=args.entity_boost or config.entity_boost,
                     tasks=tuple(args.tasks.split(",")) if args.tasks else config.tasks)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    shards = open_shards(args.data, eval_shards=1)
    model_config = config.model
    vocab_path = Path(args.data) / shards.manifest.vocab.file
    tasks = {task: task_data(task, vocab_path, config.max_len, Path(args.task_root)) for task in config.tasks}
    began = time.perf_counter()
    rows: dict[str, dict] = {}
    torch.manual_seed(args.seed)
    initial = MegatronBertForPreTraining(model_config).state_dict()
    rows["none"] = {"finetune": evaluate_tasks(model_config, initial, "none", tasks, config, device)}
    for scheme in args.schemes.split(","):
        model = MegatronBertForPreTraining(model_config)
        model.load_state_dict(initial)
        model.to(device)
        row = {"pretrain": pretrain(model, shards, scheme, config, args.seed, device)}
        row["heldout"] = {eval_scheme: heldout_mlm(model, shards, eval_scheme, config, device)
                          for eval_scheme in ("char", "wwm+kdm")}
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        row["finetune"] = evaluate_tasks(model_config, state, scheme, tasks, config, device)
        rows[scheme] = row
        print(f"{scheme}: {json.dumps(row)}", flush=True)
    settings = {"config": args.config, "tokens": config.tokens, "entity_boost": config.entity_boost,
                "seeds": config.seeds, "tasks": config.tasks, "threads": torch.get_num_threads()}
    Path(args.out).write_text(json.dumps({**settings, "device": str(device), "rows": rows,
                                          "seconds": round(time.perf_counter() - began, 1)}, indent=2) + "\n")
    print_table(rows, config)
    print(f"{time.perf_counter() - began:.0f} s on {device}; results in {args.out}")


def print_table(rows: dict[str, dict], config: BenchConfig) -> None:
    header = ["masking", "tokens (epochs)", "held-out MLM loss / acc, char masks",
              f"WWM+KDM masks (boost {config.entity_boost:g})"]
    header += [f"{task} {split}" for task in config.tasks for split in (DEV, TEST)]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, row in rows.items():
        cells = [name]
        if "pretrain" in row:
            cells.append(f"{row['pretrain']['tokens'] / 1e6:.2f}M ({row['pretrain']['epochs']:g})")
            cells += [f"{row['heldout'][s]['loss']:.3f} / {row['heldout'][s]['acc']:.3f}" for s in ("char", "wwm+kdm")]
        else:
            cells += ["0", "-", "-"]
        for task in config.tasks:
            cells += [_mean_sd(row["finetune"][task][split]) if split in row["finetune"][task] else "-"
                      for split in (DEV, TEST)]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
