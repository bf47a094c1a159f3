"""File I/O through Beam's FileSystems, so local, gs:// and s3:// paths all work the same way.

Inputs are read as a stream: stored bytes are hashed and decompressed chunk by chunk, so a worker holds
a few MB of a file, never the file. Finished files appear by rename from a temporary name: an
interrupted run never leaves a file that looks complete.
"""
from __future__ import annotations

import bz2
import hashlib
import io
import logging
import lzma
import os
import re
import tempfile
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import zstandard

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from schemas.errors import UserInputError

# Stored bytes per read, and decompressed bytes per piece handed on (what one codec call may produce).
# 1 MB, not more: a piece's decoded text is still in the CPU cache when the parser reads it, which
# makes read+parse faster than with 8 MB pieces, and faster than reading the file whole.
_CHUNK = 1024 * 1024
_PIECE = 1024 * 1024
# zstd's decompressor has no output limit, and one RLE block turns 4 bytes into 128 KB (32768:1), so it
# is fed this much at a time: at most 32 MB out per call, and no slower than larger feeds.
_ZSTD_FEED = 1024
_GLOB_CHARACTERS = re.compile(r"[*?\[]")
TRUNCATED, TOO_LARGE = "truncated_stream", "input_too_large"  # the reasons a stream breaks off


def expand_inputs(patterns: list[str]) -> list[tuple[str, int]]:
    """(path, size) for every file the patterns name, sorted, so input order never matters.

    An existing path means that file, whatever its name holds (`[1]`, a leading dot); a directory means
    the files under it, at any depth, as users of `cp -r` and of datatrove's or HF's folder readers
    expect; only a path that names nothing is a glob. Hidden files (`.git/`, `.DS_Store`) are skipped in
    a directory or glob, with a warning that says how many; a log line says what each pattern matched."""
    found: dict[str, int] = {}
    for pattern in patterns:
        try:
            matched, hidden = _match(pattern)
        except Exception as error:  # Beam raises BeamIOError, or a backend-specific error
            raise UserInputError(f"cannot list input {pattern}: {error}") from error
        if not matched:
            skipped = f" ({hidden} hidden file(s) skipped)" if hidden else ""
            raise UserInputError(f"input {pattern} matches no file{skipped}")
        if hidden:
            logging.warning("input %s: %d hidden file(s) skipped; name one to read it", pattern, hidden)
        logging.info("input %s: %d file(s), %d bytes", pattern, len(matched), sum(matched.values()))
        found.update(matched)
    return sorted(found.items())


def _match(pattern: str) -> tuple[dict[str, int], int]:
    """The files `pattern` names and how many hidden ones it skipped."""
    filesystem = FileSystems.get_filesystem(pattern)
    local = FileSystems.get_scheme(pattern) in (None, "file")
    if local and os.path.isdir(pattern):
        return _listed(FileSystems.join(pattern, "**"), pattern)
    if filesystem.exists(pattern):
        metadata = filesystem.metadata(pattern)
        return {metadata.path: metadata.size_in_bytes}, 0
    glob = _GLOB_CHARACTERS.search(pattern)
    if glob:
        return _listed(pattern, pattern[:glob.start()].rpartition("/")[0])
    if not local:  # an object store's folder is the prefix of its objects
        return _listed(FileSystems.join(pattern.rstrip("/"), "**"), pattern.rstrip("/"))
    return {}, 0


def _listed(pattern: str, root: str) -> tuple[dict[str, int], int]:
    """Matches of a glob, or of a directory's `**`, without hidden files: those with a name that
    starts with a dot anywhere below `root`, the part of the pattern before any glob character."""
    found, hidden = {}, 0
    for metadata in FileSystems.match([pattern])[0].metadata_list:
        below = metadata.path[len(root):] if metadata.path.startswith(root) else FileSystems.split(metadata.path)[1]
        if any(name.startswith(".") for name in below.split("/")):
            hidden += 1
        else:
            found[metadata.path] = metadata.size_in_bytes
    return found, hidden


class _Passthrough:
    """A file stored as is."""

    eof = True
    unused_data = b""

    def pieces(self, data: bytes) -> Iterator[bytes]:
        for start in range(0, len(data), _PIECE):
            yield data[start:start + _PIECE]


class _Codec:
    """A standard-library decompressor: where its member ends and what follows it."""

    def __init__(self, codec) -> None:
        self._codec = codec

    @property
    def eof(self) -> bool:
        return self._codec.eof

    @property
    def unused_data(self) -> bytes:
        return self._codec.unused_data


class _Inflate(_Codec):
    """gzip and zlib's deflate: `max_length` bounds each call's output, the rest waits in `unconsumed_tail`."""

    def __init__(self, wbits: int) -> None:
        super().__init__(zlib.decompressobj(wbits=wbits))

    def pieces(self, data: bytes) -> Iterator[bytes]:
        codec = self._codec
        while True:
            out = codec.decompress(data, _PIECE)
            if out:
                yield out
            data = codec.unconsumed_tail
            if codec.eof or (not data and len(out) < _PIECE):
                return


