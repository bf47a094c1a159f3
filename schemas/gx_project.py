"""Where Great Expectations runs: in memory inside each worker, and as a file project under the output.

Workers validate their shard in an ephemeral context (no disk, no shared state), so shards can be
checked in parallel processes. The parent then files every result into one file project at
OUTPUT/gx/, where suites and results persist across runs, and renders the Data Docs once: a checkpoint
per shard would rebuild the site after every shard, which grows with the square of the shard count.
"""
from __future__ import annotations

import datetime
import functools
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from schemas.gx_offline import gx  # first: switches analytics off before GX loads

# isort: split

from great_expectations.core import ExpectationSuiteValidationResult
from great_expectations.core.batch_definition import BatchDefinition
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context import AbstractDataContext
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)

from schemas.data_docs_offline import LOCAL_SITE, LOCAL_SITE_CONFIG

DATA_SOURCE = "erlangshen"
RUN_NAME = "erlangshen-validate"

# Enough to show what broke and where, small enough to ship from a worker and render per shard.
SUMMARY: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": 20}


def _quiet(context: AbstractDataContext) -> None:
    """GX's per-metric progress bars would bury our per-shard progress line."""
    context.variables.progress_bars = ProgressBarsConfig(globally=False)


class _Frames:
    """One pandas data source with one DataFrame asset per suite; the frame is handed in per validation.

    The source is re-created on every open: a reloaded one loses its link to the context in GX 1.24.
    """

    def __init__(self, context: AbstractDataContext) -> None:
        self._source = context.data_sources.add_or_update_pandas(DATA_SOURCE)
        self._definitions: dict[str, BatchDefinition] = {}

    def validate(
        self, suite: gx.ExpectationSuite, frame: Any, result_format: dict[str, Any]
    ) -> ExpectationSuiteValidationResult:
        if suite.name not in self._definitions:
            asset = self._source.add_dataframe_asset(suite.name)
            self._definitions[suite.name] = asset.add_batch_definition_whole_dataframe(suite.name)
        batch = self._definitions[suite.name].get_batch(batch_parameters={"dataframe": frame})
        return batch.validate(suite, result_format=result_format)


@functools.cache
def _in_memory() -> _Frames:
    context = gx.get_context(mode="ephemeral")
    _quiet(context)
    return _Frames(context)


def validate_in_memory(
    suite: gx.ExpectationSuite, frame: Any, result_format: dict[str, Any] = SUMMARY
) -> ExpectationSuiteValidationResult:
    """Validate in this process's ephemeral context: what a worker does with its shard."""
    return _in_memory().validate(suite, frame, result_format)


class GxProject:
    """The file project under an output directory: persisted suites, stored results, Data Docs."""

    def __init__(self, output_dir: Path) -> None:
        self.context = gx.get_context(mode="file", project_root_dir=str(output_dir))
        _quiet(self.context)
        self.context.enable_analytics(False)  # also writes both settings to gx/great_expectations.yml
        _render_offline(self.context)
        self.run_id = RunIdentifier(run_name=RUN_NAME, run_time=datetime.datetime.now(datetime.timezone.utc))
        self._frames = _Frames(self.context)
        self._rendered: list[ExpectationSuiteIdentifier | ValidationResultIdentifier] = []

    def save_suite(self, suite: gx.ExpectationSuite) -> None:
        """Keep the suite as JSON in the project (gx/expectations/), as it was applied to this output."""
        self.context.suites.add_or_update(suite)
        self._rendered.append(ExpectationSuiteIdentifier(name=suite.name))

    def store(self, result: ExpectationSuiteValidationResult, batch: str) -> None:
        """File a result under this run; `batch` names the shard or table (no slashes: it is a path part)."""
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=result.suite_name),
            run_id=self.run_id,
            batch_identifier=batch,
        )
        self.context.validation_results_store.set(key, result)
        self._rendered.append(key)

    def validate(
        self, suite: gx.ExpectationSuite, frame: Any, batch: str, result_format: dict[str, Any] = SUMMARY
    ) -> ExpectationSuiteValidationResult:
        result = self._frames.validate(suite, frame, result_format)
        self.store(result, batch)
        return result

    def build_data_docs(self) -> Path:
        """Render this run's pages and the index, offline; returns the index.html path."""
        sites = self.context.build_data_docs(site_names=[LOCAL_SITE], resource_identifiers=self._rendered)
        return Path(url2pathname(urlparse(sites[LOCAL_SITE]).path))


def _render_offline(context: AbstractDataContext) -> None:
    """The project's local site renders pages that need nothing from outside the site folder
    (schemas/data_docs_offline.py); a project from an older run is switched over too."""
    sites = context.variables.data_docs_sites or {}
    if sites.get(LOCAL_SITE) == LOCAL_SITE_CONFIG:
        return
    if LOCAL_SITE in sites:
        context.update_data_docs_site(LOCAL_SITE, LOCAL_SITE_CONFIG)
    else:
        context.add_data_docs_site(LOCAL_SITE, LOCAL_SITE_CONFIG)
