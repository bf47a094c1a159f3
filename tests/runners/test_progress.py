"""Progress lines: documents and MB done, printed from inside the pipeline's steps so every runner has them."""
from __future__ import annotations

import os
import re

from pipeline.beam.progress import report_progress

_LINE = re.compile(r"^progress (?P<phase>\S+) \(pid (?P<pid>\d+)\): (?P<docs>[\d,]+) documents, "
                   r"(?P<mb>[\d,.]+) MB, (?P<rate>[\d,.]+) MB/s$")


def _lines(err: str, phase: str) -> list[re.Match]:
    return [match for line in err.splitlines() if (match := _LINE.match(line)) and match["phase"] == phase]


def test_progress_lines_count_documents_and_megabytes_of_this_process(capfd):
    report_progress("test-phase", 2, 3_000_000, interval_s=0.0)
    report_progress("test-phase", 1, 1_500_000, interval_s=0.0)
    lines = _lines(capfd.readouterr().err, "test-phase")
    assert len(lines) == 2
    assert (lines[0]["docs"], lines[0]["mb"]) == ("2", "3.0")
    assert (lines[1]["docs"], lines[1]["mb"]) == ("3", "4.5")  # running totals, not the last call's
    assert {line["pid"] for line in lines} == {str(os.getpid())}


def test_progress_stays_quiet_within_its_interval(capfd):
    for _ in range(5):
        report_progress("quiet-phase", 1, 10, interval_s=3600.0)
    assert "progress quiet-phase" not in capfd.readouterr().err


def test_each_phase_keeps_its_own_totals(capfd):
    report_progress("phase-a", 10, 1_000_000, interval_s=0.0)
    report_progress("phase-b", 1, 2_000_000, interval_s=0.0)
    err = capfd.readouterr().err
    [a], [b] = _lines(err, "phase-a"), _lines(err, "phase-b")
    assert (a["docs"], a["mb"], b["docs"], b["mb"]) == ("10", "1.0", "1", "2.0")
