"""Where a run's files go: the output plan every step shares, fixed by the driver before the run.

Finished files are written under `.staging/` and published by the last step, so an interrupted run
leaves nothing under `shards/` or `rejects/` that a reader could mistake for a finished set, and an
earlier run stays whole beside the staging area until the new one publishes. Every name
is a function of the input file's index (input files are numbered in sorted path order), never of the
worker that wrote it: the layout is the same on any runner and worker count.
"""
from __future__ import annotations

from dataclasses import dataclass

from apache_beam.io.filesystems import FileSystems

from pipeline.dedup import MIN_BUCKETS
from pipeline.report import REPORT_NAME
from schemas.manifest import LEDGER_DIR, MANIFEST_NAME, SHARDS_DIR, SUMMARY_NAME, VOCAB_NAME, ledger_file_name
from schemas.shard import shard_file_name

STAGING_DIR = ".staging"
SPILL_DIR = "spill"
LEXICON_NAME = "lexicon.bin"
GX_PROJECT = "gx"  # the folder Great Expectations' file context keeps under a validated output
METRICS_NAMESPACE = "erlangshen"
# Keys of the run's summed counts besides the plain ones (rows, tokens, entities...): the payload bytes
# entering each GroupByKey, by kind; drops by reason and the report-only counts are pipeline/corpus_profile's.
SHUFFLED_STAT = "shuffled_bytes."


def join(directory: str, relative: str) -> str:
    return FileSystems.join(directory, *relative.split("/"))


def earlier_run_files(output_dir: str) -> dict[str, list[str]]:
    """Each entry a run leaves in `output_dir` -> the files it holds. Object stores (gs://, s3://) have
    no directories: a folder is there only through the objects under it, so folders are listed, never
    `exists`-checked (and deleting a folder's name there would leave its files behind)."""
    found: dict[str, list[str]] = {}
    # GX_PROJECT: what `validate` wrote about the earlier run's shards is stale once they are replaced.
    for name in (MANIFEST_NAME, SHARDS_DIR, LEDGER_DIR, SUMMARY_NAME, REPORT_NAME, STAGING_DIR, GX_PROJECT):
        path = FileSystems.join(output_dir, name)
        if name in (MANIFEST_NAME, SUMMARY_NAME, REPORT_NAME):
            found[name] = [path] if FileSystems.exists(path) else []
        else:
            listed = FileSystems.match([FileSystems.join(path, "**")])[0].metadata_list
            found[name] = sorted(metadata.path for metadata in listed)
    return found


def delete_entry(output_dir: str, name: str, listed: list[str]) -> None:
    """A local folder goes whole (no empty folders left behind); on object stores, the objects under it."""
    folder = FileSystems.join(output_dir, name)
    if FileSystems.get_scheme(folder) in (None, "file") and FileSystems.exists(folder):
        FileSystems.delete([folder])
    elif listed:
        FileSystems.delete(listed)


@dataclass(frozen=True)
class OutputPlan:
    """Everything the workers need to know about where and how to write."""

    output_dir: str
    run_id: str  # the output's lock holds it; publishing checks it (pipeline/beam/run_lock.py)
    entity_types: tuple[str, ...]
    lexicon_provenance: tuple[dict[str, str], ...] = ()  # recorded in the manifest
    dedup_buckets: int = MIN_BUCKETS  # see `pipeline.dedup.bucket_count`; never changes the output

    def staged(self, relative: str) -> str:
        return join(self.output_dir, f"{STAGING_DIR}/{relative}")

    def final(self, relative: str) -> str:
        return join(self.output_dir, relative)

    @property
    def vocab_file(self) -> str:
        """The vocab as written to the output, staged like every other file until the run publishes."""
        return self.staged(VOCAB_NAME)

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
        return ledger_file_name(file_index)
