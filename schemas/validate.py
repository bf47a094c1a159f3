"""Validate a `prepare` output directory against the shard contract: `validate_output`.

Shards are independent, so each is read, hashed, turned into row-check columns and validated by its
own worker process; only the small GX results travel back. The parent then checks the shard files
and the run as a whole against the manifest, the reject ledger and summary.json against both
(`accounting_suite`), files everything into the GX project under the output directory and renders the
Data Docs. A manifest is untrusted input: its paths are confined to the output directory
(`output_paths`), its types checked as it is read, and a shard layout this code does not write is
refused. An environment whose byte-affecting package versions differ from the manifest's is a warning,
not a failure.
"""
from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from schemas import expectations, output_checks
from schemas.accounting_suite import accounting_suite
from schemas.contract import DEFAULT_MAX_REJECT_RATE, DEFAULT_SOP_TOLERANCE, ShardContract
from schemas.errors import UserInputError
from schemas.gx_project import GxProject, validate_in_memory
from schemas.manifest import MANIFEST_NAME, SHARDS_DIR, Manifest, read_manifest
from schemas.output_paths import inside_output
from schemas.provenance import environment_warnings
from schemas.shard import SCHEMA_VERSION
from schemas.shard_checks import derive_row_checks
from schemas.shard_inspection import ShardFacts, inspect_shard, sample_rows
from schemas.validation_report import FailedCheck, ValidationReport, failures_of

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuiteValidationResult

Progress = Callable[[int, int, str], None]  # (shards done, shards in all, the shard just done)

_FILES_BATCH = "shard_files"
_RUN_BATCH = "run"
_ACCOUNTING_BATCH = "accounting"


@dataclass(frozen=True)
class ShardJob:
    path: Path | None  # None: the file leads outside the output directory and is never read
    file: str
    listed: bool
    contract: ShardContract
    sample_rows: int | None


@dataclass(frozen=True)
class ShardOutcome:
    facts: ShardFacts
    rows_checked: int
    result: ExpectationSuiteValidationResult | None  # None: unreadable, the files suite says why
    documents: int | None = None  # `output_checks.documents_in`, over every row whatever the sample


def check_shard(job: ShardJob) -> ShardOutcome:
    """Everything one shard needs, in one process: read once, facts, documents, row columns, row suite."""
    if job.path is None:  # not present in the output: the files suite fails it, the accounting says why
        return ShardOutcome(ShardFacts(file=job.file, listed=job.listed, present=False), 0, None)
    facts, table = inspect_shard(job.path, job.file, job.listed)
    if table is None:
        return ShardOutcome(facts, 0, None)
    sample, row_numbers = sample_rows(table, job.sample_rows, job.file)
    frame = derive_row_checks(sample, job.contract).set_axis(row_numbers)
    result = validate_in_memory(expectations.rows_suite(job.contract), frame)
    return ShardOutcome(facts, len(frame), result, output_checks.documents_in(table))


def _load_manifest(output_dir: Path) -> Manifest:
    if not output_dir.is_dir():
        raise UserInputError(f"{output_dir} is not a directory")
    if not (output_dir / MANIFEST_NAME).is_file():
        raise UserInputError(
            f"{output_dir} has no {MANIFEST_NAME}: is it an output of `erlangshen-data prepare`?"
        )
    try:
        manifest = read_manifest(output_dir)
    except (OSError, ValueError) as error:  # ValueError covers JSON and Unicode decoding and every type
        raise UserInputError(f"{output_dir / MANIFEST_NAME} is not a valid manifest: {error}") from None
    if manifest.schema_version != SCHEMA_VERSION:
        raise UserInputError(
            f"{output_dir} holds shard layout {manifest.schema_version!r:.40}, this erlangshen-data writes "
            f"and validates {SCHEMA_VERSION!r}: re-run `erlangshen-data prepare` to rebuild it"
        )
    return manifest


def _check_settings(
    workers: int | None, sample_rows: int | None, max_reject_rate: float, tolerance: float
) -> None:
    if workers is not None and workers < 1:
        raise UserInputError(f"workers must be at least 1, not {workers}")
    if sample_rows is not None and sample_rows < 1:
        raise UserInputError(f"sample rows must be at least 1, not {sample_rows}")
    if not 0.0 <= max_reject_rate <= 1.0:
        raise UserInputError(f"max reject rate is a share of documents in [0, 1], not {max_reject_rate}")
    if not 0.0 <= tolerance <= 0.5:
        raise UserInputError(f"SOP tolerance is a distance from 0.5 in [0, 0.5], not {tolerance}")


