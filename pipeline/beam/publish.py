"""Publishing a finished run: the earlier run retired, then ledgers, shards and vocab out of staging,
then summary, report and manifest.

The manifest is the completion marker: an earlier run's goes first and this run's is written last, so
a crash in between leaves no manifest (an unfinished run), never a mix that looks finished. Shards are
written earlier, as rows arrive (pipeline/beam/shard_writer.py).
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline.beam import files, run_lock
from pipeline.beam.layout import STAGING_DIR, SUMMARY_NAME, OutputPlan, delete_entry, earlier_run_files
from pipeline.config import PrepareConfig
from pipeline.corpus_profile import REJECTED_STAT, REPORT_STAT, run_figures
from pipeline.report import REPORT_NAME, render_report
from schemas.manifest import MANIFEST_NAME, VOCAB_NAME, DocumentAccounting, InputFile, Manifest, VocabInfo
from schemas.provenance import run_environment, utc_timestamp


class SumCounters(beam.CombineFn):
    def create_accumulator(self) -> Counter:
        return Counter()

    def add_input(self, accumulator: Counter, element: Counter) -> Counter:
        accumulator.update(element)
        return accumulator

    def merge_accumulators(self, accumulators) -> Counter:
        total: Counter = Counter()
        for accumulator in accumulators:
            total.update(accumulator)
        return total

    def extract_output(self, accumulator: Counter) -> dict[str, int]:
        return {key: int(value) for key, value in sorted(accumulator.items())}


class PublishRun(beam.DoFn):
    """Runs once, after every shard and ledger file exists: moves them from the staging area to their
    final names, then writes summary.json, report.html (when asked) and, last, the manifest."""

    def __init__(self, config: PrepareConfig, plan: OutputPlan, vocab: VocabInfo, special, started_at: str) -> None:
        self._config, self._plan, self._vocab, self._special = config, plan, vocab, special
        self._started_at = started_at

    def process(self, _, shards, stats, inputs, clusters, sources):
        """`stats`: the one sum of every file's counts (none when no file was read), `inputs`: each
        input file's size and hash, `clusters`: the one {cluster size: clusters} dict, none without
        near duplicates, `sources`: each file's records of its two passes (`source_record`)."""
        stats = dict(stats[0]) if stats else {}
        plan = self._plan
        figures = run_figures(stats, sources, clusters[0] if clusters else {}, plan.entity_types,
                              self._config.sop.max_seq_len)
        rejected = {key.removeprefix(REJECTED_STAT): stats.pop(key) for key in sorted(stats)
                    if key.startswith(REJECTED_STAT)}
        for key in [key for key in stats if key.startswith(REPORT_STAT)]:
            del stats[key]
        documents = DocumentAccounting(read=stats.pop("records_read", 0), kept=stats.pop("documents_kept", 0),
                                       rejected=rejected)
        shard_infos = sorted(shards, key=lambda s: s.file)
        inputs = sorted(inputs, key=lambda i: i["path"])
        published = [s.file for s in shard_infos] + [plan.ledger_name(i) for i in range(len(inputs))] + [VOCAB_NAME]
        run_lock.check_still_held(plan.output_dir, plan.run_id)
        retire_earlier_run(plan.output_dir)
        files.move_files([(plan.staged(f), plan.final(f)) for f in published])
        staged = [m.path for m in FileSystems.match([plan.staged("**")])[0].metadata_list]
        delete_entry(plan.output_dir, STAGING_DIR, staged)
        manifest = Manifest(
            vocab=self._vocab,
            special_tokens=self._special,
            max_seq_len=self._config.sop.max_seq_len,
            seed=self._config.seed,
            config=self._config.to_dict(),
            entity_types=list(plan.entity_types),
            shards=shard_infos,
            documents=documents,
            stats=stats,
            lexicons=[dict(entry) for entry in plan.lexicon_provenance],
            environment=run_environment(),
            inputs=[InputFile(**entry) for entry in inputs],
            started_at=self._started_at,
            finished_at=utc_timestamp(),
        )
        summary = {"documents": asdict(documents), "rows": manifest.total_rows, "tokens": manifest.total_tokens,
                   "shards": len(shard_infos), "stats": manifest.stats, **figures}
        if self._config.report:  # a view of the summary: every number in it is one of summary.json's
            files.write_atomically(plan.final(REPORT_NAME), render_report(summary).encode("utf-8"))
        files.write_atomically(plan.final(SUMMARY_NAME), _dumps(summary).encode("utf-8"))
        files.write_atomically(plan.final(MANIFEST_NAME), manifest.to_json().encode("utf-8"))
        yield manifest.to_json()


def retire_earlier_run(output_dir: str) -> None:
    """Deletes what an earlier run published (`--overwrite`), its manifest first; this run's staging
    area and the lock stay."""
    earlier = earlier_run_files(output_dir)
    for name in sorted(earlier, key=lambda name: name != MANIFEST_NAME):
        if name != STAGING_DIR:
            delete_entry(output_dir, name, earlier[name])


def _dumps(data) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"

