"""The Beam edge of `prepare`: thin DoFns around the pure stages, and `PrepareCorpus` that wires them.

Elements are whole documents or batches of them, never tokens or sentences: Beam's per-element cost
would otherwise dominate. Heavy objects (segmenter, automaton, tokenizer tables) load once per worker
process through `Shared`.
"""
from __future__ import annotations

import hashlib
import io
import json
import pickle
from collections import Counter
from dataclasses import asdict, dataclass

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.typehints import Tuple
from apache_beam.utils.shared import Shared

from knowledge.lexicon import Lexicon
from knowledge.matcher import EntityMatcher
from pipeline import beam_io
from pipeline.annotate import BatchAnnotator
from pipeline.beam_coders import CleanBatch, DocumentBatch
from pipeline.clean import clean_documents
from pipeline.config import PrepareConfig
from pipeline.dedup import MIN_BUCKETS, digest_bucket, kept_of_duplicates, text_digest
from pipeline.dedup_transforms import NearDeduplicateBatches
from pipeline.documents import Document, Rejection
from pipeline.examples import CleanDocument, batch_stats, build_rows, split_by_chars
from pipeline.progress import ReportProgress
from pipeline.readers import InputFormat, parse_file
from pipeline.report import LENGTH_EDGES, REPORT_NAME, length_histogram, render_report
from pipeline.segment import create_segmenter, read_user_dict
from pipeline.tokenize import BertChineseTokenizer
from pipeline.vocab import parse_vocab
from schemas.manifest import (
    MANIFEST_NAME, SHARDS_DIR, DocumentAccounting, Manifest, ShardInfo, VocabInfo,
)
from schemas.shard import PARQUET_WRITE_OPTIONS, SHARD_SCHEMA, shard_file_name

REJECTED = "rejected"
STATS = "stats"
# Stats keys "report.length.read.03" and the like: documents per length bin before and after cleaning
# and dedup, for report.html; they ride with the other stats (one global sum), not into the manifest.
_LENGTH_STAT = "report.length"
READ, KEPT = "read", "kept"
LEDGER_DIR = "rejects"
# Shards and ledger files are written here and published by WriteManifest, so an interrupted run leaves
# nothing under shards/ that a reader could mistake for a finished set.
STAGING_DIR = ".staging"
SUMMARY_NAME = "summary.json"
LEXICON_NAME = "lexicon.pickle"
_ORDER, _ROW = "_order", "_row"
_NAMESPACE = "erlangshen"


@dataclass(frozen=True)
class OutputPlan:
    """Everything the workers need to know about where and how to write, fixed before the run."""

    output_dir: str
    num_shards: int
    vocab_file: str  # path of the vocab copy inside output_dir
    entity_types: tuple[str, ...]
    lexicon_provenance: tuple[dict[str, str], ...] = ()  # recorded in the manifest
    dedup_buckets: int = MIN_BUCKETS  # see `pipeline.dedup.bucket_count`; never changes the output

    @property
    def lexicon_file(self) -> str:
        """The driver's parsed lexicon, staged for the workers (see `stage_lexicon`)."""
        return _join(self.output_dir, f"{STAGING_DIR}/{LEXICON_NAME}")


def stage_lexicon(lexicon: Lexicon, plan: OutputPlan) -> None:
    """The driver parses the lexicon sources once (~1 s for jieba's 111k proper nouns, far more for a
    user lexicon of millions) and stages the result; each worker reads it back in milliseconds instead
    of parsing again. Pickled, like the DoFns Beam ships: the lexicon's own compact form, whatever it
    is, written by this run's driver into this run's staging area, which goes with the manifest."""
    beam_io.write_atomically(plan.lexicon_file, pickle.dumps(lexicon, protocol=pickle.HIGHEST_PROTOCOL))


def staged_lexicon(plan: OutputPlan) -> Lexicon:
    return pickle.loads(beam_io.read_bytes(plan.lexicon_file))


