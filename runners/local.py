"""DirectRunner options: in-process for a small input, else one worker process per core.

Beam 2.77's DirectRunner executes on the FnApiRunner. In `multi_processing` mode it starts one SDK
harness process per worker and hands each of them 1/N of every stage's input as one bundle: the keys
of a shuffle dealt round-robin, other inputs by the chunks the data plane wrote (or element by
element when there are fewer chunks than workers). So `PrepareCorpus` keeps its elements coarse and
even: whole input files for the read stage, dedup buckets for the shuffles, batches of
`PrepareConfig.batch_size` documents for segmentation; the runner itself has no bundle-size knob.
Every stage runs on every worker, and each worker process imports Beam and loads the segmenter and
tokenizer itself: a fixed cost of a few CPU seconds per worker, which a small input does not repay.
Every stage's output also crosses the driver over gRPC, so on this project's 2-core machine two
processes did a large input only 1.36x as fast as one in-process worker, and were slower below
~49 MB (`python -m bench.workers`, near-dedup off): the default is one in-process worker below
`SMALL_INPUT_BYTES`, which `--workers` overrides.
The graph is a fixed cost too: each fused stage about 20 ms of CPU in the driver and 10 ms in each
worker (and, with two workers on this 2-core machine, over 100 ms of wall time), each ParDo its own
translation and set-up. So `PrepareCorpus` keeps both few: run totals are side inputs or one combine
without a default value, report.html is written by the manifest's step.
It keeps every stage's output in the driver's memory, which is what limits a local run to corpora
that fit in RAM: past that, use a cluster. (PrismRunner is not offered: it downloads its binary at
run time.)
"""
from __future__ import annotations

import os
from collections.abc import Sequence

from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions

from schemas.errors import UserInputError


def available_cores() -> int:
    """Cores this process may run on (its affinity mask), not the machine's total."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


SMALL_INPUT_BYTES = 48 * 2**20
# Share of one in-process worker's rate that each of several worker processes keeps: two did a large
# input 1.36x as fast as one on the 2-core machine (`python -m bench.workers`); more were not measured.
MULTI_PROCESS_EFFICIENCY = 0.68


def default_workers(input_bytes: int | None = None) -> int:
    """One in-process worker for an input known to be small, else one per available core."""
    if input_bytes is not None and input_bytes < SMALL_INPUT_BYTES:
        return 1
    return available_cores()


def local_efficiency(workers: int) -> float:
    """What `erlangshen-data plan` assumes for a local run: the measured rate is one worker's."""
    return 1.0 if workers == 1 else MULTI_PROCESS_EFFICIENCY


def local_options(workers: int | None = None, extra: Sequence[str] = (),
                  input_bytes: int | None = None) -> PipelineOptions:
    """`workers=None` means `default_workers(input_bytes)`; 1 runs in-process (no pickling between
    stages). `extra`: any other Beam flag (--name=value), passed through verbatim."""
    if workers is not None and workers < 1:
        raise UserInputError(f"--workers must be at least 1 (got {workers})")
    count = workers or default_workers(input_bytes)
    options = PipelineOptions(list(extra))  # never sys.argv: the CLI owns the arguments
    options.view_as(StandardOptions).runner = "DirectRunner"
    direct = options.view_as(DirectOptions)
    direct.direct_num_workers = count
    direct.direct_running_mode = "in_memory" if count == 1 else "multi_processing"
    return options
