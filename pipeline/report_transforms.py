"""The Beam edge of report.html: small combiners feed one DoFn that renders and writes the file."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline import beam_io
from pipeline.report import LENGTH_EDGES, REPORT_NAME, length_bin, render_report


class LengthHistogram(beam.CombineFn):
    """Batches of documents in; their texts' lengths in characters, counted into the report's bins."""

    def create_accumulator(self) -> list[int]:
        return [0] * len(LENGTH_EDGES)

    def add_input(self, accumulator: list[int], docs) -> list[int]:
        for doc in docs:
            accumulator[length_bin(len(doc.text))] += 1
        return accumulator

    def merge_accumulators(self, accumulators) -> list[int]:
        return [sum(column) for column in zip(*accumulators)]

    def extract_output(self, accumulator: list[int]) -> list[int]:
        return accumulator


class WriteReport(beam.DoFn):
    def __init__(self, output_dir: str) -> None:
        self._output_dir = output_dir

    def process(self, _, rejected, before, after, clusters):
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
        before = inputs["read"] | "bin_raw_lengths" >> beam.CombineGlobally(LengthHistogram())
        after = inputs["kept"] | "bin_kept_lengths" >> beam.CombineGlobally(LengthHistogram())
        root = inputs["read"].pipeline
        clusters = inputs["cluster_sizes"]
        return (
            root
            | "report_trigger" >> beam.Create([None])
            | "write_report" >> beam.ParDo(
                WriteReport(self._output_dir),
                rejected=beam.pvalue.AsSingleton(inputs["rejected"]),
                before=beam.pvalue.AsSingleton(before),
                after=beam.pvalue.AsSingleton(after),
                clusters=beam.pvalue.AsSingleton(clusters),
            )
        )
