"""Training-step throughput and MFU, in two comparisons.

Ours against transformers' eager MegatronBertForPreTraining, on synthetic full rows:

    python -m bench.train_speed --config 1.3b --batch 16 --compile      # one GPU, bf16 autocast
    python -m bench.train_speed --config tiny --batch 8 --steps 5       # runs on a CPU too (fp32)

Both models get the same weights, the same batch (seq 512, ~15% masked) and the same optimiser
(AdamW, fused on CUDA); a step is forward, backward and optimiser step. MFU counts the same model
FLOPs for both (`MegatronBertForPreTraining.flops_per_token`), so the ratio of MFUs is the speed-up.
The goal on an H100 is >= 50% MFU for 1.3b and >= 1.5x transformers.

Packed rows against one example a row, on real shards holding the same examples (`prepare` and
`prepare --no-pack` of one input):

    python -m bench.train_speed --config tiny --batch 16 --packed /tmp/ws_packed --unpacked /tmp/ws_unpacked

Each side trains on the trainer's own micro-batches (collate, masks, `model_inputs`) of its shards'
first micro-batches; throughput is effective, in non-pad tokens per second, and MFU counts the FLOPs
of real tokens only (`example_flops`: no padding, no attention between packed examples). The two
sides take turns in short rounds so that a shared machine's load falls on both alike.
"""
from __future__ import annotations

import argparse
import gc
import itertools
import json
import time
from contextlib import nullcontext

import numpy as np
import torch
from transformers import MegatronBertConfig
from transformers import MegatronBertForPreTraining as HfMegatronBert

from trainer.config import MaskingConfig, ModelConfig, model_preset
from trainer.data import PretrainingBatches, open_shards
from trainer.examples import ExampleLayout
from trainer.masking import example_keys, mask_batch
from trainer.metrics import peak_flops
from trainer.model import MegatronBertForPreTraining
from trainer.train import model_inputs

MASK_ID, CLS, SEP = 103, 101, 102


