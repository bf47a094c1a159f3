"""DirectRunner options: in-process for a small input, else one worker process per core.

The DirectRunner (Beam's FnApiRunner) runs stage after stage and keeps every stage's output, and every
GroupByKey's input, in the driver's memory; in `multi_processing` mode it deals each stage's input out to
the worker processes. `PrepareCorpus` is shaped for that: its text-heavy stages take input files as
elements and leave only keys and counts, so what the driver holds grows with the number of documents
(tens of bytes each), not with the text, and the workers exchange no text through it. Each worker
process imports Beam and builds its segmenter and tokenizer: a fixed cost of a few CPU seconds that a
small input does not repay, hence one in-process worker below `SMALL_INPUT_BYTES` unless `--workers`
says otherwise. Measured figures: bench/README.md (`python -m bench.workers`, `python -m bench.scale`).
PrismRunner is not offered: it downloads its binary at run time.
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
# Share of one in-process worker's rate that each of several worker processes keeps: two ran 0.5 GB
# 1.75x as fast as one on the 2-core machine (bench/README.md, `python -m bench.scale`); more were not measured.
MULTI_PROCESS_EFFICIENCY = 0.87


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
