"""Confining the paths a manifest names to the output directory it describes.

A manifest is read from a directory anyone may have written: a shard `file` that is absolute, climbs out
with `..` or is a symlink out of the directory would make `validate` read (and vouch for) a file that is
not part of the output, `/etc/passwd` included. Every path is resolved, symlinks followed, before any
byte of it is read.
"""
from __future__ import annotations

from pathlib import Path, PurePosixPath


def inside_output(output_dir: Path, relative: str) -> Path | None:
    """`output_dir / relative` when it names something inside `output_dir`, else None.

    `relative` is a manifest's POSIX path (`prepare` writes `shards/part-...`); a backslash or NUL has
    no place in one, and a symlink loop leads nowhere."""
    if not relative or "\\" in relative or "\x00" in relative:
        return None
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts:
        return None
    path = output_dir.joinpath(*pure.parts)
    try:
        inside = path.resolve().is_relative_to(output_dir.resolve())
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python 3.11)
        return None
    return path if inside else None
