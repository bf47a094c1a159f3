"""Progress of a run on the terminal: documents and MB done, whatever the runner.

Reported from inside the steps rather than by a runner hook, because the DirectRunner reports no metrics before its run
ends, so a driver would have nothing to poll. Locally the lines reach the terminal (worker processes
share its stderr); on Dataflow, Flink or Spark they land in the worker logs, and the counters the step
bumps are the cluster-wide figures in the runner's UI. A line speaks for one worker process: its
totals are shared by every DoFn instance and thread of that process.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass

from apache_beam.metrics import Metrics

from pipeline.beam.layout import METRICS_NAMESPACE

_MB = 1_000_000  # decimal, like the figures of `plan`


@dataclass
class _Tally:
    started: float
    documents: int = 0
    bytes: int = 0
    printed: float = 0.0


_tallies: dict[str, _Tally] = {}
_lock = threading.Lock()


def progress_line(phase: str, documents: int, size: int, seconds: float) -> str:
    rate = size / _MB / seconds if seconds > 0 else 0.0
    return (f"progress {phase} (pid {os.getpid()}): {documents:,} documents, "
            f"{size / _MB:,.1f} MB, {rate:,.2f} MB/s")


def report_progress(phase: str, documents: int, size: int, interval_s: float = 10.0) -> None:
    """Counts what a step has done and prints this process's totals at most every `interval_s` seconds."""
    Metrics.counter(METRICS_NAMESPACE, f"progress.{phase}.documents").inc(documents)
    Metrics.counter(METRICS_NAMESPACE, f"progress.{phase}.bytes").inc(size)
    now = time.monotonic()
    with _lock:
        tally = _tallies.setdefault(phase, _Tally(started=now, printed=now))
        tally.documents += documents
        tally.bytes += size
        due = now - tally.printed >= interval_s
        if due:
            tally.printed = now
            line = progress_line(phase, tally.documents, tally.bytes, now - tally.started)
    if due:
        print(line, file=sys.stderr, flush=True)
