"""Training-step throughput and MFU: our MegatronBERT against transformers' eager MegatronBertForPreTraining.

    python -m bench.train_speed --config 1.3b --batch 16 --compile      # one GPU, bf16 autocast
    python -m bench.train_speed --config tiny --batch 8 --steps 5       # runs on a CPU too (fp32)

Both models get the same weights, the same batch (seq 512, ~15% masked) and the same optimiser
(AdamW, fused on CUDA); a step is forward, backward and optimiser step. MFU counts the same model
FLOPs for both (`MegatronBertForPreTraining.flops_per_token`), so the ratio of MFUs is the speed-up.
The goal on an H100 is >= 50% MFU for 1.3b and >= 1.5x transformers.
"""
from __future__ import annotations

import argparse
import gc
import json
import time
from contextlib import nullcontext

import numpy as np
import torch
from transformers import MegatronBertConfig
from transformers import MegatronBertForPreTraining as HfMegatronBert

from trainer.config import MaskingConfig, model_preset
from trainer.masking import mask_batch
from trainer.metrics import peak_flops
from trainer.model import MegatronBertForPreTraining

MASK_ID, CLS, SEP = 103, 101, 102


def make_batch(batch: int, seq: int, vocab: int, device: torch.device) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(0)
    ids = rng.integers(672, min(vocab, 21128), (batch, seq))
    ids[:, 0], ids[:, seq // 2], ids[:, -1] = CLS, SEP, SEP
    special = np.isin(ids, [CLS, SEP])
    empty = np.zeros(0, dtype=np.int64)
    masked = mask_batch(ids, (rng.random(ids.shape) < 0.6) | special, special, empty, empty, empty,
                        np.arange(batch, dtype=np.uint64), seed=0, epoch=0, mask_id=MASK_ID,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="tiny", choices=["tiny", "base", "1.3b"])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="torch.compile our layers")
    parser.add_argument("--skip-hf", action="store_true", help="ours only (e.g. when memory is short)")
    args = parser.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    config = model_preset(args.config)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()
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
