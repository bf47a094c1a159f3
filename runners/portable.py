"""Flink and Spark through Beam's portable runner.

Two ways in:
- `job_endpoint` (host:port): a Beam job server that is already running next to the cluster, e.g.
  `apache/beam_flink1.18_job_server --flink-master=HOST:8081` or
  `apache/beam_spark3_job_server --spark-master-url=spark://HOST:7077`; the launcher needs nothing else.
  `embed` runs Beam's own in-process job service (the Python FnApiRunner behind the same job API):
  a full submission with no cluster, to try a job before sending it;
- no endpoint: FlinkRunner / SparkRunner start a job server themselves from `master`, which downloads
  the job-server jar for this Beam version on first use (the launcher needs network access once).

The SDK workers run in the `environment_type` environment: DOCKER (default; the image from the
repository's Dockerfile, or Beam's stock image plus the shipped sdist, see `runners.packaging`),
EXTERNAL (a worker pool already running beside each task manager, `environment_config=HOST:PORT`),
PROCESS, or LOOPBACK (this very process: local trials only).
"""
from __future__ import annotations

from dataclasses import dataclass

from apache_beam.options.pipeline_options import (
    FlinkRunnerOptions, PipelineOptions, PortableOptions, SetupOptions, SparkRunnerOptions,
    StandardOptions,
)

from runners.packaging import setup_file_to_ship
from schemas.errors import UserInputError

ENGINES = ("flink", "spark")
ENVIRONMENT_TYPES = ("DOCKER", "EXTERNAL", "PROCESS", "LOOPBACK")


@dataclass(frozen=True)
class PortableSettings:
    engine: str  # flink | spark
    job_endpoint: str | None = None  # host:port of a running job server, or "embed"
    master: str | None = None  # Flink REST host:port, or spark://host:port; when no job_endpoint
    environment_type: str = "DOCKER"
    environment_config: str | None = None  # the image (DOCKER), HOST:PORT (EXTERNAL), JSON (PROCESS)
    sdk_container_image: str | None = None  # same as environment_config for DOCKER
    setup_file: str | None = None
    parallelism: int | None = None  # Flink's default parallelism; None: the cluster's
    sdk_worker_parallelism: int | None = None  # SDK processes per worker; None: Beam's default (1)
    extra: tuple[str, ...] = ()  # any other Beam flag (--name=value), passed through verbatim

    def validate(self) -> None:
        if self.engine not in ENGINES:
            raise UserInputError(f"unknown portable engine {self.engine!r}; choose from {', '.join(ENGINES)}")
        if self.environment_type not in ENVIRONMENT_TYPES:
            raise UserInputError(
                f"--environment-type must be one of {', '.join(ENVIRONMENT_TYPES)} (got {self.environment_type})")
        if self.environment_type == "EXTERNAL" and not self.environment_config:
            raise UserInputError("--environment-type EXTERNAL needs --environment-config HOST:PORT")
        if not self.job_endpoint and not self.master:
            flag = "--flink-master" if self.engine == "flink" else "--spark-master"
            raise UserInputError(f"the {self.engine} runner needs --job-endpoint or {flag}")
        if self.parallelism is not None and self.parallelism < 1:
            raise UserInputError(f"--parallelism must be positive (got {self.parallelism})")

    @property
    def image(self) -> str | None:
        if self.environment_type != "DOCKER":
            return None
        return self.environment_config or self.sdk_container_image


def portable_options(settings: PortableSettings) -> PipelineOptions:
    settings.validate()
    options = PipelineOptions(list(settings.extra))  # never sys.argv: the CLI owns the arguments
    standard = options.view_as(StandardOptions)
    portable = options.view_as(PortableOptions)
    if settings.job_endpoint:
        standard.runner = "PortableRunner"
        portable.job_endpoint = settings.job_endpoint
    elif settings.engine == "flink":
        standard.runner = "FlinkRunner"
        options.view_as(FlinkRunnerOptions).flink_master = settings.master
    else:
        standard.runner = "SparkRunner"
        options.view_as(SparkRunnerOptions).spark_master_url = settings.master
    if settings.engine == "flink" and settings.parallelism:
        options.view_as(FlinkRunnerOptions).parallelism = settings.parallelism
    portable.environment_type = settings.environment_type
    environment_config = settings.image if settings.environment_type == "DOCKER" else settings.environment_config
    if environment_config:
        portable.environment_config = environment_config
    if settings.sdk_worker_parallelism:
        portable.sdk_worker_parallelism = settings.sdk_worker_parallelism
    setup = options.view_as(SetupOptions)
    if settings.environment_type == "DOCKER":
        # Only a container needs the package shipped; the other environments run where it is installed.
        shipped = setup_file_to_ship(settings.setup_file, settings.image)
        if shipped:
            setup.setup_file = shipped
    elif settings.setup_file:
        setup.setup_file = setup_file_to_ship(settings.setup_file, None)
    setup.save_main_session = False
    return options
