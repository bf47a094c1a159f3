"""`--runner local|dataflow|flink|spark` and each runner's flags, in their own help groups.

Shared by the commands that run pipelines; the flags map one to one onto the settings of `runners/`.
"""
from __future__ import annotations

import argparse
from collections.abc import Iterable

from erlangshen_data.commands.arg_types import COUNT, NON_NEGATIVE
from runners.dataflow import DataflowSettings, dataflow_options, require_worker_reachable
from runners.local import SMALL_INPUT_BYTES, PipelineOptions, local_options  # runners/ owns Beam's options
from runners.portable import ENVIRONMENT_TYPES, PortableSettings, portable_options

RUNNERS = ("local", "dataflow", "flink", "spark")


def add_runner_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runner", choices=RUNNERS, default="local",
                        help="local: DirectRunner on this machine (default); dataflow: Google Cloud "
                             "Dataflow; flink, spark: Beam's portable runner")
    parser.add_argument("--beam-option", action="append", default=[], metavar="--NAME=VALUE",
                        help="any other Beam pipeline option, passed through verbatim; repeatable")

    local = parser.add_argument_group("local runner")
    local.add_argument("--workers", type=COUNT, default=None, metavar="N",
                       help="worker processes; default: one per core, or 1 (in-process) for an input "
                            f"under {SMALL_INPUT_BYTES >> 20} MB, which more processes would only slow down")

    shipping = parser.add_argument_group("remote workers (dataflow, flink, spark)")
    shipping.add_argument("--sdk-container-image", metavar="IMAGE",
                          help="SDK container built from the repository's Dockerfile (package and "
                               "dictionaries inside); without it the package is shipped as an sdist")
    shipping.add_argument("--setup-file", metavar="PATH",
                          help="packaging file to build the shipped sdist from; default: this "
                               "checkout's pyproject.toml")

    dataflow = parser.add_argument_group("dataflow runner")
    dataflow.add_argument("--project", metavar="ID", help="Google Cloud project")
    dataflow.add_argument("--region", metavar="REGION", help="Dataflow region, e.g. us-central1")
    dataflow.add_argument("--temp-location", metavar="GS_PATH", help="gs:// prefix for temporary files")
    dataflow.add_argument("--staging-location", metavar="GS_PATH", help="default: --temp-location")
    dataflow.add_argument("--job-name", help="Dataflow job name; default: Beam's, from the user and time")
    dataflow.add_argument("--machine-type", metavar="TYPE", help="worker machine type, e.g. n2-standard-8")
    dataflow.add_argument("--num-workers", type=COUNT, metavar="N", help="workers at start")
    dataflow.add_argument("--max-workers", type=COUNT, metavar="N", help="autoscaling ceiling")
    dataflow.add_argument("--disk-size-gb", type=COUNT, metavar="GB", help="boot disk per worker")
    dataflow.add_argument("--service-account", metavar="EMAIL", help="worker service account")
    dataflow.add_argument("--network", help="VPC network of the workers; default: Dataflow's (default)")
    dataflow.add_argument("--subnetwork", metavar="SUBNET", help="regions/REGION/subnetworks/NAME or a full URL")
    dataflow.add_argument("--no-public-ips", action="store_true", help="workers get internal IPs only")
    dataflow.add_argument("--experiment", action="append", default=[], metavar="NAME",
                          help="Dataflow experiment; repeatable")
    dataflow.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="job label; repeatable")

    portable = parser.add_argument_group("flink and spark runners")
    portable.add_argument("--job-endpoint", metavar="HOST:PORT",
                          help="running Beam job server of the cluster ('embed': Beam's in-process one)")
    portable.add_argument("--flink-master", metavar="HOST:PORT",
                          help="Flink REST endpoint, when no --job-endpoint (fetches the job-server jar)")
    portable.add_argument("--spark-master", metavar="URL",
                          help="spark://HOST:PORT, when no --job-endpoint (fetches the job-server jar)")
    portable.add_argument("--environment-type", choices=ENVIRONMENT_TYPES, default="DOCKER",
                          help="where SDK workers run (default: DOCKER)")
    portable.add_argument("--environment-config", metavar="CONFIG",
                          help="image (DOCKER; default --sdk-container-image), HOST:PORT (EXTERNAL)")
    portable.add_argument("--parallelism", type=COUNT, metavar="N", help="Flink parallelism; default: the cluster's")
    portable.add_argument("--sdk-worker-parallelism", type=NON_NEGATIVE, metavar="N",
                          help="SDK processes per worker; 0: the runner chooses")


def runner_options(args: argparse.Namespace, input_bytes: int | None = None) -> PipelineOptions:
    """`input_bytes`: the input's size where known, for the local runner's default worker count."""
    if args.runner == "local":
        return local_options(args.workers, args.beam_option, input_bytes)
    if args.runner == "dataflow":
        return dataflow_options(DataflowSettings(
            project=args.project, region=args.region, temp_location=args.temp_location,
            staging_location=args.staging_location, job_name=args.job_name, machine_type=args.machine_type,
            num_workers=args.num_workers, max_workers=args.max_workers, disk_size_gb=args.disk_size_gb,
            service_account=args.service_account, network=args.network, subnetwork=args.subnetwork,
            use_public_ips=False if args.no_public_ips else None, experiments=tuple(args.experiment),
            sdk_container_image=args.sdk_container_image, setup_file=args.setup_file,
            labels=tuple(args.label), extra=tuple(args.beam_option),
        ))
    return portable_options(PortableSettings(
        engine=args.runner, job_endpoint=args.job_endpoint,
        master=args.flink_master if args.runner == "flink" else args.spark_master,
        environment_type=args.environment_type, environment_config=args.environment_config,
        sdk_container_image=args.sdk_container_image, setup_file=args.setup_file,
        parallelism=args.parallelism, sdk_worker_parallelism=args.sdk_worker_parallelism,
        extra=tuple(args.beam_option),
    ))


def check_worker_paths(args: argparse.Namespace, paths: Iterable[tuple[str, Iterable[str]]]) -> None:
    """Dataflow workers see only cloud storage; Flink and Spark clusters may share a disk, so they pass."""
    if args.runner == "dataflow":
        for what, values in paths:
            require_worker_reachable(values, what)
