"""File I/O through Beam's FileSystems, so local, gs:// and s3:// paths all work the same way.

Finished files appear by rename from a temporary name: an interrupted run never leaves a file that
looks complete.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import zlib
from pathlib import Path

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
    if path.lower().endswith(".gz"):
        return _read_gzip(path)  # Beam's reader returns a truncated gzip's prefix without a word
    chunks: list[bytes] = []
    try:
        with FileSystems.open(path, compression_type=CompressionTypes.AUTO) as handle:
            while chunk := handle.read(_CHUNK):
                chunks.append(chunk)
    except (EOFError, OSError, zlib.error) as error:
        return b"".join(chunks), f"{type(error).__name__}: {error}"
    return b"".join(chunks), None


def _read_gzip(path: str) -> tuple[bytes, str | None]:
    """Multi-member gzip, decompressed here so that a stream cut short is noticed."""
    out: list[bytes] = []
    decompressor = zlib.decompressobj(wbits=31)
    try:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            while chunk := handle.read(_CHUNK):
                while chunk:
                    out.append(decompressor.decompress(chunk))
                    chunk = decompressor.unused_data if decompressor.eof else b""
                    if decompressor.eof and chunk:
                        decompressor = zlib.decompressobj(wbits=31)  # next gzip member
    except (OSError, zlib.error) as error:
        return b"".join(out), f"{type(error).__name__}: {error}"
    if not decompressor.eof:
        return b"".join(out) + decompressor.flush(), "gzip stream ends before its end marker"
    return b"".join(out), None


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


def move_files(moves: list[tuple[str, str]]) -> None:
    """Publishes finished files from the staging area to their final names."""
    for _, destination in moves:
        directory = FileSystems.split(destination)[0]
        if not FileSystems.exists(directory):
            FileSystems.mkdirs(directory)
    if moves:
        FileSystems.rename([s for s, _ in moves], [d for _, d in moves])


def read_bytes(path: str) -> bytes:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return handle.read()


def read_text(path: str) -> str:
    return read_bytes(path).decode("utf-8")


def local_copy(path: str) -> str:
    """A path that plain file APIs can open: `path` itself when it is local, else a copy of the object
    in this machine's temp directory, fetched once per version of the object and kept under its own
    file name (some loaders take meaning from the name). Lets the lexicon loaders, which know nothing
    of Beam, read gs:// and s3:// files on the driver and on every worker."""
    if FileSystems.get_scheme(path) in (None, "file"):
        return path
    metadata = FileSystems.match([path])[0].metadata_list
    if not metadata:
        raise FileNotFoundError(f"{path} does not exist")
    version = f"{path}\0{metadata[0].size_in_bytes}\0{metadata[0].last_updated_in_seconds}"
    name = FileSystems.split(path)[1]
    target = Path(tempfile.gettempdir(), "erlangshen-data", hashlib.sha256(version.encode()).hexdigest()[:16], name)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{name}.{os.getpid()}.{threading.get_ident()}.inprogress")
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as source, \
                open(partial, "wb") as sink:
            while chunk := source.read(_CHUNK):
                sink.write(chunk)
        os.replace(partial, target)  # atomic: a concurrent reader sees the whole file or none
    return str(target)
