"""File I/O through Beam's FileSystems, so local, gs:// and s3:// paths all work the same way.

Finished files appear by rename from a temporary name: an interrupted run never leaves a file that
looks complete.
"""
from __future__ import annotations

import bz2
import hashlib
import io
import os
import tempfile
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

import zstandard

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


@dataclass(frozen=True)
class InputBytes:
    """One input file read whole: its decompressed bytes, why the stream broke off (None when it did
    not), and the stored file's size and sha256, for the manifest."""

    data: bytes
    broken: str | None
    stored_size: int
    sha256: str


class _Passthrough:
    """The decompressor interface for a file stored as is."""

    eof = True
    unused_data = b""

    def decompress(self, chunk: bytes) -> bytes:
        return chunk


def _decompressor(path: str):
    name = path.lower()
    if name.endswith(".gz"):
        return zlib.decompressobj(wbits=31)
    if name.endswith(".bz2"):
        return bz2.BZ2Decompressor()
    if name.endswith((".zst", ".zstd")):
        return zstandard.ZstdDecompressor().decompressobj()
    if name.endswith(".deflate"):
        return zlib.decompressobj()
    return _Passthrough()


def read_input(path: str) -> InputBytes:
    """Reads the stored bytes once, hashing them and decompressing them as they come. Every codec
    (gzip, bzip2, zstd, deflate; several concatenated members or frames too) keeps what it decoded
    before a break and says why it broke: Beam's own readers return a truncated stream's prefix
    without a word."""
    digest, size, out = hashlib.sha256(), 0, []
    decompressor = _decompressor(path)
    try:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                while chunk:
                    if decompressor.eof:  # the next member or frame, also where one ended with a read
                        decompressor = _decompressor(path)
                    out.append(decompressor.decompress(chunk))
                    chunk = decompressor.unused_data if decompressor.eof else b""
    except (EOFError, OSError, zlib.error, zstandard.ZstdError) as error:
        return InputBytes(b"".join(out), f"{type(error).__name__}: {error}", size, digest.hexdigest())
    broken = None if decompressor.eof else "compressed stream ends before its end marker"
    return InputBytes(b"".join(out), broken, size, digest.hexdigest())


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


def create(path: str):
    """A binary handle for a staging file, written in place: only published names need a rename."""
    return FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED)


class HashingSink(io.RawIOBase):
    """A writable file for pyarrow's writers that hashes what passes and appears under its name only on
    `publish`, by rename from a temporary sibling, like `write_atomically`."""

    def __init__(self, path: str) -> None:
        super().__init__()
        directory, name = FileSystems.split(path)
        self._path, self._temporary = path, FileSystems.join(directory, f".{name}.inprogress")
        self._handle = create(self._temporary)
        self._digest = hashlib.sha256()
        self._size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        data = bytes(data)
        self._digest.update(data)
        self._handle.write(data)
        self._size += len(data)
        return len(data)

    def tell(self) -> int:
        return self._size

    def publish(self) -> str:
        """Closes the file, gives it its name and returns the sha256 of its bytes."""
        self._handle.close()
        if FileSystems.exists(self._path):
            FileSystems.delete([self._path])
        FileSystems.rename([self._temporary], [self._path])
        return self._digest.hexdigest()


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
