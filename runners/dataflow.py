"""Google Cloud Dataflow options: every setting a batch job needs, each one a typed field.

The package reaches the workers as `runners.packaging` describes (custom container or sdist).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import (
    DebugOptions, GoogleCloudOptions, PipelineOptions, SetupOptions, StandardOptions, TestOptions,
    WorkerOptions,
)

from runners.packaging import setup_file_to_ship
from schemas.errors import UserInputError


@dataclass(frozen=True)
class DataflowSettings:
    project: str
    region: str
    temp_location: str  # gs:// prefix for Beam's temporary files
    staging_location: str | None = None  # default: temp_location
    job_name: str | None = None  # default: Beam's user-and-time name
    machine_type: str | None = None  # default: Dataflow's
    num_workers: int | None = None
    max_workers: int | None = None
    disk_size_gb: int | None = None
    service_account: str | None = None
    network: str | None = None
    subnetwork: str | None = None  # full URL or regions/REGION/subnetworks/NAME
    use_public_ips: bool | None = None  # False: workers get internal IPs only
    experiments: tuple[str, ...] = ()
    sdk_container_image: str | None = None
    setup_file: str | None = None  # default: this checkout's pyproject.toml when no image is given
    labels: tuple[str, ...] = ()
    dry_run: bool = False  # build and translate the job, submit nothing
    extra: tuple[str, ...] = ()  # any other Beam flag (--name=value), passed through verbatim

    def validate(self) -> None:
        missing = [name for name in ("project", "region", "temp_location") if not getattr(self, name)]
        if missing:
            flags = ", ".join("--" + name.replace("_", "-") for name in missing)
            raise UserInputError(f"the Dataflow runner needs {flags}")
        for name in ("temp_location", "staging_location"):
            value = getattr(self, name)
            if value and not value.startswith("gs://"):
                raise UserInputError(f"--{name.replace('_', '-')} must be a gs:// path (got {value})")
        for name in ("num_workers", "max_workers", "disk_size_gb"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserInputError(f"--{name.replace('_', '-')} must be positive (got {value})")
        if self.num_workers and self.max_workers and self.num_workers > self.max_workers:
            raise UserInputError("--num-workers cannot exceed --max-workers")


def dataflow_options(settings: DataflowSettings) -> PipelineOptions:
    """Options for `settings`; a field left None keeps Beam's default, or the value given in `extra`."""
    settings.validate()
    options = PipelineOptions(list(settings.extra))  # never sys.argv: the CLI owns the arguments
    options.view_as(StandardOptions).runner = "DataflowRunner"
    cloud = options.view_as(GoogleCloudOptions)
    _set(cloud, project=settings.project, region=settings.region, temp_location=settings.temp_location,
         staging_location=settings.staging_location or settings.temp_location, job_name=settings.job_name,
         service_account_email=settings.service_account, labels=list(settings.labels) or None)
    _set(options.view_as(WorkerOptions), machine_type=settings.machine_type,
         num_workers=settings.num_workers, max_num_workers=settings.max_workers,
         disk_size_gb=settings.disk_size_gb, network=settings.network, subnetwork=settings.subnetwork,
         use_public_ips=settings.use_public_ips, sdk_container_image=settings.sdk_container_image)
    debug = options.view_as(DebugOptions)
    for experiment in settings.experiments:
        debug.add_experiment(experiment)
    setup = options.view_as(SetupOptions)
    _set(setup, setup_file=setup_file_to_ship(settings.setup_file, settings.sdk_container_image))
    setup.save_main_session = False  # DoFns carry their state; the CLI's globals must not travel
    options.view_as(TestOptions).dry_run = settings.dry_run
    return options


def _set(view: PipelineOptions, **values) -> None:
    for name, value in values.items():
        if value is not None:
            setattr(view, name, value)


def local_only_paths(paths: Iterable[str]) -> list[str]:
    """Paths a Dataflow worker cannot open: anything on the launching machine's own disk."""
    return [path for path in paths if FileSystems.get_scheme(path) in (None, "file")]


def require_worker_reachable(paths: Iterable[str], what: str) -> None:
    local = local_only_paths(paths)
    if local:
        raise UserInputError(
            f"{what} {', '.join(local)} is on this machine's disk, which Dataflow workers cannot read; "
            "copy it to gs:// first"
        )
