"""An in-process object store registered with Beam's FileSystems under `memstore://`.

It keeps GCS's semantics, the ones local disks hide: no directories (`mkdirs` does nothing, a "folder"
exists only as a key prefix), `exists` is true only for an exact object name, a delete without a
trailing slash removes one object, and a file becomes visible only when its writer closes. Code that
passes here with no network behaves the same on gs://. Defining the class is enough to register it:
Beam looks schemes up among `FileSystem` subclasses. Objects live in this process, so a run on it
must use the in-process DirectRunner.
"""
from __future__ import annotations

import io
import time

from apache_beam.io.filesystem import CompressedFile, CompressionTypes, FileMetadata, FileSystem

SCHEME = "memstore"
PREFIX = f"{SCHEME}://"

_objects: dict[str, tuple[bytes, float]] = {}


def put(path: str, data: bytes) -> None:
    _objects[path] = (data, time.time())


def get(path: str) -> bytes:
    return _objects[path][0]


def keys(prefix: str = PREFIX) -> list[str]:
    return sorted(key for key in _objects if key.startswith(prefix))


def clear() -> None:
    _objects.clear()


class _Upload(io.BytesIO):
    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path

    def close(self) -> None:
        if not self.closed:
            put(self._path, self.getvalue())
        super().close()


class ObjectStoreFileSystem(FileSystem):
    @classmethod
    def scheme(cls) -> str:
        return SCHEME

    def join(self, basepath: str, *paths: str) -> str:
        path = basepath
        for part in paths:
            path = path.rstrip("/") + "/" + part.lstrip("/")
        return path

    def split(self, path: str) -> tuple[str, str]:
        head, _, tail = path.strip()[len(PREFIX):].rpartition("/")
        return PREFIX + head, tail

    def mkdirs(self, path: str) -> None:
        pass

    def has_dirs(self) -> bool:
        return False

    def _list(self, dir_or_prefix: str):
        for key in keys(dir_or_prefix):
            data, updated = _objects[key]
            yield FileMetadata(key, len(data), updated)

    def create(self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO):
        return self._wrap(_Upload(path), path, compression_type)

    def open(self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO):
        if path not in _objects:
            raise FileNotFoundError(path)
        return self._wrap(io.BytesIO(get(path)), path, compression_type)

    @staticmethod
    def _wrap(raw, path, compression_type):
        compression_type = FileSystem._get_compression_type(path, compression_type)
        if compression_type == CompressionTypes.UNCOMPRESSED:
            return raw
        return CompressedFile(raw, compression_type=compression_type)

    def copy(self, source_file_names, destination_file_names):
        for source, destination in zip(source_file_names, destination_file_names):
            put(destination, get(source))

    def rename(self, source_file_names, destination_file_names):
        self.copy(source_file_names, destination_file_names)
        self.delete(source_file_names)

    def exists(self, path: str) -> bool:
        return path in _objects

    def size(self, path: str) -> int:
        return len(get(path))

    def last_updated(self, path: str) -> float:
        return _objects[path][1]

    def checksum(self, path: str) -> str:
        return str(len(get(path)))

    def metadata(self, path: str) -> FileMetadata:
        data, updated = _objects[path]
        return FileMetadata(path, len(data), updated)

    def delete(self, paths) -> None:
        for path in paths:
            doomed = keys(path) if path.endswith("/") else [path]
            for key in doomed:
                _objects.pop(key, None)
