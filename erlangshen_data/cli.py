"""`erlangshen-data` entry point: one sub-command per module in `erlangshen_data.commands`."""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterable, Sequence

from schemas.errors import UserInputError

# `import apache_beam` itself imports Beam's BigQuery client, which without the gcp extra logs this
# line on every command, --help included; nothing here uses BigQuery, so that one record goes.
logging.getLogger().addFilter(lambda record: not record.getMessage().startswith("apitools not found"))

# Each module exposes `register(subparsers)`, which adds its parser and sets `func(args) -> int`.
COMMANDS = {
    "prepare": "erlangshen_data.commands.prepare",
    "lexicon": "erlangshen_data.commands.lexicon",
    "plan": "erlangshen_data.commands.plan",
    "segment": "erlangshen_data.commands.segment",
    "validate": "erlangshen_data.commands.validate",
    "train": "erlangshen_data.commands.train",
    "export": "erlangshen_data.commands.export",
    "finetune": "erlangshen_data.commands.finetune",
}


def build_parser(commands: Iterable[str] = COMMANDS) -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="erlangshen-data",
        description="Chinese BERT pretraining data (WWM + KDM + SOP) on Apache Beam, and its trainer.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in commands:
        importlib.import_module(COMMANDS[name]).register(subparsers)
    return parser


def named_commands(argv: Sequence[str]) -> list[str]:
    """The command `argv` names, alone: `train` on a GPU node (8 ranks under torchrun) then never
    imports Beam and the pipeline, which cost seconds a process and need not be installed there
    (DESIGN.md: the trainer depends on schemas/ only). All of them for help or a wrong name."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return [first] if first in COMMANDS else list(COMMANDS)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(named_commands(argv)).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserInputError as error:
        print(f"erlangshen-data {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
