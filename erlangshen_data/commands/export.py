"""`erlangshen-data export`: shards or checkpoints in the formats other tools read.

  export megatron OUTPUT_DIR OUT_PREFIX   input_ids as Megatron-LM OUT_PREFIX.bin/.idx
  export hf RUN_DIR OUT_DIR               a `train` run's checkpoint as a Hugging Face directory
"""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("export")
    formats = parser.add_subparsers(dest="format", required=True)
    megatron = formats.add_parser("megatron", help="input_ids as a Megatron-LM indexed dataset")
    megatron.add_argument("shards", metavar="OUTPUT_DIR",
                          help="the --output directory of `prepare` (manifest.json, shards/)")
    megatron.add_argument("out_prefix", metavar="OUT_PREFIX", help="writes OUT_PREFIX.bin and OUT_PREFIX.idx")
    megatron.set_defaults(func=run_megatron)
    hf = formats.add_parser("hf", help="a training checkpoint as a MegatronBertForPreTraining directory")
    hf.add_argument("run_dir", metavar="RUN_DIR", help="the --out directory of `erlangshen-data train`")
    hf.add_argument("out_dir", metavar="OUT_DIR",
                    help="the Hugging Face directory to write (config.json, weights, vocab.txt)")
    hf.set_defaults(func=run_hf)


def run_megatron(args: argparse.Namespace) -> int:
    from trainer.megatron_export import export_megatron

    sequences, documents = export_megatron(args.shards, args.out_prefix)
    print(f"wrote {args.out_prefix}.bin/.idx: {sequences} sequences in {documents} documents")
    return 0


def run_hf(args: argparse.Namespace) -> int:
    from trainer.export_hf import export_checkpoint

    print(f"wrote {export_checkpoint(args.run_dir, args.out_dir)}")
    return 0
