"""Flink and Spark: the job the portable runner submits, checked without a cluster.

The graph check uses `PortableRunner.get_proto_pipeline`, the very translation FlinkRunner,
SparkRunner and PortableRunner send to a job server (environment from the options, then the
portable optimisation phases). The submission check goes further: `job_endpoint=embed` is Beam's
in-process job service behind the same gRPC job and artifact API a Flink or Spark job server
speaks, so the whole path (options, artifact staging, job submission, SDK worker) runs offline.
"""
from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import FlinkRunnerOptions, PortableOptions, StandardOptions
from apache_beam.runners.portability.portable_runner import PortableRunner

from pipeline.beam.prepare import PrepareRequest, build_prepare, run_prepare
from runners.local import local_options
from runners.portable import PortableSettings, portable_options
from schemas.errors import UserInputError
from tests.run_outputs import differing_files, output_files
from tests.runners.conftest import CONFIG
from tests.runners.graph import dangling_inputs, docker_image, leaf_environments, prepare_steps

IMAGE = "registry.example.com/erlangshen-data:0.1.0"


def _pipeline(options, corpus_dir, output) -> beam.Pipeline:
    pipeline = beam.Pipeline(options=options)
    build_prepare(pipeline, PrepareRequest([str(corpus_dir / "*.json")], str(output), CONFIG))
    return pipeline


def test_flink_job_holds_every_step_and_runs_in_the_custom_container(small_corpus_dir, tmp_path):
    options = portable_options(PortableSettings(engine="flink", job_endpoint="flink-jobserver:8099",
                                                sdk_container_image=IMAGE, parallelism=64))
    proto = PortableRunner.get_proto_pipeline(_pipeline(options, small_corpus_dir, tmp_path / "flink"), options)
    local = _pipeline(local_options(1), small_corpus_dir, tmp_path / "local").to_runner_api()
    assert prepare_steps(proto) == prepare_steps(local)
    assert not dangling_inputs(proto)
    assert {docker_image(proto, env) for env in leaf_environments(proto)} == {IMAGE}
    assert options.view_as(StandardOptions).runner == "PortableRunner"
    assert options.view_as(PortableOptions).job_endpoint == "flink-jobserver:8099"
    assert options.view_as(FlinkRunnerOptions).parallelism == 64


def test_without_an_endpoint_flink_and_spark_start_from_their_master():
    flink = portable_options(PortableSettings(engine="flink", master="flink-master:8081", sdk_container_image=IMAGE))
    assert flink.view_as(StandardOptions).runner == "FlinkRunner"
    assert flink.view_as(FlinkRunnerOptions).flink_master == "flink-master:8081"
    spark = portable_options(PortableSettings(engine="spark", master="spark://spark-master:7077",
                                              environment_type="EXTERNAL", environment_config="localhost:50000"))
    assert spark.view_as(StandardOptions).runner == "SparkRunner"
    assert spark.get_all_options()["spark_master_url"] == "spark://spark-master:7077"
    assert spark.view_as(PortableOptions).environment_config == "localhost:50000"


@pytest.mark.parametrize("settings, message", [
    (PortableSettings(engine="flink"), "--job-endpoint or --flink-master"),
    (PortableSettings(engine="spark", job_endpoint="x:8099", environment_type="EXTERNAL"), "HOST:PORT"),
    (PortableSettings(engine="storm", job_endpoint="x:8099"), "unknown portable engine"),
])
def test_incomplete_portable_settings_are_user_errors(settings, message):
    with pytest.raises(UserInputError, match=message):
        portable_options(settings)


def test_submission_through_the_portable_job_api_writes_the_in_process_bytes(
        small_corpus_dir, in_process_output, tmp_path):
    options = portable_options(PortableSettings(engine="flink", job_endpoint="embed", environment_type="LOOPBACK"))
    run_prepare(PrepareRequest([str(small_corpus_dir / "*.json")], str(tmp_path), CONFIG), options)
    assert differing_files(output_files(tmp_path), in_process_output) == []
