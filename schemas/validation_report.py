"""What a validation found, in the terms of the shard contract rather than of GX's result objects.

The CLI prints it, `prepare --validate` returns it, tests assert on `failed_checks`. Warnings (an
environment that may not reproduce the bytes) are printed but never fail a validation: the shards
themselves can still be perfectly valid.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from schemas.expectations import CHECK
from schemas.output_checks import FILE

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuiteValidationResult

_EXAMPLES = 3


@dataclass(frozen=True)
class FailedCheck:
    batch: str  # a shard file, or the output-level table that failed
    check: str  # the expectation's meta["check"]
    where: tuple[int | str, ...]  # first offending rows of a shard, or files of the shard-files table
    detail: str


@dataclass(frozen=True)
class ValidationReport:
    output_dir: Path
    shards: int
    rows_checked: int
    expectations_evaluated: int
    failures: tuple[FailedCheck, ...]
    data_docs: Path
    seconds: float
    warnings: tuple[str, ...] = ()

    @property
    def success(self) -> bool:
        return not self.failures

    @property
    def failed_checks(self) -> set[str]:
        return {failure.check for failure in self.failures}

    def summary(self) -> str:
        verdict = "PASSED" if self.success else f"FAILED ({len(self.failures)} failing expectations)"
        lines = [
            f"validation {verdict}: {self.output_dir}",
            f"  {self.shards} shards, {self.rows_checked} rows checked, "
            f"{self.expectations_evaluated} expectations evaluated in {self.seconds:.1f}s",
        ]
        lines += [f"  WARNING {warning}" for warning in self.warnings]
        for failure in self.failures:
            at = f" at {list(failure.where[:_EXAMPLES])}" if failure.where else ""
            lines.append(f"  FAIL {failure.check} [{failure.batch}]: {failure.detail}{at}")
        lines.append(f"  Data Docs: {self.data_docs}")
        return "\n".join(lines)


def _plain(value: object) -> object:
    """numpy scalars print as np.int64(7) under numpy 2; the summary wants 7."""
    if isinstance(value, (tuple, list)):
        return tuple(_plain(v) for v in value)
    return value.item() if hasattr(value, "item") else value


def _where(result: dict) -> tuple[int | str, ...]:
    """Row numbers, or file names where the table was validated with the file as index column."""
    entries = result.get("partial_unexpected_index_list") or []
    return tuple(entry[FILE] if isinstance(entry, dict) else int(entry) for entry in entries)


def _describe(result: dict, exception: dict | None) -> str:
    if exception and exception.get("raised_exception"):
        return f"could not evaluate: {exception.get('exception_message')}"
    if "unexpected_count" in result:
        values = [_plain(v) for v in (result.get("partial_unexpected_list") or [])[:_EXAMPLES]]
        return f"{result['unexpected_count']} of {result.get('element_count')} unexpected, values {values}"
    return f"observed {_plain(result.get('observed_value'))}"


def failures_of(
    result: ExpectationSuiteValidationResult, batch: str, located: bool = True
) -> list[FailedCheck]:
    """`located`: whether row numbers mean something to a reader (not for a one-row summary table)."""
    return [
        FailedCheck(
            batch=batch,
            check=outcome.expectation_config.meta.get(CHECK, outcome.expectation_config.type),
            where=_where(outcome.result) if located else (),
            detail=_describe(outcome.result, outcome.exception_info),
        )
        for outcome in result.results
        if not outcome.success
    ]