def document_key(doc: CleanDocument) -> int:
    """Stable 64-bit key of a document: decides its shard and its place inside the shard."""
    digest = hashlib.blake2b(f"{doc.doc_id}\0{doc.text}".encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _reject(rejection: Rejection) -> beam.pvalue.TaggedOutput:
    Metrics.counter(_NAMESPACE, f"rejected.{rejection.reason}").inc()
    return beam.pvalue.TaggedOutput(REJECTED, rejection)


def _batched(records, size: int, batch_type: type[list]):
    """Documents in lists (of `batch_type`) of `size`, each Rejection to the ledger as it comes; returns
    how many records it took. Streams: nothing is held beyond one batch."""
    count = 0
    batch = batch_type()
    for record in records:
        count += 1
        if isinstance(record, Rejection):
            yield _reject(record)
            continue
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = batch_type()
    if batch:
        yield batch
    return count


class ReadFiles(beam.DoFn):
    """A path in, its documents out in batches (lists) of `batch_size`: from here to the shards,
    an element is a batch, never a document."""

    def __init__(self, input_format: str, text_field: str, batch_size: int) -> None:
        self._format = input_format
        self._text_field = text_field
        self._batch_size = batch_size

    def process(self, path: str):
        data, broken = beam_io.read_all(path)
        fmt = InputFormat.detect(path) if self._format == "auto" else InputFormat(self._format)
        records = yield from _batched(parse_file(data, path, fmt, self._text_field), self._batch_size, DocumentBatch)
        if broken:
            records += 1  # the record cut off by the break counts as read, and is ledgered
            yield _reject(Rejection(f"{path}#truncated", path, "truncated_stream", broken))
        Metrics.counter(_NAMESPACE, "documents_read").inc(records)
        yield beam.pvalue.TaggedOutput(STATS, Counter(records_read=records, input_bytes=len(data)))


class CleanDocuments(beam.DoFn):
    """A batch in: cleaning's statistics are a few numpy passes over a whole batch."""

    def __init__(self, config: PrepareConfig) -> None:
        self._config = config.clean
        self._ledger_text = config.ledger_text
        self._report = config.report

    def process(self, docs: DocumentBatch):
        if self._report:  # its input is every document read
            yield beam.pvalue.TaggedOutput(STATS, _length_stats(READ, docs))
        results = clean_documents([(doc.title, doc.text) for doc in docs], self._config)
        kept = CleanBatch()
        for doc, (text, reason) in zip(docs, results):
            if reason:
                yield _reject(Rejection(doc.doc_id, doc.source, reason, text=doc.text if self._ledger_text else ""))
            else:
                kept.append(CleanDocument(doc.doc_id, doc.source, text))
        if kept:
            yield kept


class KeyByText(beam.DoFn):
    """A batch in, one (bucket, documents) per bucket of their text digests out. The digests do not
    travel: a part is a plain batch, which `CleanBatch`'s coder writes in one go, and the bucket's
    worker hashes its texts again (milliseconds a batch)."""

    def __init__(self, buckets: int) -> None:
        self._buckets = buckets

    def process(self, docs: CleanBatch):
        parts: dict[int, CleanBatch] = {}
        for doc in docs:
            parts.setdefault(digest_bucket(text_digest(doc.text), self._buckets), CleanBatch()).append(doc)
        yield from parts.items()


class KeepFirstOfDuplicates(beam.DoFn):
    """One document per identical cleaned text; the smallest (doc_id, source) wins, whatever the order
    the runner delivers them in. A bucket in, its survivors out in batches of `batch_size`."""

    def __init__(self, ledger_text: bool, batch_size: int) -> None:
        self._ledger_text = ledger_text
        self._batch_size = batch_size

    def process(self, element):
        _, parts = element
        yield from _batched(self._verdicts(parts), self._batch_size, CleanBatch)

    def _verdicts(self, parts):
        """Each document of the bucket, or its Rejection."""
        parts = [[(text_digest(doc.text), doc) for doc in part] for part in parts]
        kept_of = kept_of_duplicates((digest, (doc.doc_id, doc.source)) for part in parts for digest, doc in part)
        published: set[bytes] = set()
        for part in parts:
            for digest, doc in part:
                kept = kept_of.get(digest)
                if kept is not None and (kept != (doc.doc_id, doc.source) or digest in published):
                    text = doc.text if self._ledger_text else ""
                    yield Rejection(doc.doc_id, doc.source, "duplicate_exact", kept[0], text)
                    continue
                if kept is not None:
                    published.add(digest)  # an identical (doc_id, source, text) again is a duplicate
                yield doc


class _Tools:
    """Weak-referenceable holder, as `Shared` requires."""

    def __init__(self, config: PrepareConfig, plan: OutputPlan) -> None:
        vocab = parse_vocab(beam_io.read_text(plan.vocab_file), plan.vocab_file)
        lexicon = staged_lexicon(plan)
        self.special = vocab.special_tokens
        self.entity_types = lexicon.types
        self.annotator = BatchAnnotator(
            segmenter=create_segmenter(
                config.segmenter, config.hmm, user_words=sorted(lexicon.entries),
                user_dict=read_user_dict(beam_io.local_copy(config.user_dict)) if config.user_dict else (),
            ),
            matcher=EntityMatcher(lexicon),
            tokenizer=BertChineseTokenizer(vocab, config.lowercase),
        )


class BuildExamples(beam.DoFn):
    """A batch of documents in, (shard index, Arrow IPC bytes) out: one element per shard touched."""

    def __init__(self, config: PrepareConfig, plan: OutputPlan) -> None:
        self._config = config
        self._plan = plan
        self._shared = Shared()

    def setup(self) -> None:
        self._tools = self._shared.acquire(lambda: _Tools(self._config, self._plan))

    def process(self, batch: CleanBatch):
        if self._config.report:  # its input is every document kept by cleaning and dedup
            yield beam.pvalue.TaggedOutput(STATS, _length_stats(KEPT, batch))
        for docs in split_by_chars(batch):
            yield from self._process(docs)

    def _process(self, docs: list[CleanDocument]):
        tools = self._tools
        rows = build_rows(docs, tools.annotator, self._config.sop, tools.special, self._config.seed)
        for doc, sentences in zip(docs, rows.sentences.tolist()):
            if not sentences:
                text = doc.text if self._config.ledger_text else ""
                yield _reject(Rejection(doc.doc_id, doc.source, "no_tokens", text=text))
        keys = np.array([document_key(doc) for doc in docs], dtype=np.uint64)
        row_keys = keys[rows.row_doc]
        row_shards = row_keys % np.uint64(self._plan.num_shards)
        for shard in np.unique(row_shards).tolist():
            chosen = np.flatnonzero(row_shards == shard)
            batch = rows.batch if len(chosen) == rows.batch.num_rows else rows.batch.take(pa.array(chosen))
            yield shard, _to_ipc(batch, row_keys[chosen], rows.row_in_doc[chosen])
        yield beam.pvalue.TaggedOutput(STATS, batch_stats(rows, tools.entity_types))


def _to_ipc(batch: pa.RecordBatch, order: np.ndarray, row: np.ndarray) -> bytes:
    table = pa.Table.from_batches([batch]).append_column(_ORDER, pa.array(order, pa.uint64()))
    table = table.append_column(_ROW, pa.array(row.astype(np.uint32)))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


class WriteShard(beam.DoFn):
    def __init__(self, plan: OutputPlan) -> None:
        self._plan = plan

    def process(self, element):
        index, payloads = element
        tables = [pa.ipc.open_stream(p).read_all() for p in payloads if p is not None]
        if tables:
            table = pa.concat_tables(tables).sort_by([(_ORDER, "ascending"), (_ROW, "ascending")])
            documents = len(pc.unique(table.column(_ORDER)))
            table = table.drop_columns([_ORDER, _ROW]).cast(SHARD_SCHEMA)
        else:
            table, documents = SHARD_SCHEMA.empty_table(), 0
        buffer = io.BytesIO()
        pq.write_table(table, buffer, **PARQUET_WRITE_OPTIONS)
        name = f"{SHARDS_DIR}/{shard_file_name(index, self._plan.num_shards)}"
        sha = beam_io.write_atomically(_join(self._plan.output_dir, f"{STAGING_DIR}/{name}"), buffer.getvalue())
        tokens = int(pc.sum(pc.list_value_length(table.column("input_ids"))).as_py() or 0)
        yield {"shard": ShardInfo(file=name, rows=table.num_rows, tokens=tokens, sha256=sha),
               "documents": documents}


def ledger_file_name(index: int, count: int) -> str:
    return f"{LEDGER_DIR}/{shard_file_name(index, count).replace('.parquet', '.jsonl')}"


def _join(directory: str, relative: str) -> str:
    return FileSystems.join(directory, *relative.split("/"))


class WriteLedger(beam.DoFn):
    def __init__(self, plan: OutputPlan) -> None:
        self._plan = plan

    def process(self, element):
        index, rejections = element
        ordered = sorted((r for r in rejections if r is not None), key=lambda r: (r.doc_id, r.source, r.reason))
        lines = "".join(json.dumps(r.to_dict(), ensure_ascii=False, sort_keys=True) + "\n" for r in ordered)
        name = ledger_file_name(index, self._plan.num_shards)
        beam_io.write_atomically(_join(self._plan.output_dir, f"{STAGING_DIR}/{name}"), lines.encode("utf-8"))
        yield Counter(r.reason for r in ordered)


def _summed(counters) -> dict[str, int]:
    total: Counter = Counter()
    for counter in counters:
        total.update(counter)
    return {key: int(value) for key, value in sorted(total.items())}


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
        return _summed([accumulator])


def _length_stats(kind: str, docs) -> Counter:
    histogram = length_histogram(len(doc.text) for doc in docs)
    return Counter({f"{_LENGTH_STAT}.{kind}.{index:02d}": count for index, count in enumerate(histogram) if count})


class WriteManifest(beam.DoFn):
    """Runs once, after every shard and ledger file exists: writes report.html (when asked), then the
    manifest, which is the completion marker. One step for both: they read the same aggregates, and
    each step of its own is a fixed cost on every worker."""

    def __init__(self, config: PrepareConfig, plan: OutputPlan, vocab: VocabInfo, special) -> None:
        self._config, self._plan, self._vocab, self._special = config, plan, vocab, special

    def process(self, _, shards, stats, rejected, clusters):
        """`stats`: the one sum of the stats, `rejected`: one count by reason per ledger file (a list,
        not a combine: a combine is three more ParDos and two stages, each a fixed cost on every
        worker), `clusters`: the one {cluster size: clusters} dict, none without near duplicates."""
        stats, rejected = (stats[0] if stats else {}), _summed(rejected)
        if self._config.report:
            self._write_report(rejected, stats, clusters[0] if clusters else {})
        shard_infos = sorted((s["shard"] for s in shards), key=lambda s: s.file)
        kept = sum(s["documents"] for s in shards)
        documents = DocumentAccounting(read=stats.get("records_read", 0), kept=kept, rejected=rejected)
        manifest = Manifest(
            vocab=self._vocab,
            special_tokens=self._special,
            max_seq_len=self._config.sop.max_seq_len,
            seed=self._config.seed,
            config=self._config.to_dict(),
            entity_types=list(self._plan.entity_types),
            shards=shard_infos,
            documents=documents,
            stats={k: v for k, v in stats.items() if k != "records_read" and not k.startswith(_LENGTH_STAT)},
            lexicons=[dict(entry) for entry in self._plan.lexicon_provenance],
        )
        summary = {
            "documents": asdict(documents),
            "rows": manifest.total_rows,
            "tokens": manifest.total_tokens,
            "shards": len(shard_infos),
            "stats": manifest.stats,
        }
        root = self._plan.output_dir
        published = [s.file for s in shard_infos]
        published += [ledger_file_name(i, self._plan.num_shards) for i in range(self._plan.num_shards)]
        beam_io.move_files([(_join(root, f"{STAGING_DIR}/{f}"), _join(root, f)) for f in published])
        FileSystems.delete([_join(root, STAGING_DIR)])
        beam_io.write_atomically(_join(root, SUMMARY_NAME), _dumps(summary).encode("utf-8"))
        beam_io.write_atomically(_join(root, MANIFEST_NAME), manifest.to_json().encode("utf-8"))
        yield manifest.to_json()

    def _write_report(self, rejected: dict[str, int], stats: dict[str, int], clusters: dict[int, int]) -> None:
        before, after = ([stats.get(f"{_LENGTH_STAT}.{kind}.{index:02d}", 0) for index in range(len(LENGTH_EDGES))]
                         for kind in (READ, KEPT))
        documents = {"read": sum(before), "kept": sum(after), "rejected": sum(rejected.values())}
        page = render_report(documents, rejected, before, after, clusters)
        beam_io.write_atomically(_join(self._plan.output_dir, REPORT_NAME), page.encode("utf-8"))


def _dumps(data) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


class PrepareCorpus(beam.PTransform):
    """Files in, shards + ledger + manifest out; `expand` reads like the data flow in DESIGN.md."""

    def __init__(self, files: list[str], config: PrepareConfig, plan: OutputPlan, vocab: VocabInfo, special):
        super().__init__()
        self._files, self._config, self._plan = files, config, plan
        self._vocab, self._special = vocab, special

    def expand(self, pbegin):
        config, plan = self._config, self._plan
        read = (
            pbegin
            | "list_files" >> beam.Create(self._files)
            | "read_and_parse" >> beam.ParDo(
                ReadFiles(config.input_format, config.text_field, config.batch_size)).with_output_types(
                DocumentBatch).with_outputs(
                REJECTED, STATS, main="documents")
        )
        cleaned = read.documents | "clean" >> beam.ParDo(CleanDocuments(config)).with_output_types(
            CleanBatch).with_outputs(REJECTED, STATS, main="kept")
        unique = (
            cleaned.kept
            | "key_by_text" >> beam.ParDo(KeyByText(plan.dedup_buckets)).with_output_types(Tuple[int, CleanBatch])
            | "group_identical" >> beam.GroupByKey()
            | "dedup_exact" >> beam.ParDo(KeepFirstOfDuplicates(config.ledger_text, config.batch_size))
            .with_output_types(CleanBatch).with_outputs(REJECTED, main="kept")
        )
        near = unique.kept | "dedup_near" >> NearDeduplicateBatches(config.dedup, config.ledger_text, plan.dedup_buckets)
        batches = near["kept"]
        _ = read[STATS] | "progress_read" >> beam.ParDo(ReportProgress("read", _file_progress))
        _ = batches | "progress_segment" >> beam.ParDo(ReportProgress("segment", _batch_progress))
        built = batches | "build_examples" >> beam.ParDo(BuildExamples(config, plan)).with_outputs(
            REJECTED, STATS, main="rows")
        # One placeholder per shard index, so every shard and ledger file is written, even empty; the
        # first also starts the manifest. reshuffle=False: a handful of elements need no stage of their
        # own to spread them.
        placeholders = pbegin | "every_shard" >> beam.Create(
            [(i, None) for i in range(plan.num_shards)], reshuffle=False)
        shards = (
            (built.rows, placeholders)
            | "merge_shard_rows" >> beam.Flatten()
            | "group_by_shard" >> beam.GroupByKey()
            | "write_shards" >> beam.ParDo(WriteShard(plan))
        )
        rejected = (
            (read[REJECTED], cleaned[REJECTED], unique[REJECTED], near[REJECTED], built[REJECTED])
            | "all_rejections" >> beam.Flatten()
            | "key_rejection" >> beam.Map(lambda r: (_bucket(r, plan.num_shards), r))
        )
        ledger_counts = (
            (rejected, placeholders)
            | "merge_ledger" >> beam.Flatten()
            | "group_ledger" >> beam.GroupByKey()
            | "write_ledger" >> beam.ParDo(WriteLedger(plan))
        )
        stats = (
            (read[STATS], cleaned[STATS], built[STATS])
            | "all_stats" >> beam.Flatten()
            # a combine, not a list: there is a counter per batch. No default value for an empty input
            # (there is none when no file matched): it would take three more ParDos and a stage.
            | "sum_stats" >> beam.CombineGlobally(SumCounters()).without_defaults()
        )
        return (
            placeholders
            | "manifest_trigger" >> beam.Filter(lambda placeholder: placeholder[0] == 0)
            | "write_manifest" >> beam.ParDo(
                WriteManifest(config, plan, self._vocab, self._special),
                shards=beam.pvalue.AsList(shards),
                stats=beam.pvalue.AsList(stats),
                rejected=beam.pvalue.AsList(ledger_counts),
                clusters=beam.pvalue.AsList(near["cluster_sizes"]),
            )
        )


def _file_progress(stats: Counter) -> tuple[int, int]:
    return stats["records_read"], stats["input_bytes"]


def _batch_progress(docs: list[CleanDocument]) -> tuple[int, int]:
    return len(docs), sum(len(doc.text.encode("utf-8")) for doc in docs)


def _bucket(rejection: Rejection, buckets: int) -> int:
    digest = hashlib.blake2b(rejection.doc_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") % buckets
