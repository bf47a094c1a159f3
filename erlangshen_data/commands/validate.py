"""`erlangshen-data validate`: check an output directory with Great Expectations before training on it.

Exit status 0 only when every expectation passes, 1 when any fails, 2 for a bad argument, a
directory that is not an output, or a manifest that cannot be read (not JSON, a field of the wrong
type, another shard layout: re-run prepare), always in one line; the summary says which checks broke
and where the Data Docs are.
WARNING lines (package versions that differ from the manifest's environment, so the shards may not be
byte-reproducible here) leave the exit status as it is.
"""
from __future__ import annotations

import argparse
import sys

from erlangshen_data.commands.arg_types import COUNT, SHARE, number
from schemas.contract import DEFAULT_MAX_REJECT_RATE, DEFAULT_SOP_TOLERANCE


def register(subparsers) -> None:
    parser = subparsers.add_parser("validate")
    parser.add_argument("output", metavar="OUTPUT_DIR",
                        help="the --output directory of `prepare` (manifest.json, shards/, rejects/); the Data "
                             "Docs go to OUTPUT_DIR/gx")
    parser.add_argument("--workers", type=COUNT, default=None, metavar="N", help="shard processes; default: all CPUs")
    parser.add_argument(
        "--sample-rows",
        type=COUNT,
        default=None,
        metavar="N",
        help="check at most N rows per shard (file hashes, row, token and document counts still cover every row)",
    )
    parser.add_argument(
        "--max-reject-rate",
        type=SHARE,
        default=DEFAULT_MAX_REJECT_RATE,
        metavar="R",
        help="fail when rejected / read documents exceeds this (default: %(default)s)",
    )
    parser.add_argument(
        "--sop-tolerance",
        type=number(0.0, 0.5),
        default=DEFAULT_SOP_TOLERANCE,
        metavar="D",
        help="allowed distance of the swapped share of SOP pairs from 0.5, widened to 3 standard "
        "errors on small outputs (default: %(default)s)",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-shard progress lines")
    parser.set_defaults(func=run)


def _print_progress(done: int, total: int, file: str) -> None:
    print(f"validated {done}/{total} shards ({file})", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    return validate_and_report(
        args.output,
        workers=args.workers,
        sample_rows=args.sample_rows,
        max_reject_rate=args.max_reject_rate,
        sop_tolerance=args.sop_tolerance,
        quiet=args.quiet,
    )


def validate_and_report(output: str, *, quiet: bool = False, **settings) -> int:
    """Shared by `validate` and `prepare --validate`: prints the summary, returns the exit status."""
    from schemas.validate import validate_output  # GX takes seconds to import: only when validating

    report = validate_output(output, progress=None if quiet else _print_progress, **settings)
    print(report.summary())
    return 0 if report.success else 1