def _jobs(output_dir: Path, manifest: Manifest, sample: int | None) -> list[ShardJob]:
    """The manifest's shards, then anything under shards/ that the manifest does not name (a stray
    shard, or a file that is no shard at all: `prepare` writes nothing else there)."""
    contract = ShardContract.from_manifest(manifest)
    listed = [s.file for s in manifest.shards]
    shards_dir = inside_output(output_dir, SHARDS_DIR)
    entries = shards_dir.iterdir() if shards_dir is not None and shards_dir.is_dir() else ()
    on_disk = sorted(f"{SHARDS_DIR}/{p.name}" for p in entries)
    strays = sorted(set(on_disk) - set(listed))
    return [ShardJob(inside_output(output_dir, file), file, True, contract, sample) for file in listed] + [
        ShardJob(inside_output(output_dir, file), file, False, contract, sample) for file in strays
    ]


def _one_thread_per_worker() -> None:
    """The pool already fills the CPUs; Arrow's own thread pool in every worker would oversubscribe them."""
    pa.set_cpu_count(1)


def _check_all(jobs: Sequence[ShardJob], workers: int, progress: Progress | None) -> list[ShardOutcome]:
    """Outcomes in job order; a pool only when there is more than one shard and more than one worker."""

    def report(done: int, job: ShardJob) -> None:
        if progress:
            progress(done, len(jobs), job.file)

    if workers <= 1 or len(jobs) <= 1:
        outcomes = []
        for done, job in enumerate(jobs, 1):
            outcomes.append(check_shard(job))
            report(done, job)
        return outcomes
    # forkserver: workers fork from a clean process that has imported GX once (spawn would import it
    # in every worker, fork would copy the parent's threads).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    results: dict[int, ShardOutcome] = {}
    with ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)), mp_context=context, initializer=_one_thread_per_worker
    ) as pool:
        futures = {pool.submit(check_shard, job): index for index, job in enumerate(jobs)}
        for done, future in enumerate(as_completed(futures), 1):
            index = futures[future]
            results[index] = future.result()
            report(done, jobs[index])
    return [results[index] for index in range(len(jobs))]


def validate_output(
    output_dir: str | Path,
    *,
    workers: int | None = None,
    sample_rows: int | None = None,
    max_reject_rate: float = DEFAULT_MAX_REJECT_RATE,
    sop_tolerance: float = DEFAULT_SOP_TOLERANCE,
    progress: Progress | None = None,
) -> ValidationReport:
    """Run every suite on an output directory; results and Data Docs land in OUTPUT/gx/.

    workers: shard processes (default: all CPUs). sample_rows: check at most this many rows per shard
    (file-level checks still read every byte). max_reject_rate: bound on rejected / read documents.
    sop_tolerance: allowed distance of the swapped share of labelled pairs from 0.5.
    """
    started = time.perf_counter()
    _check_settings(workers, sample_rows, max_reject_rate, sop_tolerance)
    output_dir = Path(output_dir)
    manifest = _load_manifest(output_dir)
    jobs = _jobs(output_dir, manifest, sample_rows)
    outcomes = _check_all(jobs, workers or os.cpu_count() or 1, progress)
    facts = [outcome.facts for outcome in outcomes]

    project = GxProject(output_dir)
    rows_suite = expectations.rows_suite(ShardContract.from_manifest(manifest))
    files_suite = expectations.files_suite()
    labelled = sum(output_checks.labelled_pairs(facts))
    run_suite = expectations.run_suite(
        max_reject_rate, output_checks.swapped_share_bounds(sop_tolerance, labelled)
    )
    accounting = accounting_suite()
    for suite in (rows_suite, files_suite, run_suite, accounting):
        project.save_suite(suite)

    failures: list[FailedCheck] = []
    evaluated = 0
    for job, outcome in zip(jobs, outcomes):
        if outcome.result is not None:
            project.store(outcome.result, Path(job.file).name)
            failures += failures_of(outcome.result, job.file)
            evaluated += len(outcome.result.results)
    files_result = project.validate(
        files_suite,
        output_checks.shard_files_table(manifest, facts),
        _FILES_BATCH,
        {"result_format": "COMPLETE", "unexpected_index_column_names": [output_checks.FILE]},
    )
    run_result = project.validate(run_suite, output_checks.run_table(manifest, output_dir, facts), _RUN_BATCH)
    accounting_table = output_checks.accounting_table(
        manifest,
        output_dir,
        facts,
        [outcome.documents for outcome in outcomes],
        [job.file for job in jobs if job.path is None],
    )
    accounting_result = project.validate(accounting, accounting_table, _ACCOUNTING_BATCH)
    failures += failures_of(files_result, _FILES_BATCH) + failures_of(run_result, _RUN_BATCH, located=False)
    failures += failures_of(accounting_result, _ACCOUNTING_BATCH, located=False)
    evaluated += len(files_result.results) + len(run_result.results) + len(accounting_result.results)

    return ValidationReport(
        output_dir=output_dir,
        shards=len(jobs),
        rows_checked=sum(outcome.rows_checked for outcome in outcomes),
        expectations_evaluated=evaluated,
        failures=tuple(failures),
        data_docs=project.build_data_docs(),
        seconds=time.perf_counter() - started,
        warnings=tuple(environment_warnings(manifest.environment)),
    )