class _Buffered(_Codec):
    """bzip2 and xz: `max_length` bounds each call's output, the decompressor keeps the rest of the input."""

    def pieces(self, data: bytes) -> Iterator[bytes]:
        codec = self._codec
        out = codec.decompress(data, _PIECE)
        while True:
            if out:
                yield out
            if codec.eof or codec.needs_input:
                return
            out = codec.decompress(b"", _PIECE)


class _Zstd:
    """zstd, fed `_ZSTD_FEED` bytes a call (see there); `unused_data` is what follows the frame."""

    def __init__(self) -> None:
        self._codec = zstandard.ZstdDecompressor().decompressobj()
        self.unused_data = b""

    @property
    def eof(self) -> bool:
        return self._codec.eof

    def pieces(self, data: bytes) -> Iterator[bytes]:
        codec = self._codec
        for start in range(0, len(data), _ZSTD_FEED):
            out = codec.decompress(data[start:start + _ZSTD_FEED])
            if out:
                yield out
            if codec.eof:
                self.unused_data = codec.unused_data + data[start + _ZSTD_FEED:]
                return


def _decompressor(path: str):
    name = path.lower()
    if name.endswith(".gz"):
        return _Inflate(wbits=31)
    if name.endswith(".bz2"):
        return _Buffered(bz2.BZ2Decompressor())
    if name.endswith(".xz"):
        return _Buffered(lzma.LZMADecompressor(format=lzma.FORMAT_XZ))
    if name.endswith((".zst", ".zstd")):
        return _Zstd()
    if name.endswith(".deflate"):
        return _Inflate(wbits=15)
    return _Passthrough()


class InputStream:
    """One input file as a stream of decompressed chunks, its stored bytes hashed in the same pass.

    Use as a context manager and iterate `chunks()`. On leaving, the stored bytes not yet read are read
    and hashed (not decompressed), so `stored_size` and `sha256` always describe the whole stored file,
    as the manifest needs, even when a parser stopped early. Every codec (gzip, bzip2, xz, zstd,
    deflate; concatenated members or frames too) hands on what it decoded before a break and says why
    it broke in `broken`, with `break_reason`; Beam's own readers return a truncated stream's prefix
    without a word. More than `max_bytes` decompressed bytes (a gzip bomb) is such a break too: the
    first `max_bytes` are handed on, whatever the chunking, so the records kept do not depend on it."""

    def __init__(self, path: str, max_bytes: int | None = None) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.broken: str | None = None
        self.break_reason = TRUNCATED
        self.stored_size = 0
        self.decoded_size = 0
        self._digest = hashlib.sha256()
        self._handle = None

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def __enter__(self) -> "InputStream":
        self._handle = FileSystems.open(self.path, compression_type=CompressionTypes.UNCOMPRESSED)
        return self

    def __exit__(self, *error) -> None:
        try:
            if error[0] is None:
                while self._read():
                    pass
        finally:
            self._handle.close()

    def _read(self) -> bytes:
        chunk = self._handle.read(_CHUNK)
        self._digest.update(chunk)
        self.stored_size += len(chunk)
        return chunk

    def chunks(self) -> Iterator[bytes]:
        """Decompressed bytes in pieces of up to `_PIECE` (zstd's up to 32 MB, see `_ZSTD_FEED`); stops
        at the end, at a break or at the cap."""
        for piece in self._decompressed():
            if self.max_bytes is not None and self.decoded_size + len(piece) > self.max_bytes:
                if self.max_bytes > self.decoded_size:
                    yield piece[: self.max_bytes - self.decoded_size]
                self.decoded_size = self.max_bytes
                self.broken = f"more than {self.max_bytes} bytes decompressed (the per-file cap, --max-input-mb)"
                self.break_reason = TOO_LARGE
                return
            self.decoded_size += len(piece)
            yield piece

    def _decompressed(self) -> Iterator[bytes]:
        """A failing read of the stored file raises (the runner retries it); a codec's error is a break."""
        decompressor = _decompressor(self.path)
        while chunk := self._read():
            while chunk:
                if decompressor.eof:  # the next member or frame, also where one ended with a read
                    decompressor = _decompressor(self.path)
                try:
                    yield from decompressor.pieces(chunk)
                except (EOFError, OSError, zlib.error, lzma.LZMAError, zstandard.ZstdError) as error:
                    self.broken = f"{type(error).__name__}: {error}"
                    return
                chunk = decompressor.unused_data if decompressor.eof else b""
        if not decompressor.eof:
            self.broken = "compressed stream ends before its end marker"


@dataclass(frozen=True)
class InputBytes:
    """One input file read whole: its decompressed bytes, why the stream broke off (None when it did
    not), and the stored file's size and sha256, for the manifest."""

    data: bytes
    broken: str | None
    stored_size: int
    sha256: str


def read_input(path: str, max_bytes: int | None = None) -> InputBytes:
    """A whole input file in memory, for callers that need one (small files, tools); `prepare` streams."""
    with InputStream(path, max_bytes) as stream:
        data = b"".join(stream.chunks())
    return InputBytes(data, stream.broken, stream.stored_size, stream.sha256)


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
