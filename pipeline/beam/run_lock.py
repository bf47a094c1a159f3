"""One `prepare` run per output directory at a time.

Two runs into one directory would delete each other's staging area and publish a mix. On a local disk
the lock is a file created with O_EXCL (atomic on POSIX file systems) that holds the run's id, pid,
host and start time. A lock whose process is gone (same host, pid not running) is stale: it is part of
an interrupted run, which `--overwrite` replaces. A lock held by a live process, or by another host
(whose processes cannot be seen from here), is refused with what to delete if that run is gone.

Object stores (gs://, s3://) have no exclusive create. There a run writes its id at start and
`check_still_held` compares it before publishing, so of two runs racing into one prefix only the one
that started last publishes; the other fails, and nothing of it looks final.
"""
from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import asdict, dataclass

from apache_beam.io.filesystems import FileSystems

from pipeline.beam import files
from schemas.errors import UserInputError
from schemas.provenance import utc_timestamp

LOCK_NAME = ".lock"


@dataclass(frozen=True)
class LockHolder:
    run_id: str
    pid: int
    host: str
    started_at: str

    def describe(self) -> str:
        return f"pid {self.pid} on host {self.host}, started {self.started_at}"

    def is_stale(self) -> bool:
        """True only when this host can tell the holder is gone."""
        if self.host != socket.gethostname():
            return False
        if self.pid <= 0:  # an unreadable lock: its writer died while writing it
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, another user's
            return False
        return False


def lock_path(output_dir: str) -> str:
    return FileSystems.join(output_dir, LOCK_NAME)


def is_local(path: str) -> bool:
    return FileSystems.get_scheme(path) in (None, "file")


def read_holder(output_dir: str) -> LockHolder | None:
    """The lock's holder, or None when there is no lock (or it cannot be read: a run killed while
    writing it, which is then treated as stale)."""
    path = lock_path(output_dir)
    if not FileSystems.exists(path):
        return None
    try:
        data = json.loads(files.read_text(path))
        return LockHolder(str(data["run_id"]), int(data["pid"]), str(data["host"]), str(data["started_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return LockHolder(run_id="", pid=0, host=socket.gethostname(), started_at="unknown")


def in_use(output_dir: str, holder: LockHolder | None) -> UserInputError:
    who = f" ({holder.describe()})" if holder else ""
    return UserInputError(f"{output_dir} is in use by another prepare run{who}; if no such run is in progress, "
                          f"delete {lock_path(output_dir)}")


def acquire(output_dir: str) -> str:
    """Takes the lock and returns this run's id. A stale lock is replaced: the caller has decided that
    the run it belonged to is gone and its leftovers may go."""
    holder = read_holder(output_dir)
    if holder is not None:
        if not holder.is_stale():
            raise in_use(output_dir, holder)
        if is_local(output_dir):
            os.remove(lock_path(output_dir))
    me = LockHolder(uuid.uuid4().hex, os.getpid(), socket.gethostname(), utc_timestamp())
    data = json.dumps(asdict(me)).encode("utf-8")
    if not is_local(output_dir):
        files.write_atomically(lock_path(output_dir), data)
        return me.run_id
    try:
        descriptor = os.open(lock_path(output_dir), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:  # another run took it between our read and our create
        raise in_use(output_dir, read_holder(output_dir)) from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    return me.run_id


def check_still_held(output_dir: str, run_id: str) -> None:
    """Before publishing: the lock still names this run (on an object store a later run may have
    taken over the prefix)."""
    holder = read_holder(output_dir)
    if holder is None or holder.run_id != run_id:
        taker = "nobody" if holder is None else holder.describe()
        raise UserInputError(f"{output_dir} no longer holds this run's lock (now: {taker}); this run "
                             "publishes nothing")


def release(output_dir: str, run_id: str) -> None:
    """Removes the lock if it is still this run's."""
    holder = read_holder(output_dir)
    if holder is not None and holder.run_id == run_id:
        FileSystems.delete([lock_path(output_dir)])
