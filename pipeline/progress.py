"""Progress of a run on the terminal: documents and MB done, whatever the runner.

A pipeline step rather than a runner hook, because the DirectRunner reports no metrics before its run
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
from collections.abc import Callable
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.metrics import Metrics

Measure = Callable[[object], tuple[int, int]]  # element -> (documents, bytes)

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


class ReportProgress(beam.DoFn):
    """Counts what passes by and prints this process's totals at most every `interval_s` seconds."""

    def __init__(self, phase: str, measure: Measure, interval_s: float = 10.0) -> None:
        self._phase = phase
        self._measure = measure
        self._interval_s = interval_s

    def setup(self) -> None:
        self._documents = Metrics.counter("erlangshen", f"progress.{self._phase}.documents")
        self._bytes = Metrics.counter("erlangshen", f"progress.{self._phase}.bytes")

    def process(self, element):
        documents, size = self._measure(element)
        self._documents.inc(documents)
        self._bytes.inc(size)
        now = time.monotonic()
        with _lock:
            tally = _tallies.setdefault(self._phase, _Tally(started=now, printed=now))
            tally.documents += documents
            tally.bytes += size
            due = now - tally.printed >= self._interval_s
            if due:
                tally.printed = now
                line = progress_line(self._phase, tally.documents, tally.bytes, now - tally.started)
        if due:
            print(line, file=sys.stderr, flush=True)
        return ()
