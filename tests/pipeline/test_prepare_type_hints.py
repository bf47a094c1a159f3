"""Beam checks the element types of the whole `prepare` graph as it is built: an SDK release that reads
our annotations more strictly must fail here, not in a user's run."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, TypeOptions

from pipeline.config import DedupConfig, PrepareConfig
from pipeline.beam.prepare import PrepareRequest, build_prepare
from tests.conftest import SAMPLE_CORPUS


def _build(tmp_path, config: PrepareConfig) -> beam.Pipeline:
    options = PipelineOptions(pipeline_type_check=True, type_check_additional="all")
    assert options.view_as(TypeOptions).pipeline_type_check
    pipeline = beam.Pipeline(options=options)
    build_prepare(pipeline, PrepareRequest([str(SAMPLE_CORPUS / "*.json")], str(tmp_path / "out"), config))
    return pipeline


def test_prepare_graph_passes_pipeline_type_checking(tmp_path):
    _build(tmp_path, PrepareConfig())  # raises TypeCheckError on a mismatched hint


def test_prepare_graph_without_near_dedup_passes_pipeline_type_checking(tmp_path):
    _build(tmp_path, PrepareConfig(dedup=DedupConfig(near=False)))
