"""`erlangshen-data segment eval`: precision, recall and F1 of each segmenter on a SIGHAN-2005 gold file."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from pipeline.segment import BACKENDS, create_segmenter, read_user_dict
from pipeline.segment_eval import evaluate, parse_gold
from schemas.errors import UserInputError


def register(subparsers) -> None:
    parser = subparsers.add_parser("segment")
    actions = parser.add_subparsers(dest="action", required=True)
    evaluate_parser = actions.add_parser("eval", help="P/R/F1 of each backend against a gold file")
    evaluate_parser.add_argument("--gold", required=True, metavar="FILE",
                                 help="SIGHAN-2005 gold file (words separated by spaces, UTF-8)")
    evaluate_parser.add_argument("--backend", action="append", choices=BACKENDS, default=None,
                                 help="repeatable; default: every backend")
    evaluate_parser.add_argument("--no-hmm", action="store_true", help="jieba without HMM for unknown words")
    evaluate_parser.add_argument("--user-dict", metavar="FILE", help="jieba-format user dictionary")
    evaluate_parser.set_defaults(func=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    try:
        gold = parse_gold(Path(args.gold).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as error:
        raise UserInputError(f"cannot read gold file {args.gold}: {error}") from error
    user_dict = read_user_dict(args.user_dict) if args.user_dict else ()
    print(f"{'backend':<16} {'P':>7} {'R':>7} {'F1':>7} {'words':>8} {'seconds':>8}")
    for name in args.backend or BACKENDS:
        segmenter = create_segmenter(name, hmm=not args.no_hmm, user_dict=user_dict)
        started = time.perf_counter()
        result = evaluate(gold, segmenter.cut)
        seconds = time.perf_counter() - started
        print(f"{name:<16} {result.precision:7.4f} {result.recall:7.4f} {result.f1:7.4f} "
              f"{result.predicted_words:8d} {seconds:8.1f}")
    print(f"gold: {args.gold} ({sum(1 for line in gold if line)} sentences); hmm={'off' if args.no_hmm else 'on'}")
    return 0
