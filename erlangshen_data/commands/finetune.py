"""`erlangshen-data finetune`: fine-tune and evaluate an encoder on a CLUE or FewCLUE classification task.

torch, the tokenizer and the model load only when the command runs, so `--help` stays fast.
"""
from __future__ import annotations

import argparse

from erlangshen_data.commands.arg_types import COUNT, NON_NEGATIVE_NUMBER, POSITIVE, SEED, SHARE, integer
from finetune.config import Hyperparameters
from finetune.tasks import PAIR, SINGLE, TASKS, WSC

DESCRIPTION = f"""\
Fine-tune a pretrained MegatronBERT on a CLUE-style classification task, report accuracy on dev and
test (where they have labels) and write the test predictions in CLUE's submission format.

tasks: single sentence: {', '.join(n for n, t in TASKS.items() if t.kind == SINGLE)};
       sentence pair: {', '.join(n for n, t in TASKS.items() if t.kind == PAIR)};
       coreference: {', '.join(n for n, t in TASKS.items() if t.kind == WSC)} (span1 marked _..._, the pronoun [...]).
A broken line in a train or dev file is counted and skipped (--strict: an error); in the test file it
is an error, since a submission is scored line by line.
"""


def register(subparsers) -> None:
    hp = Hyperparameters()
    parser = subparsers.add_parser("finetune", description=DESCRIPTION)
    parser.add_argument("--task", required=True, choices=list(TASKS), help="the CLUE / FewCLUE task")
    parser.add_argument("--model", required=True, metavar="PATH",
                        help="a `train` run directory (its checkpoint), a local Hugging Face MegatronBert directory "
                             "(config.json + weights, e.g. Erlangshen's), or scratch:tiny|base|1.3b (random weights)")
    parser.add_argument("--data", metavar="DIR",
                        help="a task directory: CLUE's train.json, dev.json, test.json or FewCLUE's "
                             "train_few_all.json, dev_few_all.json, test_public.json")
    parser.add_argument("--train", metavar="FILE", help="the training file (overrides --data's)")
    parser.add_argument("--dev", metavar="FILE", help="the dev file (overrides --data's)")
    parser.add_argument("--test", metavar="FILE", help="the file to predict for a submission (overrides --data's)")
    parser.add_argument("--out", required=True, metavar="DIR", help="metrics.jsonl and seed-S/<task>_predict.json")
    parser.add_argument("--vocab", metavar="FILE", help="vocab.txt (default: the one in the --model directory)")
    parser.add_argument("--lr", type=POSITIVE, default=hp.lr, help="peak learning rate")
    parser.add_argument("--epochs", type=COUNT, default=hp.epochs, help="passes over the training file")
    parser.add_argument("--batch-size", type=COUNT, default=hp.batch_size, help="training examples per step")
    parser.add_argument("--eval-batch-size", type=COUNT, default=hp.eval_batch_size,
                        help="examples per forward pass on dev and test")
    parser.add_argument("--warmup-ratio", type=SHARE, default=hp.warmup_ratio,
                        help="share of the steps over which the learning rate warms up (then decays linearly to 0)")
    parser.add_argument("--weight-decay", type=NON_NEGATIVE_NUMBER, default=hp.weight_decay, help="AdamW weight decay")
    parser.add_argument("--max-len", type=integer(8, 65535), metavar="TOKENS",
                        help="truncate inputs to this many tokens (default per task: 128, or 256 for iflytek, "
                             "eprstmt, csl and wsc)")
    parser.add_argument("--seed", type=SEED, default=42, help="the first seed")
    parser.add_argument("--seeds", type=COUNT, default=1, metavar="N",
                        help="fine-tune N times (seeds SEED..SEED+N-1) and report accuracy mean ± sd")
    parser.add_argument("--strict", action="store_true", help="a bad train or dev line is an error, not a skip")
    parser.add_argument("--submission-name", metavar="FILE",
                        help="name of the prediction file (default <task>_predict.json; CLUE 1.1 wants "
                             "tnews11_predict.json and cluewsc11_predict.json)")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    parser.add_argument("--log-every", type=COUNT, default=hp.log_every, metavar="STEPS",
                        help="optimiser steps between training records")
    parser.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    parser.add_argument("--no-progress", action="store_true", help="no per-epoch lines on stderr")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from finetune.run import FinetuneRequest, run_finetune

    hp = Hyperparameters(lr=args.lr, epochs=args.epochs, batch_size=args.batch_size,
                         eval_batch_size=args.eval_batch_size, warmup_ratio=args.warmup_ratio,
                         weight_decay=args.weight_decay, log_every=args.log_every)
    summary = run_finetune(FinetuneRequest(
        task=args.task, model=args.model, out_dir=args.out, data_dir=args.data, train_file=args.train,
        dev_file=args.dev, test_file=args.test, vocab=args.vocab, max_len=args.max_len, seed=args.seed,
        seeds=args.seeds, strict=args.strict, submission_name=args.submission_name, device=args.device,
        overwrite=args.overwrite, progress=not args.no_progress, hp=hp))
    for split in ("dev", "test"):
        if split in summary:
            mean, sd = summary[split]["mean"], summary[split]["sd"]
            spread = f" ± {sd:.4f} (sd over {len(summary['seeds'])} seeds)" if sd is not None else ""
            print(f"{args.task} {split} accuracy {mean:.4f}{spread}")
    print(f"metrics and predictions in {args.out}")
    return 0
