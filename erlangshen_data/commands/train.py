"""`erlangshen-data train`: pretrain MegatronBERT on a prepared shard directory.

One process on a CPU or GPU, or several under `torchrun --nproc_per_node=N -m erlangshen_data.cli train`.
torch is imported only when the command runs, so the other commands start fast without it.
"""
from __future__ import annotations

import argparse

from trainer.config import MODEL_PRESETS, MaskingConfig, TrainConfig

DEFAULTS = TrainConfig(data_dir="", out_dir="")


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="pretrain MegatronBERT (MLM + SOP) on prepared shards")
    parser.add_argument("--data", required=True, metavar="DIR", help="a `prepare` output (manifest.json + shards/)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="metrics.jsonl and checkpoint/; a run resumes from the checkpoint found here")
    parser.add_argument("--model", choices=list(MODEL_PRESETS), default=DEFAULTS.model)
    parser.add_argument("--init-from", metavar="HF_DIR", help="start from a Hugging Face MegatronBert directory")
    parser.add_argument("--eval-shards", type=int, default=DEFAULTS.eval_shards,
                        help="hold out the manifest's last N shards for evaluation")
    parser.add_argument("--mix-shards", type=int, default=DEFAULTS.mix_shards, metavar="K",
                        help="shuffle an epoch's rows across K shards at a time (each loader worker holds K "
                             "shards); 1 reads shard by shard")
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed)
    parser.add_argument("--micro-batch-size", type=int, default=DEFAULTS.micro_batch_size, help="rows per rank")
    parser.add_argument("--grad-accum", type=int, default=DEFAULTS.grad_accum_steps)
    parser.add_argument("--max-steps", type=int, default=DEFAULTS.max_steps)
    parser.add_argument("--stop-after", type=int, default=None, metavar="STEPS",
                        help="stop (with a checkpoint) after this step; the schedule still spans --max-steps")
    parser.add_argument("--lr", type=float, default=DEFAULTS.lr)
    parser.add_argument("--min-lr-ratio", type=float, default=DEFAULTS.min_lr_ratio)
    parser.add_argument("--warmup-steps", type=int, default=DEFAULTS.warmup_steps)
    parser.add_argument("--decay", choices=["linear", "cosine"], default=DEFAULTS.decay)
    parser.add_argument("--weight-decay", type=float, default=DEFAULTS.weight_decay)
    parser.add_argument("--grad-clip", type=float, default=DEFAULTS.grad_clip)
    parser.add_argument("--mask-rate", type=float, default=MaskingConfig.mask_rate,
                        help="expected share of an example's non-special tokens that are masked")
    parser.add_argument("--entity-boost", type=float, default=MaskingConfig.entity_boost, metavar="FACTOR",
                        help="an entity unit is this many times likelier to be masked than a word unit, the "
                             "expected rate staying --mask-rate; 1: entities are plain whole words")
    parser.add_argument("--log-every", type=int, default=DEFAULTS.log_every)
    parser.add_argument("--eval-every", type=int, default=DEFAULTS.eval_every)
    parser.add_argument("--eval-batches", type=int, default=DEFAULTS.eval_batches)
    parser.add_argument("--save-every", type=int, default=DEFAULTS.save_every)
    parser.add_argument("--workers", type=int, default=DEFAULTS.num_workers, help="data loader processes per rank")
    parser.add_argument("--compile", action="store_true", help="torch.compile each layer")
    parser.add_argument("--fsdp", action="store_true", help="shard parameters per layer (for the 1.3b config)")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        data_dir=args.data, out_dir=args.out, model=args.model, init_from=args.init_from,
        eval_shards=args.eval_shards, mix_shards=args.mix_shards, seed=args.seed,
        micro_batch_size=args.micro_batch_size,
        grad_accum_steps=args.grad_accum, max_steps=args.max_steps, stop_after_steps=args.stop_after, lr=args.lr,
        min_lr_ratio=args.min_lr_ratio, warmup_steps=args.warmup_steps, decay=args.decay,
        weight_decay=args.weight_decay, grad_clip=args.grad_clip, log_every=args.log_every,
        eval_every=args.eval_every, eval_batches=args.eval_batches, save_every=args.save_every,
        num_workers=args.workers, compile=args.compile, fsdp=args.fsdp, progress=not args.no_progress,
        masking=MaskingConfig(mask_rate=args.mask_rate, entity_boost=args.entity_boost),
    )


def run(args: argparse.Namespace) -> int:
    from trainer.train import train

    records = train(config_from_args(args))
    if records:
        last = records[-1]
        print(f"step {last['step']}: loss {last['loss']:.4f}, MLM accuracy {last['mlm_acc']:.3f}; "
              f"metrics and checkpoint in {args.out}")
    return 0
