"""Where a run's files go: the output plan every step shares, fixed by the driver before the run.

Finished files are written under `.staging/` and published by the last step, so an interrupted run
leaves nothing under `shards/` or `rejects/` that a reader could mistake for a finished set. Every name
is a function of the input file's index (input files are numbered in sorted path order), never of the
worker that wrote it: the layout is the same on any runner and worker count.
"""
from __future__ import annotations

from dataclasses import dataclass

from apache_beam.io.filesystems import FileSystems

from pipeline.dedup import MIN_BUCKETS
from schemas.manifest import SHARDS_DIR
from schemas.shard import shard_file_name

LEDGER_DIR = "rejects"
STAGING_DIR = ".staging"
SPILL_DIR = "spill"
SUMMARY_NAME = "summary.json"
LEXICON_NAME = "lexicon.bin"
METRICS_NAMESPACE = "erlangshen"
# Keys of the run's summed counts besides the plain ones (rows, tokens, entities...): the payload bytes
# entering each GroupByKey, by kind; drops by reason and the report-only counts are pipeline/corpus_profile's.
SHUFFLED_STAT = "shuffled_bytes."


def join(directory: str, relative: str) -> str:
    return FileSystems.join(directory, *relative.split("/"))


@dataclass(frozen=True)
class OutputPlan:
    """Everything the workers need to know about where and how to write."""

    output_dir: str
    vocab_file: str  # path of the vocab copy inside output_dir
    entity_types: tuple[str, ...]
    lexicon_provenance: tuple[dict[str, str], ...] = ()  # recorded in the manifest
    dedup_buckets: int = MIN_BUCKETS  # see `pipeline.dedup.bucket_count`; never changes the output

    @property
    def staging_dir(self) -> str:
        return join(self.output_dir, STAGING_DIR)

    def staged(self, relative: str) -> str:
        return join(self.output_dir, f"{STAGING_DIR}/{relative}")

    def final(self, relative: str) -> str:
        return join(self.output_dir, relative)

    @property
    def lexicon_file(self) -> str:
        """The driver's parsed lexicon, staged for the workers."""
        return self.staged(LEXICON_NAME)

    def spill(self, file_index: int, kind: str) -> str:
        """Pass 1's leftovers of one input file: "cleaned", "signatures" or "rejects"."""
        suffix = "jsonl" if kind == "rejects" else "arrows"
        return self.staged(f"{SPILL_DIR}/{file_index:05d}.{kind}.{suffix}")

    @staticmethod
    def shard_name(file_index: int, part: int) -> str:
        return f"{SHARDS_DIR}/{shard_file_name(file_index, part)}"

    @staticmethod
    def ledger_name(file_index: int) -> str:
        return f"{LEDGER_DIR}/part-{file_index:05d}.jsonl"