def make_batch(batch: int, seq: int, vocab: int, device: torch.device) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(0)
    ids = rng.integers(672, min(vocab, 21128), (batch, seq))
    ids[:, 0], ids[:, seq // 2], ids[:, -1] = CLS, SEP, SEP
    special = np.isin(ids, [CLS, SEP])
    empty = np.zeros(0, dtype=np.int64)
    examples = ExampleLayout.from_lengths(np.full(batch, seq), np.ones(batch, dtype=np.int64), seq)
    keys = example_keys([f"row-{i}" for i in range(batch)], np.zeros(batch, dtype=np.int64))
    masked = mask_batch(ids, (rng.random(ids.shape) < 0.6) | special, special, empty, empty, empty, examples, keys,
                        seed=0, epoch=0, mask_id=MASK_ID,
                        random_ids=np.arange(672, min(vocab, 21128)), config=MaskingConfig())
    token_type = np.zeros_like(ids)
    token_type[:, seq // 2 + 1:] = 1
    out = {"input_ids": masked.input_ids, "token_type_ids": token_type, "mlm_positions": masked.positions,
           "mlm_labels": masked.labels, "sop_labels": rng.integers(0, 2, batch)}
    return {k: torch.from_numpy(np.asarray(v, dtype=np.int64)).to(device) for k, v in out.items()}


def time_steps(step, steps: int, warmup: int, device: torch.device) -> float:
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    began = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - began) / steps


def shard_batches(directory: str, micro_batch: int, count: int, max_len: int) -> list[dict[str, torch.Tensor]]:
    """The first `count` micro-batches of epoch 0 of a shard directory, as `train` collates them."""
    shards = open_shards(directory)
    manifest = shards.manifest
    data = PretrainingBatches(shards.train, manifest.special_tokens, manifest.vocab.size, micro_batch_size=micro_batch,
                              seed=0, epoch=0, pad_to_multiple_of=64, max_len=max_len,
                              replacement_ids=shards.replacement_ids)
    if len(data) < count:
        raise SystemExit(f"{directory} holds {len(data)} micro-batches of {micro_batch} rows; lower --steps")
    return list(itertools.islice(data, count))


def compare_layouts(args: argparse.Namespace, config: ModelConfig, device: torch.device, autocast) -> dict:
    """Non-pad tokens per second, packed rows against one example a row (module docstring)."""
    count = args.warmup + args.steps
    sides = {"packed": shard_batches(args.packed, args.batch, count, config.max_position_embeddings),
             "unpacked": shard_batches(args.unpacked, args.unpacked_batch or args.batch, count,
                                       config.max_position_embeddings)}
    torch.manual_seed(0)
    model = MegatronBertForPreTraining(config).to(device)
    if args.compile:
        for layer in model.bert.encoder.layer:
            layer.compile()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type == "cuda")

    def step(batch: dict[str, torch.Tensor]) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        began = time.perf_counter()
        with autocast:
            loss = model(**model_inputs(batch, device)).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - began

    totals = {name: dict.fromkeys(("seconds", "tokens", "slots", "examples", "rows", "flops"), 0.0) for name in sides}
    for index in range(count):
        for name, batches in sides.items():  # turns, so that the machine's load falls on both alike
            batch = batches[index]
            seconds = step(batch)
            if index < args.warmup:
                continue
            total = totals[name]
            total["seconds"] += seconds
            total["tokens"] += int(batch["attention_mask"].sum())
            total["slots"] += batch["input_ids"].numel()
            total["examples"] += batch["cls_positions"].numel()
            total["rows"] += batch["input_ids"].shape[0]
            total["flops"] += model.example_flops(batch["example_len"].numpy())
    peak = peak_flops(device)
    results = {}
    for name, total in totals.items():
        results[name] = {
            "micro_batch_rows": args.batch if name == "packed" else args.unpacked_batch or args.batch,
            "non_pad_tokens_per_s": total["tokens"] / total["seconds"],
            "examples_per_s": total["examples"] / total["seconds"],
            "padding_share": 1 - total["tokens"] / total["slots"],
            "examples_per_row": total["examples"] / total["rows"],
            "real_tokens_per_step": total["tokens"] / args.steps,
            "real_tflops_per_s": total["flops"] / total["seconds"] / 1e12,
            "mfu_real_tokens": total["flops"] / total["seconds"] / peak if peak else None,
        }
    results["speedup_non_pad_tokens_per_s"] = (results["packed"]["non_pad_tokens_per_s"]
                                               / results["unpacked"]["non_pad_tokens_per_s"])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="tiny", choices=["tiny", "base", "1.3b"])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="torch.compile our layers")
    parser.add_argument("--skip-hf", action="store_true", help="ours only (e.g. when memory is short)")
    parser.add_argument("--packed", metavar="DIR", help="`prepare` output: compare it with --unpacked instead")
    parser.add_argument("--unpacked", metavar="DIR", help="`prepare --no-pack` output of the same input")
    parser.add_argument("--unpacked-batch", type=int, help="rows per micro-batch on the unpacked side (--batch)")
    args = parser.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    config = model_preset(args.config)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()
    if args.packed or args.unpacked:
        if not (args.packed and args.unpacked):
            parser.error("--packed and --unpacked go together")
        results = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu", "config": args.config,
                   "dtype": "bf16" if device.type == "cuda" else "fp32", "threads": torch.get_num_threads(),
                   "compile": args.compile,
                   **compare_layouts(args, config, device, autocast)}
        print(json.dumps(results, indent=2))
        return
    fused = device.type == "cuda"
    batch = make_batch(args.batch, args.seq, config.vocab_size, device)
    tokens = args.batch * args.seq
    torch.manual_seed(0)
    ours = MegatronBertForPreTraining(config).to(device)
    flops = ours.flops_per_token(args.seq) * tokens
    weights = {k: v.detach().cpu() for k, v in ours.state_dict().items()}
    peak = peak_flops(device)
    results = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu", "config": args.config,
               "batch": args.batch, "seq": args.seq, "dtype": "bf16" if device.type == "cuda" else "fp32"}

    if args.compile:
        for layer in ours.bert.encoder.layer:
            layer.compile()
    optimizer = torch.optim.AdamW(ours.parameters(), lr=1e-4, fused=fused)

    def our_step() -> None:
        with autocast:
            loss = ours(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    seconds = time_steps(our_step, args.steps, args.warmup, device)
    results["ours"] = {"tokens_per_s": tokens / seconds, "mfu": flops / seconds / peak if peak else None,
                       "compile": args.compile}
    ours = optimizer = None  # frees their memory before transformers builds its copy
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()

    if not args.skip_hf:
        hf = HfMegatronBert(MegatronBertConfig(**config.to_hf_dict(), attn_implementation="eager")).to(device)
        hf.load_state_dict(weights)
        hf_optimizer = torch.optim.AdamW(hf.parameters(), lr=1e-4, fused=fused)
        labels = torch.full_like(batch["input_ids"], -100)
        labels.view(-1)[batch["mlm_positions"]] = batch["mlm_labels"]

        def hf_step() -> None:
            with autocast:
                loss = hf(input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"], labels=labels,
                          next_sentence_label=batch["sop_labels"]).loss
            loss.backward()
            hf_optimizer.step()
            hf_optimizer.zero_grad(set_to_none=True)

        seconds = time_steps(hf_step, args.steps, args.warmup, device)
        results["transformers_eager"] = {"tokens_per_s": tokens / seconds,
                                         "mfu": flops / seconds / peak if peak else None}
        results["speedup"] = results["ours"]["tokens_per_s"] / results["transformers_eager"]["tokens_per_s"]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
