"""The Beam edge of report.html: one small combiner feeds one DoFn that renders and writes the file."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline import beam_io
from pipeline.report import LENGTH_EDGES, REPORT_NAME, length_bin, render_report

READ, KEPT = "read", "kept"


def _binned(kind: str):
    """A batch of documents in, (kind, the texts' lengths in characters counted into the report's
    bins) out: fused with the stage that makes the batch, so only the bins travel on."""

    def histogram(docs) -> tuple[str, list[int]]:
        bins = [0] * len(LENGTH_EDGES)
        for doc in docs:
            bins[length_bin(len(doc.text))] += 1
        return kind, bins

    return histogram


class LengthHistograms(beam.CombineFn):
    """(READ or KEPT, histogram of a batch) in; their sums, one histogram each. One combine for
    both: each global combine adds stages that every worker runs."""

    def create_accumulator(self) -> dict[str, list[int]]:
        return {READ: [0] * len(LENGTH_EDGES), KEPT: [0] * len(LENGTH_EDGES)}

    def add_input(self, accumulator: dict[str, list[int]], element) -> dict[str, list[int]]:
        kind, bins = element
        accumulator[kind] = [total + count for total, count in zip(accumulator[kind], bins)]
        return accumulator

    def merge_accumulators(self, accumulators) -> dict[str, list[int]]:
        accumulators = list(accumulators)
        return {kind: [sum(column) for column in zip(*(a[kind] for a in accumulators))] for kind in (READ, KEPT)}

    def extract_output(self, accumulator: dict[str, list[int]]) -> dict[str, list[int]]:
        return accumulator


class WriteReport(beam.DoFn):
    def __init__(self, output_dir: str) -> None:
        self._output_dir = output_dir

    def process(self, _, rejected, lengths, clusters):
        before, after = lengths[READ], lengths[KEPT]
        documents = {"read": sum(before), "kept": sum(after), "rejected": sum(rejected.values())}
        page = render_report(documents, rejected, before, after, clusters)
        beam_io.write_atomically(FileSystems.join(self._output_dir, REPORT_NAME), page.encode("utf-8"))
        yield REPORT_NAME


class CorpusReport(beam.PTransform):
    """A dict in: "read" (batches of Documents), "kept" (batches of CleanDocuments reaching the shards),
    "rejected" (the ledger's {reason: count}) and "cluster_sizes" (one {size: clusters} element)."""

    def __init__(self, output_dir: str) -> None:
        super().__init__()
        self._output_dir = output_dir

    def expand(self, inputs):
        lengths = (
            (inputs[READ] | "tag_read" >> beam.Map(_binned(READ)),
             inputs[KEPT] | "tag_kept" >> beam.Map(_binned(KEPT)))
            | "read_and_kept" >> beam.Flatten()
            | "bin_lengths" >> beam.CombineGlobally(LengthHistograms())
        )
        root = inputs[READ].pipeline
        return (
            root
            | "report_trigger" >> beam.Create([None], reshuffle=False)
            | "write_report" >> beam.ParDo(
                WriteReport(self._output_dir),
                rejected=beam.pvalue.AsSingleton(inputs["rejected"]),
                lengths=beam.pvalue.AsSingleton(lengths),
                clusters=beam.pvalue.AsSingleton(inputs["cluster_sizes"]),
            )
        )
