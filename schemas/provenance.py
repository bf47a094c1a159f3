"""What produced an output beyond its inputs and config: package versions, Python, our own source.

Shards are byte-identical only for the same inputs, config, seed *and* these versions: a new jieba
dictionary, an OpenCC table or a numpy RNG change moves bytes without a line of ours changing. The
manifest records them so that `validate` can say when the environment at hand could not reproduce an
output. Plain dicts of strings, so the manifest stays JSON and this module stays a leaf.
"""
from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, BinaryIO

# Every installed distribution whose behaviour reaches the shard bytes: readers (zstandard, beam's
# codecs), cleaning (opencc), segmentation (jieba, rjieba, pkuseg), entity matching (ahocorasick-rs),
# seeded sampling (numpy) and the Parquet writer (pyarrow).
BYTE_AFFECTING_PACKAGES: tuple[str, ...] = (
    "apache-beam",
    "jieba",
    "rjieba",
    "pkuseg",
    "opencc",
    "numpy",
    "pyarrow",
    "ahocorasick-rs",
    "zstandard",
)
PROJECT_DISTRIBUTION = "erlangshen-data"
# Keys of `run_environment()`, which the manifest stores as its `environment`.
PROJECT_VERSION = "project_version"
GIT_COMMIT = "git_commit"
GIT_DIRTY = "git_dirty"
PYTHON = "python"
PACKAGES = "packages"

# OpenCC's wheel registers as "OpenCC"; older Pythons' metadata lookup does not normalise the case.
_ALIASES: dict[str, tuple[str, ...]] = {"opencc": ("OpenCC",)}
_REPO_ROOT = Path(__file__).resolve().parents[1]
_GIT_TIMEOUT_S = 5.0
_HASH_CHUNK = 1 << 20


def installed_version(name: str) -> str | None:
    """None when the distribution is not installed: a manifest must still be writable without it."""
    for candidate in (name, *_ALIASES.get(name, ())):
        try:
            return metadata.version(candidate)
        except metadata.PackageNotFoundError:
            continue
    return None


def package_versions(names: Iterable[str] = BYTE_AFFECTING_PACKAGES) -> dict[str, str | None]:
    return {name: installed_version(name) for name in names}


def _git(root: Path, *args: str) -> str | None:
    # GIT_OPTIONAL_LOCKS=0: `status` must not take the index lock from someone committing in the tree.
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_commit(root: Path = _REPO_ROOT) -> str | None:
    """The commit of the source tree this code runs from; None outside a git checkout or without git.

    `root` must itself hold `.git`: an installed (non-editable) copy lives in a venv that may sit inside
    some other checkout, whose commit says nothing about the code that ran.
    """
    if not (root / ".git").exists():
        return None
    out = _git(root, "rev-parse", "HEAD")
    return out.strip() if out else None


def git_dirty(root: Path = _REPO_ROOT) -> bool | None:
    """Whether tracked files differ from the commit (untracked ones are mostly outputs and scratch)."""
    if not (root / ".git").exists():
        return None
    out = _git(root, "status", "--porcelain", "--untracked-files=no")
    return None if out is None else bool(out.strip())


def python_version() -> str:
    return platform.python_version()


def run_environment() -> dict[str, Any]:
    """The manifest's `environment`: call it in the process that writes the bytes."""
    return {
        PROJECT_VERSION: installed_version(PROJECT_DISTRIBUTION),
        GIT_COMMIT: git_commit(),
        GIT_DIRTY: git_dirty(),
        PYTHON: python_version(),
        PACKAGES: package_versions(),
    }


def utc_timestamp(moment: datetime | None = None) -> str:
    """ISO-8601 in UTC to the second, the form of the manifest's `started_at` and `finished_at`."""
    moment = moment or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def hash_stream(stream: BinaryIO) -> tuple[int, str]:
    """(size, sha256) of the raw bytes, read in chunks: inputs may be gigabytes.

    Pass the stored bytes, not a decompressing reader: Beam's `FileSystems.open` decompresses unless
    given `compression_type=CompressionTypes.UNCOMPRESSED`.
    """
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(_HASH_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def _major_minor(version: str | None) -> str | None:
    return ".".join(version.split(".")[:2]) if version else None


def environment_warnings(
    recorded: Mapping[str, Any], installed: Mapping[str, Any] | None = None
) -> list[str]:
    """Why this environment may not reproduce an output's bytes; empty when nothing recorded differs.

    Only packages the manifest records are compared (a later addition to the tuple is not a change),
    and Python by major.minor (patch releases do not change what our packages compute).
    """
    if not recorded:
        return [
            "the manifest records no environment (written before provenance was kept): "
            "byte-reproducibility with this environment cannot be checked"
        ]
    installed = installed if installed is not None else {
        PYTHON: python_version(),
        PACKAGES: package_versions(recorded.get(PACKAGES, {})),
    }
    differences = []
    if _major_minor(recorded.get(PYTHON)) != _major_minor(installed.get(PYTHON)):
        differences.append((PYTHON, recorded.get(PYTHON), installed.get(PYTHON)))
    here = installed.get(PACKAGES, {})
    for name, version in sorted(recorded.get(PACKAGES, {}).items()):
        if here.get(name) != version:
            differences.append((name, version, here.get(name)))
    return [
        f"{name}: manifest {was or 'not installed'}, installed {now or 'not installed'}; "
        "the shards may not be byte-reproducible with this environment"
        for name, was, now in differences
    ]


def check_environment(environment: Mapping[str, Any]) -> None:
    """ValueError unless the values `environment_warnings` compares have their types: a manifest's
    environment is read from a file anyone may have edited."""
    python = environment.get(PYTHON)
    if python is not None and not isinstance(python, str):
        raise ValueError(f"manifest.environment.{PYTHON} must be a string, not {python!r:.40}")
    packages = environment.get(PACKAGES, {})
    if not isinstance(packages, dict):
        raise ValueError(f"manifest.environment.{PACKAGES} must be an object")
    for name, version in packages.items():
        if version is not None and not isinstance(version, str):
            raise ValueError(f"manifest.environment.{PACKAGES}.{name} must be a string, not {version!r:.40}")
