"""`PrepareCorpus`: input files in; shards, reject ledger, summary, report and manifest out.

The shape is what lets a 180 GB corpus run in bounded memory on any runner: every step that touches
text takes one input file and streams it, and only keys (digests, band keys, the rare candidates'
signatures) and per-file counts cross a shuffle. See DESIGN.md ("Scale rule").
"""
from __future__ import annotations

import apache_beam as beam

from pipeline.beam.dedup import FindDuplicates
from pipeline.beam.layout import OutputPlan
from pipeline.beam.publish import PublishRun, SumCounters
from pipeline.beam.stages import BANDS, INPUTS, SOURCES, STATS, BuildShards, CleanFile
from pipeline.config import PrepareConfig
from schemas.manifest import SpecialTokens, VocabInfo


class PrepareCorpus(beam.PTransform):
    """Reads like the data flow in DESIGN.md: clean each file and take its keys; decide the duplicates
    corpus-wide from the keys; build each file's shards without its duplicates; publish."""

    def __init__(self, files: list[str], config: PrepareConfig, plan: OutputPlan, vocab: VocabInfo,
                 special: SpecialTokens, started_at: str) -> None:
        super().__init__()
        self._files, self._config, self._plan = files, config, plan
        self._vocab, self._special, self._started_at = vocab, special, started_at

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        config, plan = self._config, self._plan
        input_files = pbegin | "list_files" >> beam.Create(list(enumerate(self._files)))
        # Pass 1: clean each file, spill its documents, emit the prefixes of its dedup keys.
        cleaned = input_files | "clean_files" >> beam.ParDo(CleanFile(config, plan)).with_outputs(
            BANDS, STATS, INPUTS, SOURCES, main="digests")
        # Corpus-wide: which documents are duplicates, decided from keys alone.
        duplicates = (cleaned.digests, cleaned[BANDS], input_files) | "find_duplicates" >> FindDuplicates(
            config.dedup, plan)
        # Pass 2: each file's shards and ledger, without its duplicates.
        built = input_files | "build_shards" >> beam.ParDo(
            BuildShards(config, plan), duplicates=beam.pvalue.AsMultiMap(duplicates["by_file"]),
        ).with_outputs(STATS, SOURCES, main="shards")
        stats = _summed((cleaned[STATS], duplicates[STATS], built[STATS]))
        return self._publish(pbegin, built.shards, stats, cleaned[INPUTS], duplicates["cluster_sizes"],
                             (cleaned[SOURCES], built[SOURCES]))

    def _publish(self, pbegin: beam.pvalue.PBegin, shards: beam.PCollection, stats: beam.PCollection,
                 inputs: beam.PCollection, clusters: beam.PCollection,
                 sources: tuple[beam.PCollection, ...]) -> beam.PCollection:
        """Once every file is done: staging to final names, then summary, report and manifest."""
        return (
            pbegin
            | "publish_trigger" >> beam.Create([None], reshuffle=False)
            | "publish" >> beam.ParDo(
                PublishRun(self._config, self._plan, self._vocab, self._special, self._started_at),
                shards=beam.pvalue.AsList(shards),
                stats=beam.pvalue.AsList(stats),
                inputs=beam.pvalue.AsList(inputs),
                clusters=beam.pvalue.AsList(clusters),
                # one small record per file and pass (counts, row-length figures, a few rejected
                # excerpts), for the per-source figures of summary.json and report.html
                sources=beam.pvalue.AsList(sources | "source_records" >> beam.Flatten()),
            )
        )


def _summed(stats: tuple[beam.PCollection, ...]) -> beam.PCollection:
    """Every step's counts as one sum. No default value for an empty input (there is none when no file
    matched): it would take three more ParDos and a stage."""
    return (stats
            | "all_stats" >> beam.Flatten()
            | "sum_stats" >> beam.CombineGlobally(SumCounters()).without_defaults())
