"""`--runner` and each runner's flags on the command line reach the right Beam options."""
from __future__ import annotations

import argparse

import pytest
from apache_beam.options.pipeline_options import (
    DebugOptions, DirectOptions, GoogleCloudOptions, PortableOptions, SetupOptions, StandardOptions, WorkerOptions,
)

from erlangshen_data.commands.runner_args import add_runner_arguments, check_worker_paths, runner_options
from runners.packaging import PROJECT_FILE
from schemas.errors import UserInputError

DATAFLOW = ["--runner", "dataflow", "--project", "erlangshen-test", "--region", "europe-west4",
            "--temp-location", "gs://erlangshen-test-bucket/tmp"]


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_runner_arguments(parser)
    return parser.parse_args(argv)


def test_local_is_the_default_runner_with_one_worker_per_core():
    options = runner_options(_args([]))
    assert options.view_as(StandardOptions).runner == "DirectRunner"
    assert runner_options(_args(["--workers", "3"])).view_as(DirectOptions).direct_num_workers == 3
    assert runner_options(_args([]), input_bytes=1000).view_as(DirectOptions).direct_num_workers == 1


def test_dataflow_flags_reach_their_beam_options():
    options = runner_options(_args(DATAFLOW + [
        "--machine-type", "n2-highmem-4", "--max-workers", "200", "--num-workers", "20", "--disk-size-gb", "50",
        "--service-account", "sa@erlangshen-test.iam.gserviceaccount.com", "--network", "net",
        "--subnetwork", "regions/europe-west4/subnetworks/sub", "--no-public-ips", "--experiment", "enable_prime",
        "--sdk-container-image", "img:1", "--staging-location", "gs://erlangshen-test-bucket/staging",
        "--beam-option=--worker_zone=europe-west4-a",
    ]))
    cloud, workers = options.view_as(GoogleCloudOptions), options.view_as(WorkerOptions)
    assert options.view_as(StandardOptions).runner == "DataflowRunner"
    assert (cloud.project, cloud.region) == ("erlangshen-test", "europe-west4")
    assert cloud.staging_location == "gs://erlangshen-test-bucket/staging"
    assert cloud.service_account_email == "sa@erlangshen-test.iam.gserviceaccount.com"
    assert (workers.machine_type, workers.max_num_workers, workers.num_workers) == ("n2-highmem-4", 200, 20)
    assert (workers.disk_size_gb, workers.network, workers.use_public_ips) == (50, "net", False)
    assert workers.subnetwork == "regions/europe-west4/subnetworks/sub"
    assert workers.sdk_container_image == "img:1" and workers.worker_zone == "europe-west4-a"
    assert "enable_prime" in options.view_as(DebugOptions).experiments
    assert options.view_as(SetupOptions).setup_file is None  # the image already holds the package


def test_dataflow_without_an_image_ships_this_checkout():
    assert runner_options(_args(DATAFLOW)).view_as(SetupOptions).setup_file == str(PROJECT_FILE)


@pytest.mark.parametrize("argv, message", [
    (["--runner", "dataflow", "--region", "us-central1"], "--project"),
    (DATAFLOW[:-1] + ["/tmp/beam"], "gs://"),
    (DATAFLOW + ["--num-workers", "30", "--max-workers", "10"], "--max-workers"),
    (DATAFLOW + ["--setup-file", "/nonexistent/pyproject.toml"], "does not exist"),
])
def test_incomplete_dataflow_flags_are_user_errors(argv, message):
    with pytest.raises(UserInputError, match=message):
        runner_options(_args(argv))


def test_dataflow_refuses_paths_its_workers_cannot_read():
    args = _args(DATAFLOW)
    check_worker_paths(args, [("input", ["gs://corpus/wudao/*.json"]), ("output", ["gs://out/run1"])])
    with pytest.raises(UserInputError, match="lexicon ./places.tsv"):
        check_worker_paths(args, [("input", ["gs://corpus/*.json"]), ("lexicon", ["./places.tsv"])])
    check_worker_paths(_args(["--runner", "flink"]), [("input", ["/shared/nfs/corpus/*.json"])])


def test_flink_and_spark_flags_reach_the_portable_options():
    flink = runner_options(_args(["--runner", "flink", "--job-endpoint", "jobserver:8099",
                                  "--sdk-container-image", "img:1", "--sdk-worker-parallelism", "4"]))
    portable = flink.view_as(PortableOptions)
    assert flink.view_as(StandardOptions).runner == "PortableRunner"
    assert (portable.job_endpoint, portable.environment_type, portable.environment_config) == (
        "jobserver:8099", "DOCKER", "img:1")
    assert portable.sdk_worker_parallelism == 4
    spark = runner_options(_args(["--runner", "spark", "--spark-master", "spark://m:7077",
                                  "--environment-type", "EXTERNAL", "--environment-config", "localhost:50000"]))
    assert spark.view_as(StandardOptions).runner == "SparkRunner"
    assert spark.view_as(SetupOptions).setup_file is None  # an EXTERNAL pool runs where it is installed
