"""Provenance: the environment a manifest records, its round trip, and validate's warnings about it."""
from __future__ import annotations

import hashlib
import io
import json
import platform
import shutil
import subprocess
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path

import pytest

from erlangshen_data.cli import main
from schemas import provenance
from schemas.manifest import MANIFEST_NAME, InputFile, Manifest, read_manifest
from schemas.provenance import (
    BYTE_AFFECTING_PACKAGES,
    PACKAGES,
    PYTHON,
    environment_warnings,
    run_environment,
)
from schemas.validate import validate_output

REPO_ROOT = Path(__file__).resolve().parents[2]
OPENCC_DISTRIBUTIONS = ("opencc", "OpenCC")


def _metadata_version(name: str) -> str | None:
    for candidate in OPENCC_DISTRIBUTIONS if name == "opencc" else (name,):
        try:
            return metadata.version(candidate)
        except metadata.PackageNotFoundError:
            continue
    return None


def _record(output: Path, environment: dict | None, keys: tuple[str, ...] = ("environment",)) -> None:
    """Rewrites the manifest's environment as a run in another environment would have written it;
    None drops `keys` as a manifest written before provenance was kept lacks them."""
    data = json.loads((output / MANIFEST_NAME).read_text(encoding="utf-8"))
    if environment is None:
        for key in keys:
            data.pop(key, None)
    else:
        data["environment"] = environment
    (output / MANIFEST_NAME).write_text(json.dumps(data), encoding="utf-8")


def _with_numpy(version: str) -> dict:
    environment = run_environment()
    environment[PACKAGES] = {**environment[PACKAGES], "numpy": version}
    return environment


def test_environment_names_every_byte_affecting_package_with_its_installed_version() -> None:
    environment = run_environment()
    assert set(environment[PACKAGES]) == set(BYTE_AFFECTING_PACKAGES)
    for name in BYTE_AFFECTING_PACKAGES:
        assert environment[PACKAGES][name] == _metadata_version(name), name
    assert environment[PACKAGES]["numpy"] is not None  # imported by this very test run
    assert environment[PACKAGES]["opencc"] is not None  # registered as "OpenCC"
    assert environment[PYTHON] == platform.python_version()
    assert environment[provenance.PROJECT_VERSION] == metadata.version("erlangshen-data")
    assert json.loads(json.dumps(environment)) == environment


def test_byte_affecting_packages_are_the_ones_the_issue_names() -> None:
    assert set(BYTE_AFFECTING_PACKAGES) == {
        *("apache-beam", "jieba", "rjieba", "pkuseg", "opencc"),
        *("numpy", "pyarrow", "ahocorasick-rs", "zstandard"),
    }


def test_a_package_that_is_not_installed_has_no_version() -> None:
    assert provenance.package_versions(["no-such-distribution-erlangshen"]) == {
        "no-such-distribution-erlangshen": None
    }


def test_git_commit_is_the_checkout_head_and_none_where_there_is_no_checkout(tmp_path: Path) -> None:
    if not (REPO_ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    head = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert run_environment()[provenance.GIT_COMMIT] == head
    assert isinstance(run_environment()[provenance.GIT_DIRTY], bool)
    # A directory inside a checkout (as a venv's site-packages can be) is not the checkout of our code.
    assert provenance.git_commit(REPO_ROOT / "schemas") is None
    assert provenance.git_commit(tmp_path) is None and provenance.git_dirty(tmp_path) is None


def test_hash_stream_gives_the_size_and_sha256_of_every_chunk() -> None:
    data = bytes(range(256)) * 9000  # over one read chunk
    assert provenance.hash_stream(io.BytesIO(data)) == (len(data), hashlib.sha256(data).hexdigest())


def test_utc_timestamp_is_iso_8601_in_utc() -> None:
    beijing = datetime(2024, 5, 1, 8, 30, 15, 999, tzinfo=timezone(timedelta(hours=8)))
    assert provenance.utc_timestamp(beijing) == "2024-05-01T00:30:15+00:00"
    assert datetime.fromisoformat(provenance.utc_timestamp()).utcoffset() == timedelta(0)


def test_manifest_round_trips_environment_inputs_and_times(valid_output: Path) -> None:
    inputs = [InputFile(path="gs://corpus/part-0.json.zst", size=1234, sha256="ab" * 32)]
    manifest = replace(
        read_manifest(valid_output),
        environment=run_environment(),
        inputs=inputs,
        started_at="2024-05-01T00:30:15+00:00",
        finished_at="2024-05-01T01:02:03+00:00",
    )
    text = manifest.to_json()
    assert json.loads(text)["inputs"] == [
        {"path": "gs://corpus/part-0.json.zst", "size": 1234, "sha256": "ab" * 32}
    ]
    again = Manifest.from_json(text)
    assert again == manifest and again.inputs == inputs
    assert again.environment[PACKAGES]["numpy"] == metadata.version("numpy")


def test_manifest_written_before_provenance_still_loads(valid_output: Path) -> None:
    _record(valid_output, None, ("environment", "inputs", "started_at", "finished_at"))
    assert "environment" not in (valid_output / MANIFEST_NAME).read_text(encoding="utf-8")
    manifest = read_manifest(valid_output)
    assert (manifest.environment, manifest.inputs, manifest.started_at, manifest.finished_at) == (
        {}, [], None, None
    )


def test_python_patch_release_is_no_difference_but_a_minor_release_is() -> None:
    recorded = {PYTHON: "3.11.2", PACKAGES: {"numpy": "2.0.0"}}
    assert environment_warnings(recorded, {PYTHON: "3.11.9", PACKAGES: {"numpy": "2.0.0"}}) == []
    [warning] = environment_warnings(recorded, {PYTHON: "3.12.1", PACKAGES: {"numpy": "2.0.0"}})
    assert warning.startswith("python: manifest 3.11.2, installed 3.12.1")


def test_package_missing_here_is_reported_as_not_installed() -> None:
    recorded = {PYTHON: "3.11.2", PACKAGES: {"pkuseg": "0.0.25"}}
    [warning] = environment_warnings(recorded, {PYTHON: "3.11.2", PACKAGES: {}})
    assert warning.startswith("pkuseg: manifest 0.0.25, installed not installed")


def test_different_numpy_warns_and_validation_still_passes(valid_output: Path, capsys) -> None:
    _record(valid_output, _with_numpy("1.0.0"))
    assert main(["validate", str(valid_output), "--workers", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "validation PASSED" in out
    [line] = [line for line in out.splitlines() if "WARNING" in line]
    assert f"numpy: manifest 1.0.0, installed {metadata.version('numpy')}" in line
    assert "may not be byte-reproducible" in line


def test_matching_environment_gives_no_warning(valid_output: Path) -> None:
    _record(valid_output, run_environment())
    report = validate_output(valid_output, workers=1)
    assert report.success and report.warnings == ()
    assert "WARNING" not in report.summary()


def test_manifest_without_environment_gets_one_warning_and_passes(valid_output: Path) -> None:
    _record(valid_output, None)
    report = validate_output(valid_output, workers=1)
    assert report.success, report.summary()
    [warning] = report.warnings
    assert "records no environment" in warning
    assert report.summary().count("WARNING") == 1
