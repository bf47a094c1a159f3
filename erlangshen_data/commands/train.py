"""`erlangshen-data train`: pretrain MegatronBERT on a prepared shard directory.

One process on a CPU or GPU, or several under `torchrun --nproc_per_node=N -m erlangshen_data.cli train`.
torch is imported only when the command runs, so the other commands start fast without it.
"""
from __future__ import annotations

import argparse

from erlangshen_data.commands.arg_types import COUNT, NON_NEGATIVE, NON_NEGATIVE_NUMBER, POSITIVE, SEED, SHARE, number
from trainer.config import MODEL_PRESETS, MaskingConfig, TrainConfig

DEFAULTS = TrainConfig(data_dir="", out_dir="")


def register(subparsers) -> None:
    parser = subparsers.add_parser("train")
    parser.add_argument("--data", required=True, metavar="DIR", help="a `prepare` output (manifest.json + shards/)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="metrics.jsonl and checkpoint/; a run resumes from the checkpoint found here")
    parser.add_argument("--model", choices=list(MODEL_PRESETS), default=DEFAULTS.model, help="model size")
    parser.add_argument("--init-from", metavar="HF_DIR", help="start from a Hugging Face MegatronBert directory")
    parser.add_argument("--eval-shards", type=NON_NEGATIVE, default=DEFAULTS.eval_shards, metavar="N",
                        help="hold out the manifest's last N shards for evaluation")
    parser.add_argument("--mix-shards", type=COUNT, default=DEFAULTS.mix_shards, metavar="K",
                        help="shuffle an epoch's rows across K shards at a time (each loader worker holds K "
                             "shards); 1 reads shard by shard")
    parser.add_argument("--seed", type=SEED, default=DEFAULTS.seed,
                        help="seed of the initialisation, the epoch order and the masks")
    parser.add_argument("--micro-batch-size", type=COUNT, default=DEFAULTS.micro_batch_size, metavar="ROWS",
                        help="rows per rank")
    parser.add_argument("--grad-accum", type=COUNT, default=DEFAULTS.grad_accum_steps, metavar="STEPS",
                        help="micro-batches per optimiser step")
    parser.add_argument("--max-steps", type=COUNT, default=DEFAULTS.max_steps, metavar="STEPS",
                        help="optimiser steps of the whole schedule")
    parser.add_argument("--stop-after", type=COUNT, default=None, metavar="STEPS",
                        help="stop (with a checkpoint) after this step; the schedule still spans --max-steps")
    parser.add_argument("--lr", type=POSITIVE, default=DEFAULTS.lr, help="peak learning rate")
    parser.add_argument("--min-lr-ratio", type=SHARE, default=DEFAULTS.min_lr_ratio, metavar="R",
                        help="the learning rate decays to R x --lr at --max-steps")
    parser.add_argument("--warmup-steps", type=NON_NEGATIVE, default=DEFAULTS.warmup_steps, metavar="STEPS",
                        help="linear warm-up from 0 to --lr")
    parser.add_argument("--decay", choices=["linear", "cosine"], default=DEFAULTS.decay,
                        help="shape of the decay after warm-up")
    parser.add_argument("--weight-decay", type=NON_NEGATIVE_NUMBER, default=DEFAULTS.weight_decay, metavar="W",
                        help="AdamW weight decay")
    parser.add_argument("--grad-clip", type=POSITIVE, default=DEFAULTS.grad_clip, metavar="NORM",
                        help="clip the gradient's global norm to NORM")
    parser.add_argument("--mask-rate", type=number(0.0, 1.0, above_minimum=True), default=MaskingConfig.mask_rate,
                        metavar="RATE",
                        help="expected share of an example's non-special tokens that are masked")
    parser.add_argument("--entity-boost", type=POSITIVE, default=MaskingConfig.entity_boost, metavar="FACTOR",
                        help="an entity unit is this many times likelier to be masked than a word unit, the "
                             "expected rate staying --mask-rate; 1: entities are plain whole words")
    parser.add_argument("--log-every", type=COUNT, default=DEFAULTS.log_every, metavar="STEPS",
                        help="steps between metrics records")
    parser.add_argument("--eval-every", type=NON_NEGATIVE, default=DEFAULTS.eval_every, metavar="STEPS",
                        help="steps between evaluations on the held-out shards; 0: never")
    parser.add_argument("--eval-batches", type=COUNT, default=DEFAULTS.eval_batches, metavar="N",
                        help="micro-batches per evaluation")
    parser.add_argument("--save-every", type=NON_NEGATIVE, default=DEFAULTS.save_every, metavar="STEPS",
                        help="steps between checkpoints; 0: at the end only")
    parser.add_argument("--workers", type=NON_NEGATIVE, default=DEFAULTS.num_workers, metavar="N",
                        help="data loader processes per rank; 0: load in the training process")
    parser.add_argument("--compile", action="store_true", help="torch.compile each layer")
    parser.add_argument("--fsdp", action="store_true", help="shard parameters per layer (for the 1.3b config)")
    parser.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
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
