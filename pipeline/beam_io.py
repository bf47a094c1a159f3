"""File I/O through Beam's FileSystems, so local, gs:// and s3:// paths all work the same way.

Finished files appear by rename from a temporary name: an interrupted run never leaves a file that
looks complete.
"""
from __future__ import annotations

import hashlib
import zlib

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from schemas.errors import UserInputError

_CHUNK = 8 * 1024 * 1024


def expand_inputs(patterns: list[str]) -> list[tuple[str, int]]:
    """(path, size) for every file the patterns match, sorted, so input order never matters."""
    found: dict[str, int] = {}
    for pattern in patterns:
        try:
            results = FileSystems.match([pattern])[0].metadata_list
        except Exception as error:  # Beam raises BeamIOError, or a backend-specific error
            raise UserInputError(f"cannot list input {pattern}: {error}") from error
        for metadata in results:
            if not FileSystems.split(metadata.path)[1].startswith("."):
                found[metadata.path] = metadata.size_in_bytes
        if not results:
            raise UserInputError(f"input {pattern} matches no file")
    return sorted(found.items())


def read_all(path: str) -> tuple[bytes, str | None]:
    """The file's (decompressed) bytes and, when the stream broke off, why: a truncated gzip keeps the
    records before the break."""
    chunks: list[bytes] = []
    try:
        with FileSystems.open(path, compression_type=CompressionTypes.AUTO) as handle:
            while chunk := handle.read(_CHUNK):
                chunks.append(chunk)
    except (EOFError, OSError, zlib.error) as error:
        return b"".join(chunks), f"{type(error).__name__}: {error}"
    return b"".join(chunks), None


def write_atomically(path: str, data: bytes) -> str:
    """Writes via a temporary sibling and a rename; returns the sha256 of the bytes."""
    directory, name = FileSystems.split(path)
    temporary = FileSystems.join(directory, f".{name}.inprogress")
    with FileSystems.create(temporary, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        handle.write(data)
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([temporary], [path])
    return hashlib.sha256(data).hexdigest()


def read_text(path: str) -> str:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return handle.read().decode("utf-8")
