"""Progress lines: documents and MB done, printed from inside the pipeline so every runner has them."""
from __future__ import annotations

import apache_beam as beam

from pipeline.progress import ReportProgress
from runners.local import local_options


def _measure(batch: list[str]) -> tuple[int, int]:
    return len(batch), sum(len(text.encode("utf-8")) for text in batch)


def test_progress_lines_count_documents_and_megabytes(capfd):
    batches = [["中文" * 250_000] * 2, ["中文" * 250_000]]  # 1.5 MB a document
    with beam.Pipeline(options=local_options(1)) as pipeline:
        _ = (pipeline | beam.Create(batches, reshuffle=False)
             | beam.ParDo(ReportProgress("test-phase", _measure, interval_s=0.0)))
    lines = [line for line in capfd.readouterr().err.splitlines() if line.startswith("progress test-phase")]
    assert len(lines) == 2
    assert "2 documents, 3.0 MB" in lines[0] and "3 documents, 4.5 MB" in lines[1]


def test_progress_stays_quiet_within_its_interval(capfd):
    with beam.Pipeline(options=local_options(1)) as pipeline:
        _ = (pipeline | beam.Create([["短文"]] * 5, reshuffle=False)
             | beam.ParDo(ReportProgress("quiet-phase", _measure, interval_s=3600.0)))
    assert "progress quiet-phase" not in capfd.readouterr().err
