"""Capacity plan for a `prepare` run: core-hours, wall time and cost from a measured per-core rate.

Pure arithmetic on stated assumptions; `erlangshen-data plan` prints every one of them beside the
result, so a reader can redo the sums with better figures.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from schemas.errors import UserInputError

MB = 1_000_000  # decimal units throughout: plan, benchmark figure and progress lines agree

# One in-process worker's CPU-time rate on the WuDao sample, start-up excluded, taken below the day's
# spread; how it was measured and when: bench/README.md ("Capacity plan rate", `python bench/plan_rate.py`).
MEASURED_MB_PER_S_PER_CORE = 5.0

_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kmgtp]i?b?|b)?\s*$", re.IGNORECASE)
_UNIT_POWER = {"": 0, "b": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}

# GB of memory per vCPU by machine family and class (Compute Engine's predefined types).
_MEMORY_PER_VCPU = {
    "n1": {"standard": 3.75, "highmem": 6.5, "highcpu": 0.9},
    **{family: {"standard": 4.0, "highmem": 8.0, "highcpu": 1.0}
       for family in ("n2", "n2d", "n4", "e2", "c2", "c2d", "c3", "c3d", "c4", "t2d")},
}


def parse_size(text: str) -> int:
    """Bytes from '180GB' (decimal), '180GiB' (binary), '512M', '1.5T' or a plain byte count."""
    match = _SIZE.match(text)
    if not match:
        raise UserInputError(f"cannot read size {text!r}: expected e.g. 180GB, 200GiB, 5e9 bytes as 5000000000")
    number, unit = float(match.group(1)), (match.group(2) or "").lower()
    base = 1024 if "i" in unit else 1000
    return int(number * base ** _UNIT_POWER[unit[:1]])


@dataclass(frozen=True)
class MachineType:
    name: str
    vcpus: int
    memory_gb: float


def parse_machine_type(name: str) -> MachineType:
    """vCPUs and memory of a predefined `family-class-N` type, e.g. n2-standard-8."""
    parts = name.split("-")
    if len(parts) == 3 and parts[2].isdigit() and parts[1] in _MEMORY_PER_VCPU.get(parts[0], {}):
        vcpus = int(parts[2])
        return MachineType(name, vcpus, vcpus * _MEMORY_PER_VCPU[parts[0]][parts[1]])
    families = ", ".join(sorted(_MEMORY_PER_VCPU))
    raise UserInputError(
        f"unknown machine type {name!r}: expected FAMILY-{{standard,highmem,highcpu}}-N with FAMILY in {families}"
    )


@dataclass(frozen=True)
class Prices:
    """Dataflow batch list prices, us-central1 (USD); other regions differ by a few tens of percent."""

    vcpu_hour: float = 0.056
    memory_gb_hour: float = 0.003557
    disk_gb_hour: float = 0.000054  # standard persistent disk
    shuffle_gb: float = 0.011  # Dataflow Shuffle, per GB shuffled


@dataclass(frozen=True)
class Assumptions:
    mb_per_s_per_core: float = MEASURED_MB_PER_S_PER_CORE
    # Share of the single-process rate each core keeps at scale (shuffle, stragglers, SDK overhead).
    efficiency: float = 0.8
    # Only dedup keys are shuffled: about 3 bytes for the digest and for each of 16 band keys per
    # document, then the rare candidates' whole keys and signatures; 0.07 of the input on the WuDao
    # sample (830-byte documents; `shuffled_bytes.*` in the run summary), less for longer documents.
    shuffle_ratio: float = 0.07
    startup_minutes: float = 5.0  # VM boot and container pull before the first element
    disk_gb_per_worker: float = 25.0  # Dataflow's batch boot disk when the shuffle service is on
    rss_gb_per_process: float = 1.5  # peak resident memory of one SDK process (segmenter, lexicon)

    def validate(self) -> None:
        if self.mb_per_s_per_core <= 0 or not 0 < self.efficiency <= 1:
            raise UserInputError("need --mb-per-s-per-core > 0 and 0 < --efficiency <= 1")
        if min(self.shuffle_ratio, self.startup_minutes, self.disk_gb_per_worker) < 0:
            raise UserInputError("--shuffle-ratio, --startup-minutes and --disk-size-gb cannot be negative")


@dataclass(frozen=True)
class Plan:
    input_bytes: int
    workers: int
    cores_per_worker: int
    core_hours: float  # of processing, at the assumed efficiency
    processing_hours: float
    wall_hours: float  # processing plus start-up
    worker_hours: float  # billed: every worker for the whole wall time
    shuffle_gb: float
    cost_usd: float | None  # None when no price applies
    memory_warning: str | None


def estimate(
    input_bytes: int,
    workers: int,
    cores_per_worker: int,
    assumptions: Assumptions,
    machine: MachineType | None = None,
    prices: Prices | None = None,
    core_hour_usd: float | None = None,
) -> Plan:
    """`machine` + `prices` cost a Dataflow job; `core_hour_usd` costs anything else by the core-hour."""
    assumptions.validate()
    if input_bytes <= 0 or workers < 1 or cores_per_worker < 1:
        raise UserInputError("need input bytes > 0, --workers >= 1 and at least one core per worker")
    cores = workers * cores_per_worker
    core_hours = input_bytes / MB / (assumptions.mb_per_s_per_core * assumptions.efficiency) / 3600
    processing_hours = core_hours / cores
    wall_hours = processing_hours + assumptions.startup_minutes / 60
    worker_hours = workers * wall_hours
    shuffle_gb = input_bytes * assumptions.shuffle_ratio / 1e9
    cost = None
    if machine and prices:
        per_worker_hour = (machine.vcpus * prices.vcpu_hour + machine.memory_gb * prices.memory_gb_hour
                           + assumptions.disk_gb_per_worker * prices.disk_gb_hour)
        cost = worker_hours * per_worker_hour + shuffle_gb * prices.shuffle_gb
    elif core_hour_usd is not None:
        cost = worker_hours * cores_per_worker * core_hour_usd
    warning = None
    if machine and machine.vcpus * assumptions.rss_gb_per_process > machine.memory_gb:
        warning = (f"{machine.name} has {machine.memory_gb:g} GB for {machine.vcpus} SDK processes of "
                   f"~{assumptions.rss_gb_per_process:g} GB each: pick a standard or highmem type")
    return Plan(
        input_bytes=input_bytes, workers=workers, cores_per_worker=cores_per_worker,
        core_hours=core_hours, processing_hours=processing_hours, wall_hours=wall_hours,
        worker_hours=worker_hours, shuffle_gb=shuffle_gb, cost_usd=cost, memory_warning=warning,
    )

