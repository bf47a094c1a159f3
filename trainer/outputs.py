"""The output directory of `prepare` as the trainer and the exports meet it: its manifest, checked for a
layout this code reads, and the files it names, confined to the directory. No torch here, so `export
megatron` runs without the train extra."""
from __future__ import annotations

from pathlib import Path

from schemas import shard as cols
from schemas.errors import UserInputError
from schemas.manifest import MANIFEST_NAME, Manifest, read_manifest
from schemas.output_paths import inside_output

READABLE_MAJOR = cols.SCHEMA_VERSION.split(".")[0]


def read_output_manifest(directory: Path) -> Manifest:
    """The manifest of a `prepare` output this trainer can read; anything else is one line."""
    if not (directory / MANIFEST_NAME).is_file():
        raise UserInputError(f"{directory} has no {MANIFEST_NAME}: run `erlangshen-data prepare` first")
    try:
        manifest = read_manifest(directory)
    except (ValueError, UnicodeDecodeError) as error:
        raise UserInputError(f"{directory / MANIFEST_NAME}: {error}") from None
    if manifest.schema_version.split(".")[0] != READABLE_MAJOR:
        raise UserInputError(f"{directory} holds shard layout {manifest.schema_version}; this trainer reads "
                             f"{READABLE_MAJOR}.x (packed rows): run `erlangshen-data prepare` again")
    return manifest


def output_file(directory: Path, relative: str) -> Path:
    """A file the manifest names, confined to the output: a manifest anyone may have written must not
    make the trainer read `/etc/passwd` or a shard outside the directory."""
    path = inside_output(directory, relative)
    if path is None:
        raise UserInputError(f"{directory / MANIFEST_NAME} names {relative!r}, which lies outside {directory}")
    return path
