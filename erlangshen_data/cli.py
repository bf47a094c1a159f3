"""`erlangshen-data` entry point: one sub-command per module in `erlangshen_data.commands`."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from schemas.errors import UserInputError

# Each module exposes `register(subparsers)`, which adds its parser and sets `func(args) -> int`.
COMMAND_MODULES = [
    "erlangshen_data.commands.prepare",
    "erlangshen_data.commands.lexicon",
    "erlangshen_data.commands.plan",
    "erlangshen_data.commands.segment",
    "erlangshen_data.commands.validate",
    "erlangshen_data.commands.train",
    "erlangshen_data.commands.export",
]


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="erlangshen-data",
        description="Chinese BERT pretraining data (WWM + KDM + SOP) on Apache Beam, and its trainer.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserInputError as error:
        print(f"erlangshen-data {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
