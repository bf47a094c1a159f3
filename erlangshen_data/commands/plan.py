"""`erlangshen-data plan`: core-hours, wall time and cost of a `prepare` run before paying for it."""
from __future__ import annotations

import argparse

from erlangshen_data.commands.arg_types import COUNT, NON_NEGATIVE_NUMBER, POSITIVE, number
from runners.capacity import (
    MEASURED_MB_PER_S_PER_CORE, Assumptions, Prices, estimate, parse_machine_type, parse_size,
)
from runners.local import default_workers, local_efficiency
from schemas.errors import UserInputError


def register(subparsers) -> None:
    defaults, prices = Assumptions(), Prices()
    parser = subparsers.add_parser(
        "plan", description="Estimates core-hours, wall time and cost of preparing a corpus from the per-core\n"
                            "throughput of `prepare` measured on this machine; every assumption is printed\n"
                            "with the result.")
    parser.add_argument("--input-bytes", required=True, type=parse_size, metavar="SIZE",
                        help="corpus size: 180GB (decimal), 200GiB (binary), or bytes")
    parser.add_argument("--runner", choices=["local", "dataflow", "flink", "spark"], default="dataflow",
                        help="where `prepare` would run")
    parser.add_argument("--workers", type=COUNT, metavar="N",
                        help="workers (machines); local: processes, by default as many as `prepare` would start")
    parser.add_argument("--machine-type", metavar="TYPE",
                        help="dataflow worker type, e.g. n2-standard-8 (required for dataflow)")
    parser.add_argument("--cores-per-worker", type=COUNT, metavar="N",
                        help="flink/spark task slots per worker (required there)")
    parser.add_argument("--mb-per-s-per-core", type=POSITIVE, metavar="MB_S", default=defaults.mb_per_s_per_core,
                        help=f"measured prepare throughput (default {MEASURED_MB_PER_S_PER_CORE}: "
                             "wudao-sample on this machine, see bench/README.md, Capacity plan rate)")
    parser.add_argument("--efficiency", type=number(0.0, 1.0, above_minimum=True), metavar="E",
                        help=f"share of the per-core rate kept at scale (default {defaults.efficiency}; local: "
                             "1 for one worker, as measured for several; see runners/local.py)")
    parser.add_argument("--shuffle-ratio", type=NON_NEGATIVE_NUMBER, metavar="R", default=defaults.shuffle_ratio,
                        help=f"bytes shuffled per input byte (default {defaults.shuffle_ratio})")
    parser.add_argument("--startup-minutes", type=NON_NEGATIVE_NUMBER, default=defaults.startup_minutes, metavar="MIN",
                        help="minutes billed per worker before the first element (not local)")
    parser.add_argument("--disk-size-gb", type=NON_NEGATIVE_NUMBER, default=defaults.disk_gb_per_worker, metavar="GB",
                        help="disk billed per worker")
    parser.add_argument("--vcpu-hour-usd", type=NON_NEGATIVE_NUMBER, default=prices.vcpu_hour, metavar="USD",
                        help="dataflow: price of one vCPU-hour")
    parser.add_argument("--memory-gb-hour-usd", type=NON_NEGATIVE_NUMBER, default=prices.memory_gb_hour, metavar="USD",
                        help="dataflow: price of one GB-hour of memory")
    parser.add_argument("--disk-gb-hour-usd", type=NON_NEGATIVE_NUMBER, default=prices.disk_gb_hour, metavar="USD",
                        help="dataflow: price of one GB-hour of disk")
    parser.add_argument("--shuffle-gb-usd", type=NON_NEGATIVE_NUMBER, default=prices.shuffle_gb, metavar="USD",
                        help="dataflow: price of one GB shuffled")
    parser.add_argument("--core-hour-usd", type=NON_NEGATIVE_NUMBER, metavar="USD",
                        help="flink/spark/local: price of one core-hour")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    efficiency = args.efficiency
    if args.runner == "local":
        local_workers = args.workers or default_workers(args.input_bytes)
        efficiency = local_efficiency(local_workers) if efficiency is None else efficiency
    assumptions = Assumptions(
        mb_per_s_per_core=args.mb_per_s_per_core,
        efficiency=Assumptions.efficiency if efficiency is None else efficiency,
        shuffle_ratio=args.shuffle_ratio, startup_minutes=args.startup_minutes if args.runner != "local" else 0.0,
        disk_gb_per_worker=args.disk_size_gb,
    )
    machine = prices = None
    if args.runner == "dataflow":
        if not args.machine_type or not args.workers:
            raise UserInputError("plan --runner dataflow needs --workers and --machine-type")
        machine = parse_machine_type(args.machine_type)
        prices = Prices(args.vcpu_hour_usd, args.memory_gb_hour_usd, args.disk_gb_hour_usd, args.shuffle_gb_usd)
        workers, cores = args.workers, machine.vcpus
    elif args.runner == "local":
        workers, cores = local_workers, 1
    else:
        if not args.workers or not args.cores_per_worker:
            raise UserInputError(f"plan --runner {args.runner} needs --workers and --cores-per-worker")
        workers, cores = args.workers, args.cores_per_worker
    plan = estimate(args.input_bytes, workers, cores, assumptions, machine, prices, args.core_hour_usd)

    print("assumptions")
    print(f"  throughput        {assumptions.mb_per_s_per_core:g} MB/s per core (1 MB = 10^6 bytes), "
          f"at {assumptions.efficiency:.0%} efficiency when scaled out")
    if machine:
        print(f"  worker            {machine.name}: {machine.vcpus} vCPUs, {machine.memory_gb:g} GB; one SDK "
              "process per vCPU (Dataflow runner v2), each vCPU at the measured per-core rate")
        print(f"  start-up          {assumptions.startup_minutes:g} min billed before the first element")
        print(f"  prices (USD)      {_usd(prices.vcpu_hour)}/vCPU-h, {_usd(prices.memory_gb_hour)}/GB-h memory, "
              f"{_usd(prices.disk_gb_hour)}/GB-h disk ({assumptions.disk_gb_per_worker:g} GB per worker), "
              f"{_usd(prices.shuffle_gb)}/GB shuffled (Dataflow batch list prices, us-central1)")
    else:
        print(f"  workers           {workers} x {cores} core(s), one SDK process per core")
        if args.runner != "local":
            print(f"  start-up          {assumptions.startup_minutes:g} min before the first element")
        if args.core_hour_usd is not None:
            print(f"  price             {args.core_hour_usd:g} USD per core-hour")
    print(f"  shuffle           {assumptions.shuffle_ratio:g} bytes per input byte")
    print("estimate")
    print(f"  input             {plan.input_bytes / 1e9:,.1f} GB")
    print(f"  cores             {plan.workers * plan.cores_per_worker:,} ({plan.workers:,} workers "
          f"x {plan.cores_per_worker})")
    print(f"  core-hours        {plan.core_hours:,.0f} processing, "
          f"{plan.worker_hours * plan.cores_per_worker:,.0f} billed (start-up included)")
    print(f"  wall time         {_hours(plan.wall_hours)}")
    print(f"  shuffle           {plan.shuffle_gb:,.0f} GB")
    if plan.cost_usd is not None:
        print(f"  cost              {plan.cost_usd:,.0f} USD")
    if plan.memory_warning:
        print(f"warning: {plan.memory_warning}")
    return 0


def _hours(hours: float) -> str:
    return f"{hours:,.2f} h" if hours >= 1 else f"{hours * 60:,.0f} min"


def _usd(price: float) -> str:
    return f"{price:.6f}".rstrip("0").rstrip(".")
