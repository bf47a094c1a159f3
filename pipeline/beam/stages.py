"""The two passes over the input files, as thin DoFns around the pure stages.

An element is one input file, streamed batch by batch; what leaves a DoFn is keys, counts and file
names, never texts or rows. Pass 1 (`CleanFile`) reads, parses and cleans a file, spills the cleaned
documents and emits their digests and band keys for the corpus-wide dedup decisions. Pass 2
(`BuildShards`) reads the spill back, drops the duplicates it is told of, and writes the file's shards
and reject ledger. Heavy objects (segmenter, automaton, tokenizer tables) load once per worker process
through `Shared`.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator

import apache_beam as beam
import numpy as np
import pyarrow.compute as pc
from apache_beam.metrics import Metrics
from apache_beam.utils.shared import Shared

from knowledge.lexicon import Lexicon
from knowledge.matcher import EntityMatcher
from pipeline.annotate import BatchAnnotator
from pipeline.beam import files, spill
from pipeline.beam.layout import METRICS_NAMESPACE, SHUFFLED_STAT, OutputPlan
from pipeline.beam.progress import report_progress
from pipeline.beam.shard_writer import ShardWriter
from pipeline.clean import clean_documents
from pipeline.config import PrepareConfig
from pipeline.corpus_profile import (
    EXAMPLES_PER_REASON, KEPT, READ, REJECTED_STAT, length_counts, rejection_example, source_record,
)
from pipeline.dedup import (
    band_keys, dropped_positions, key_prefix_parts, minhash_signatures, text_digests,
)
from pipeline.doc_ids import id_digests, repeated_ids
from pipeline.documents import CleanDocument, Document, Rejection
from pipeline.readers import InputFormat, parse_stream
from pipeline.rows import batch_stats, build_rows, split_by_chars
from pipeline.segment import create_segmenter, read_user_dict
from pipeline.tokenize import BertChineseTokenizer
from pipeline.vocab import parse_vocab

BANDS, STATS, INPUTS, SOURCES = "bands", "stats", "inputs", "sources"
REPEATED_IDS = "repeated_doc_ids"  # documents whose id an earlier one of the same file had (pipeline/doc_ids.py)


class RejectLedger:
    """The one place where a dropped document becomes a ledger line, a Beam counter and a count for
    the run summary. Lines are written as they come; with `keep_text`, the first few drops of each
    reason are also kept as excerpts for the report (`examples`), so a person can audit a filter."""

    def __init__(self, handle, keep_text: bool) -> None:
        self._handle = handle
        self._keep_text = keep_text
        self.counts: Counter = Counter()
        self.examples: dict[str, list[dict]] = {}

    def add(self, rejection: Rejection) -> None:
        Metrics.counter(METRICS_NAMESPACE, f"{REJECTED_STAT}{rejection.reason}").inc()
        self.counts[f"{REJECTED_STAT}{rejection.reason}"] += 1
        if self._keep_text:
            found = self.examples.setdefault(rejection.reason, [])
            if len(found) < EXAMPLES_PER_REASON:
                found.append(rejection_example(rejection.doc_id, rejection.source, rejection.detail, rejection.text))
        if rejection.text and not self._keep_text:
            rejection = Rejection(rejection.doc_id, rejection.source, rejection.reason, rejection.detail)
        self._handle.write((json.dumps(rejection.to_dict(), ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))


def shuffled_size(element) -> int:
    """The payload of a shuffled (key, part) element: its buffers and strings, as the run's
    `shuffled_bytes.*` counts report it (Beam's coders add a few bytes a field)."""
    _, part = element
    size = 8
    for field in part if isinstance(part, tuple) else (part,):
        if isinstance(field, (bytes, str)):
            size += len(field)
        elif isinstance(field, list):
            size += sum(len(item) if isinstance(item, str) else 4 + len(item[0]) + 8 for item in field)
        else:
            size += 8
    return size


def _batches(records: Iterable, size: int) -> Iterator[list]:
    batch = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class CleanFile(beam.DoFn):
    """Pass 1. (file index, path) in. Out: the prefixes of the file's text digests by bucket (main) and
    of its band keys (BANDS), its counts (STATS), its size and hash (INPUTS) and its record for the
    report (SOURCES)."""

    def __init__(self, config: PrepareConfig, plan: OutputPlan) -> None:
        self._config = config
        self._plan = plan

    def process(self, element: tuple[int, str]):
        index, path = element
        config, plan = self._config, self._plan
        fmt = InputFormat.detect(path) if config.input_format == "auto" else InputFormat(config.input_format)
        stats: Counter = Counter()
        digests, keys, ids = [], [], []
        near = config.dedup.near
        cleaned = spill.SpillWriter(plan.spill(index, "cleaned"), spill.CLEANED_SCHEMA)
        keyed = spill.SpillWriter(plan.spill(index, "keys"), spill.keys_schema(config.dedup.num_perm if near else None))
        position = 0
        with files.create(plan.spill(index, "rejects")) as handle, \
                files.InputStream(path, config.max_input_bytes) as stream:
            ledger = RejectLedger(handle, config.ledger_text)
            records = parse_stream(stream.chunks(), path, fmt, config.text_field)
            for batch in _batches(records, config.batch_size):
                docs, doc_positions = [], []
                for record in batch:
                    if isinstance(record, Rejection):
                        ledger.add(record)
                    else:
                        docs.append(record)
                        doc_positions.append(position)
                    position += 1
                ids.append(id_digests([doc.doc_id for doc in docs]))
                kept = self._clean(docs, doc_positions, ledger, stats)
                if kept is None:
                    continue
                kept_positions, kept_ids, kept_texts = kept
                spill.write_cleaned(cleaned, kept_positions, kept_ids, kept_texts)
                digests.append(text_digests(kept_texts))
                signatures = minhash_signatures(kept_texts, config.dedup) if near else None
                spill.write_keys(keyed, kept_positions, kept_ids, digests[-1], signatures)
                if near:
                    keys.append(band_keys(signatures, config.dedup.bands))
            if stream.broken:
                position += 1  # the record cut off by the break counts as read, and is ledgered
                ledger.add(Rejection(f"{path}#truncated", path, stream.break_reason, stream.broken))
        cleaned.close()
        keyed.close()
        stats.update(ledger.counts)
        stats["records_read"] += position
        stats["input_bytes"] += stream.decoded_size
        stats[REPEATED_IDS] += repeated_ids(ids)
        report_progress("clean", position, stream.decoded_size)
        if digests:
            for part in key_prefix_parts(np.concatenate(digests)[:, 0], plan.dedup_buckets):
                stats[f"{SHUFFLED_STAT}digests"] += shuffled_size(part)
                yield part
        if keys:
            for part in key_prefix_parts(np.concatenate(keys), plan.dedup_buckets):
                stats[f"{SHUFFLED_STAT}band_keys"] += shuffled_size(part)
                yield beam.pvalue.TaggedOutput(BANDS, part)
        yield beam.pvalue.TaggedOutput(STATS, stats)
        yield beam.pvalue.TaggedOutput(INPUTS, {"path": path, "size": stream.stored_size, "sha256": stream.sha256})
        yield beam.pvalue.TaggedOutput(SOURCES, source_record(index, path, 1, stats, config.sop.max_seq_len,
                                                              ledger.examples))

    def _clean(self, docs: list[Document], doc_positions: list[int], ledger: RejectLedger, stats: Counter):
        """The batch's survivors as (positions, doc_ids, texts), or None; each drop to the ledger."""
        stats.update(length_counts(READ, (len(doc.text) for doc in docs)))  # every document parsed
        results = clean_documents([(doc.title, doc.text) for doc in docs], self._config.clean)
        kept_positions, kept_ids, kept_texts = [], [], []
        for doc, position, (text, reason) in zip(docs, doc_positions, results):
            if reason:
                ledger.add(Rejection(doc.doc_id, doc.source, reason, text=doc.text))
            else:
                kept_positions.append(position)
                kept_ids.append(doc.doc_id)
                kept_texts.append(text)
        if not kept_ids:
            return None
        return np.array(kept_positions, dtype=np.uint32), kept_ids, kept_texts


class WorkerTools:
    """Segmenter, entity matcher and tokenizer of one worker process, built once and shared by its
    DoFn instances (weak-referenceable, as `Shared` requires)."""

    def __init__(self, config: PrepareConfig, plan: OutputPlan) -> None:
        vocab = parse_vocab(files.read_text(plan.vocab_file), plan.vocab_file)
        lexicon = Lexicon.from_bytes(files.read_bytes(plan.lexicon_file))
        self.special = vocab.special_tokens
        self.entity_types = lexicon.types
        self.annotator = BatchAnnotator(
            segmenter=create_segmenter(
                config.segmenter, config.hmm, user_words=sorted(lexicon.entries),
                user_dict=read_user_dict(files.local_copy(config.user_dict)) if config.user_dict else (),
            ),
            matcher=EntityMatcher(lexicon),
            tokenizer=BertChineseTokenizer(vocab, config.lowercase),
        )


class BuildShards(beam.DoFn):
    """Pass 2. (file index, path) in, with the corpus's duplicates as a side input keyed by file. The
    file's cleaned documents become rows in its own shards and its drops lines in its own ledger file;
    out: the shards' `ShardInfo`s (main), the file's counts (STATS) and its record for the report
    (SOURCES)."""

    def __init__(self, config: PrepareConfig, plan: OutputPlan) -> None:
        self._config = config
        self._plan = plan
        self._shared = Shared()

    def setup(self) -> None:
        self._tools = self._shared.acquire(lambda: WorkerTools(self._config, self._plan))

    def process(self, element: tuple[int, str], duplicates):
        index, path = element
        config, plan = self._config, self._plan
        dropped = dropped_positions(duplicates[index])
        stats: Counter = Counter()
        writer = ShardWriter(plan, index, config.shard_rows, pack_to=config.sop.max_seq_len if config.pack else None,
                             unk_id=self._tools.special.unk)
        with files.create(plan.staged(plan.ledger_name(index))) as handle:
            handle.write(files.read_bytes(plan.spill(index, "rejects")))  # pass 1's drops come first
            ledger = RejectLedger(handle, config.ledger_text)
            for batch in spill.read_batches(plan.spill(index, "cleaned")):
                docs = []
                for position, doc_id, text in zip(batch.column(spill.POSITION).to_pylist(),
                                                  batch.column(spill.DOC_ID).to_pylist(),
                                                  batch.column(spill.TEXT).to_pylist()):
                    verdict = dropped.get(position)
                    if verdict is None:
                        docs.append(CleanDocument(doc_id, path, text))
                    else:
                        ledger.add(Rejection(doc_id, path, verdict[0], verdict[1], text))
                stats.update(length_counts(KEPT, (len(doc.text) for doc in docs)))  # kept by cleaning and dedup
                for part in split_by_chars(docs):
                    stats.update(self._rows(part, writer, ledger))
                report_progress("shards", len(batch), int(pc.sum(pc.binary_length(batch.column(spill.TEXT))).as_py()
                                                          or 0))
        stats.update(ledger.counts)
        shards = writer.close()
        stats.update(writer.stats)
        stats["documents_kept"] += writer.documents
        yield beam.pvalue.TaggedOutput(STATS, stats)
        yield beam.pvalue.TaggedOutput(SOURCES, source_record(index, path, 2, stats, config.sop.max_seq_len,
                                                              ledger.examples))
        yield from shards

    def _rows(self, docs: list[CleanDocument], writer: ShardWriter, ledger: RejectLedger) -> Counter:
        tools = self._tools
        rows = build_rows(docs, tools.annotator, self._config.sop, tools.special, self._config.seed)
        characters = 0
        for doc, sentences in zip(docs, rows.sentences.tolist()):
            if sentences:
                characters += len(doc.text)
            else:
                ledger.add(Rejection(doc.doc_id, doc.source, "no_tokens", text=doc.text))
        writer.add(rows.batch, documents=int(np.count_nonzero(rows.sentences)))
        stats = batch_stats(rows, tools.entity_types)
        stats["kept_characters"] += characters
        return stats
