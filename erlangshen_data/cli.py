"""`erlangshen-data` entry point: one sub-command per module in `erlangshen_data.commands`.

Only the module of the command named is imported: Beam, Great Expectations and torch take seconds to
import, so the top-level `--help` and `--version` list the commands from the table below instead.
Every error the user can fix is one line on stderr and exit status 2; anything else is a bug and keeps
its traceback.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import re
import sys
from collections.abc import Iterable, Sequence
from importlib.metadata import PackageNotFoundError, version

from schemas.errors import UserInputError

# `import apache_beam` itself imports Beam's BigQuery client, which without the gcp extra logs this
# line on every command, --help included; nothing here uses BigQuery, so that one record goes.
logging.getLogger().addFilter(lambda record: not record.getMessage().startswith("apitools not found"))
# A failing Beam step logs its exception with the traceback, then re-raises it to `main`, which prints
# one line for an error the user can fix and the whole traceback for a bug: the logged copy only
# buries that line.
logging.getLogger("apache_beam.runners.common").addFilter(lambda record: not record.exc_info)

PROG = "erlangshen-data"
INTERRUPTED = 130  # what a shell reports for a process ended by SIGINT (128 + 2)

# Each module exposes `register(subparsers)`, which adds its parser and sets `func(args) -> int`.
COMMANDS = {
    "prepare": ("erlangshen_data.commands.prepare", "build training shards from a raw corpus"),
    "lexicon": ("erlangshen_data.commands.lexicon", "inspect entity lexicons"),
    "plan": ("erlangshen_data.commands.plan", "estimate core-hours, wall time and cost of preparing a corpus"),
    "segment": ("erlangshen_data.commands.segment", "word segmentation tools"),
    "validate": ("erlangshen_data.commands.validate",
                 "validate a `prepare` output (shards, manifest, ledger) with Great Expectations"),
    "train": ("erlangshen_data.commands.train", "pretrain MegatronBERT (MLM + SOP) on prepared shards"),
    "export": ("erlangshen_data.commands.export", "shards to Megatron .bin/.idx, checkpoints to Hugging Face"),
    "finetune": ("erlangshen_data.commands.finetune", "fine-tune and evaluate on a CLUE / FewCLUE classification task"),
}


class DefaultsShown(argparse.RawDescriptionHelpFormatter):
    """Appends "(default: X)" to an option's help wherever it has a default worth showing (not None,
    False or empty) and the text does not state its default already. Descriptions keep their line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        unset = action.default is None or action.default is False or action.default == []
        if "default" in text or not action.option_strings or unset or action.default is argparse.SUPPRESS:
            return text
        return f"{text} (default: %(default)s)"


class CommandLineParser(argparse.ArgumentParser):
    """A usage error is one line (argparse's own prints the whole usage first); sub-parsers inherit
    this class, so it holds for every command."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", DefaultsShown)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def package_version() -> str:
    try:
        return version("erlangshen-data")
    except PackageNotFoundError:  # run from a checkout that was never `pip install`ed
        return "unknown (not installed)"


def build_parser(commands: Iterable[str] = COMMANDS) -> argparse.ArgumentParser:
    """The full parser of each command in `commands`; the others get a name and a summary only."""
    parser = CommandLineParser(
        prog=PROG,
        description="Chinese BERT pretraining data (WWM + KDM + SOP) on Apache Beam, and its trainer.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = set(commands)
    for name, (module, summary) in COMMANDS.items():
        if name in wanted:
            importlib.import_module(module).register(subparsers)
            subparsers.choices[name].description = subparsers.choices[name].description or summary
        else:
            subparsers.add_parser(name, help=summary, description=summary)
    return parser


def named_commands(argv: Sequence[str]) -> list[str]:
    """The command `argv` names, alone: `train` on a GPU node (8 ranks under torchrun) then never
    imports Beam and the pipeline, which cost seconds a process and need not be installed there
    (DESIGN.md: the trainer depends on schemas/ only). None for the top-level help or a wrong name."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return [first] if first in COMMANDS else []


def _chain(error: BaseException) -> Iterable[BaseException]:
    """`error` and what it was raised from or while handling: Beam re-raises what a step raised as a
    RuntimeError naming the step."""
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def interrupted(error: BaseException) -> bool:
    """Ctrl-C, whether it reached `main` itself or inside a Beam step, which re-raises it as
    `RuntimeError: KeyboardInterrupt [while running ...]` (text only, from a worker process)."""
    return any(isinstance(seen, KeyboardInterrupt) for seen in _chain(error)) or str(error).startswith(
        "KeyboardInterrupt")


def disk_full_path(error: BaseException) -> str | None:
    """Where the disk filled up when `error` comes from ENOSPC ("" when the path is unknown), else None.
    Beam re-raises a worker's OSError as a RuntimeError that keeps only its text, hence the text match."""
    for seen in _chain(error):
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return str(seen.filename or "")
    match = re.search(r"\[Errno %d\] [^:\]]*(?:: '([^']*)')?" % errno.ENOSPC, str(error))
    return None if match is None else match.group(1) or ""


def named_path_error(error: BaseException, args: argparse.Namespace) -> str | None:
    """The message of an OSError about a path the user named or a folder above one (`--out` that is a
    file, an export prefix under a file): the user's to fix, so one line. An OSError about a path
    below one, or any other, may be a bug and keeps its traceback."""
    if not isinstance(error, OSError) or not error.filename:
        return None
    failed = os.path.abspath(str(error.filename))
    for value in vars(args).values():
        for named in value if isinstance(value, list) else [value]:
            if isinstance(named, str) and named and "://" not in named:
                named = os.path.abspath(named)
                if failed == named or named.startswith(failed + os.sep):
                    return f"{error.filename}: {error.strerror or error}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser(named_commands(argv)).parse_args(argv)
    except SystemExit as done:  # --help, --version, a usage error: argparse has printed what it had to
        return int(done.code or 0)
    prefix = f"{PROG} {args.command}:"
    try:
        return int(args.func(args) or 0)
    except UserInputError as error:
        print(f"{prefix} error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prefix} interrupted", file=sys.stderr)
        return INTERRUPTED
    except Exception as error:
        if interrupted(error):
            print(f"{prefix} interrupted", file=sys.stderr)
            return INTERRUPTED
        where, message = disk_full_path(error), named_path_error(error, args)
        if where is not None:
            output = getattr(args, "output", None) or getattr(args, "out", None)
            place = f" writing {where}" if where else f" writing under {output}" if output else ""
            message = f"the disk is full (no space left on device){place}"
        if message is None:
            raise
        print(f"{prefix} error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
