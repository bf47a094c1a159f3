"""`erlangshen-data plan`: sizes, machine types and the arithmetic of the estimate."""
from __future__ import annotations

import pytest

from erlangshen_data.cli import main
from runners.capacity import Assumptions, Prices, estimate, parse_machine_type, parse_size
from runners.local import MULTI_PROCESS_EFFICIENCY
from schemas.errors import UserInputError


@pytest.mark.parametrize("text, expected", [
    ("180GB", 180 * 10**9), ("200GiB", 200 * 2**30), ("512M", 512 * 10**6), ("1.5T", 1_500_000_000_000),
    ("123", 123), ("7 kib", 7 * 1024),
])
def test_sizes_read_in_decimal_and_binary_units(text, expected):
    assert parse_size(text) == expected


def test_unreadable_size_is_a_user_error():
    with pytest.raises(UserInputError, match="180 gigs"):
        parse_size("180 gigs")


def test_machine_types_give_vcpus_and_memory():
    assert (parse_machine_type("n2-standard-8").vcpus, parse_machine_type("n2-standard-8").memory_gb) == (8, 32)
    assert parse_machine_type("n1-highmem-4").memory_gb == 26
    with pytest.raises(UserInputError, match="unknown machine type"):
        parse_machine_type("m5.xlarge")


def test_wall_time_halves_with_twice_the_workers_and_cost_follows_the_billed_hours():
    assumptions = Assumptions(mb_per_s_per_core=0.5, efficiency=1.0, startup_minutes=0.0, shuffle_ratio=0.0)
    machine, prices = parse_machine_type("n2-standard-4"), Prices()
    ten = estimate(180 * 10**9, 10, 4, assumptions, machine, prices)
    twenty = estimate(180 * 10**9, 20, 4, assumptions, machine, prices)
    assert ten.core_hours == pytest.approx(180_000 / 0.5 / 3600)  # 100 core-hours
    assert twenty.wall_hours == pytest.approx(ten.wall_hours / 2)
    per_worker_hour = 4 * prices.vcpu_hour + 16 * prices.memory_gb_hour + 25 * prices.disk_gb_hour
    assert ten.cost_usd == pytest.approx(ten.worker_hours * per_worker_hour)
    assert twenty.cost_usd == pytest.approx(ten.cost_usd)  # no start-up: same work, same bill


def test_start_up_and_shuffle_are_billed():
    base = Assumptions(mb_per_s_per_core=1.0, efficiency=1.0, startup_minutes=0.0, shuffle_ratio=0.0)
    machine, prices = parse_machine_type("n2-standard-8"), Prices()
    plain = estimate(10**12, 50, 8, base, machine, prices)
    full = estimate(10**12, 50, 8, Assumptions(1.0, 1.0, shuffle_ratio=2.0, startup_minutes=6.0), machine, prices)
    assert full.wall_hours == pytest.approx(plain.wall_hours + 0.1)
    assert full.shuffle_gb == pytest.approx(2000)
    assert full.cost_usd > plain.cost_usd + 2000 * prices.shuffle_gb


def test_a_machine_too_small_for_its_sdk_processes_is_flagged():
    assert estimate(10**9, 1, 8, Assumptions(), parse_machine_type("n2-highcpu-8"), Prices()).memory_warning
    assert estimate(10**9, 1, 8, Assumptions(), parse_machine_type("n2-standard-8"), Prices()).memory_warning is None


def test_plan_command_prints_its_assumptions_and_estimate(capsys):
    assert main(["plan", "--input-bytes", "180GB", "--runner", "dataflow", "--workers", "50",
                 "--machine-type", "n2-standard-8", "--mb-per-s-per-core", "1"]) == 0
    out = capsys.readouterr().out
    assert "1 MB/s per core" in out and "n2-standard-8: 8 vCPUs, 32 GB" in out and "us-central1" in out
    assert "core-hours        62 processing" in out  # 180,000 MB / (1 MB/s x 0.8) / 3600
    assert "cost" in out and "wall time" in out


def test_plan_for_dataflow_needs_workers_and_machine_type(capsys):
    assert main(["plan", "--input-bytes", "180GB", "--runner", "dataflow"]) == 2
    assert "--machine-type" in capsys.readouterr().err


def test_local_plan_starts_the_workers_prepare_would_at_their_measured_efficiency(capsys):
    assert main(["plan", "--input-bytes", "10MB", "--runner", "local"]) == 0
    small = capsys.readouterr().out
    assert "at 100% efficiency" in small and "1 x 1 core(s)" in small  # one in-process worker, the rate measured
    assert main(["plan", "--input-bytes", "180GB", "--runner", "local", "--workers", "4"]) == 0
    assert f"at {MULTI_PROCESS_EFFICIENCY:.0%} efficiency" in capsys.readouterr().out
    assert main(["plan", "--input-bytes", "180GB", "--runner", "local", "--workers", "4", "--efficiency", "0.9"]) == 0
    assert "at 90% efficiency" in capsys.readouterr().out
