"""Throughput of `prepare`, stage by stage and end to end, beside the reference stack, in one run.

    python -m bench.throughput --input '../shared/data/wudao-sample/*.json' [--vocab PATH]

Every figure is input megabytes (UTF-8 bytes of the raw files) per second. Each measurement runs in a
fresh child process, so its peak RSS is its own and one measurement's caches never warm another's:
- stages: one in-process pass with a timer around each stage (the pipeline's own functions, wrapped,
  not re-implemented); "annotate glue" is what `BatchAnnotator.annotate` spends outside the stages.
- in-process: the stage functions end to end without Beam (read, parse, clean, exact dedup, rows,
  Parquet); setup and a warm-up batch (imports, lazily built tables, the garbage collector's first
  full pass over them) are excluded and reported apart.
  Like the reference stack's, the run with the least CPU of `--repeat`, every run's CPU in its note:
  other tenants of a shared machine only ever add to a CPU time (the reason `timeit` takes the least).
- DirectRunner: `run_prepare` through runners/local.py, 1 and 2 workers; CPU seconds of the driver and
  its worker processes, setup included. A second run on a 2-record input measures the fixed cost
  (worker start, lexicon, segmenter and tokenizer loading, Beam's graph and bundles), and the line
  below subtracts it: on a few MB the fixed cost dominates, on a real corpus it vanishes. Each of
  these is the run with the least CPU of `--repeat` (2): the net is a difference of two runs, and
  a busy machine adds to either. The DirectRunner does near-dedup (MinHash) and the report on top
  of the in-process work.
- reference: the same read, parse and clean, then bench/reference_stack.py (regex sentences, jieba,
  transformers' BertTokenizer, a plain Python SOP builder, `pa.Table.from_pylist`).
"MB/s/core" divides by CPU seconds (all processes of the measurement), so other users of a shared
machine do not count against us; wall figures are in the notes. The machine's load
average is printed with each figure: on a shared machine, wall figures are only as good as the quiet.
"""
from __future__ import annotations

import argparse
import gc
import glob
import hashlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_INPUT = str(REPO.parent / "shared" / "data" / "wudao-sample" / "*.json")
DEFAULT_VOCAB = REPO.parent / "shared" / "data" / "vocab" / "bert-base-chinese-vocab.txt"


def _files(patterns: list[str]) -> list[str]:
    files = sorted({path for pattern in patterns for path in glob.glob(pattern)})
    if not files:
        sys.exit(f"no input matches {patterns}")
    return files


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Clock:
    """Wall and CPU seconds per named stage."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - wall
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - cpu

    def wrap(self, name: str, function):
        def timed(*args, **kwargs):
            with self.stage(name):
                return function(*args, **kwargs)
        return timed


class _Timed:
    """Stands in for a tool with some methods timed under one stage name; the rest goes to the tool."""

    def __init__(self, tool, clock: _Clock, name: str, methods: tuple[str, ...]) -> None:
        self._tool = tool
        for method in methods:
            if hasattr(tool, method):
                setattr(self, method, clock.wrap(name, getattr(tool, method)))

    def __getattr__(self, name: str):
        return getattr(self._tool, name)


# ---------------------------------------------------------------- children (one measurement each)

def _lexicon_and_segmenter(name: str | None):
    """As the pipeline's workers build them (pipeline/beam/stages.py `WorkerTools`): the default lexicon,
    and a segmenter that keeps its entries whole."""
    from knowledge.lexicon import load_lexicons
    from pipeline.clean import normalize_text
    from pipeline.config import PrepareConfig
    from pipeline.segment import create_segmenter

    config = PrepareConfig()
    lexicon = load_lexicons([], lambda text: normalize_text(text, config.clean.to_simplified))
    segmenter = create_segmenter(name or config.segmenter, config.hmm, user_words=sorted(lexicon.entries))
    return config, lexicon, segmenter


def _tools(args):
    from knowledge.matcher import EntityMatcher
    from pipeline.annotate import BatchAnnotator
    from pipeline.tokenize import BertChineseTokenizer
    from pipeline.vocab import load_vocab

    config, lexicon, segmenter = _lexicon_and_segmenter(args.segmenter)
    vocab = load_vocab(args.vocab)
    matcher = EntityMatcher(lexicon)
    annotator = BatchAnnotator(segmenter, matcher, BertChineseTokenizer(vocab, config.lowercase))
    _warm_up(args, config, vocab, annotator)
    # The first full collection after setup walks all that setup and the warm-up built (the tools,
    # Beam's modules: ~0.07 CPU s), once per worker: a start-up cost, paid here with the others.
    gc.collect()
    return config, vocab, annotator


def _warm_up(args, config, vocab, annotator) -> None:
    """Imports and lazily built tables (cleaning's, Arrow's) cost a worker once, like the setup: one
    small batch through every stage moves them out of the measured run."""
    from pipeline.rows import build_rows

    first = next(_documents(args.files[:1], config, _Clock()), [])[:8]
    _write_rows([build_rows(first, annotator, config.sop, vocab.special_tokens, config.seed).batch], _Clock())


def _documents(files: list[str], config, clock: _Clock):
    """Batches of cleaned, exactly deduplicated documents, streamed file by file."""
    from pipeline.beam import files as beam_files
    from pipeline.clean import clean_documents
    from pipeline.documents import Document
    from pipeline.documents import CleanDocument
    from pipeline.readers import InputFormat, parse_file

    seen: set[bytes] = set()
    for path in files:
        with clock.stage("read+parse"):
            data = beam_files.read_input(path).data
            docs = [d for d in parse_file(data, path, InputFormat.detect(path)) if isinstance(d, Document)]
        for first in range(0, len(docs), config.batch_size):
            batch = docs[first : first + config.batch_size]
            with clock.stage("clean+dedup"):
                kept = []
                for doc, (text, reason) in zip(batch, clean_documents([(d.title, d.text) for d in batch], config.clean)):
                    digest = hashlib.sha1(text.encode("utf-8")).digest()
                    if not reason and digest not in seen:
                        seen.add(digest)
                        kept.append(CleanDocument(doc.doc_id, doc.source, text))
            if kept:
                yield kept


def _write_rows(batches, clock: _Clock, pack_to: int = 512) -> int:
    """Parquet as `ShardWriter` writes it (its options, row groups of its size), streamed: each batch's
    examples packed into rows of `pack_to` tokens, a row group written once enough rows have come, so
    memory holds one row group, not the corpus. Returns the examples written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.packing import pack_examples
    from schemas.shard import PARQUET_WRITE_OPTIONS, SHARD_SCHEMA

    options = dict(PARQUET_WRITE_OPTIONS)
    group = options.pop("row_group_size")
    rows, pending, pending_rows = 0, [], 0
    sink = io.BytesIO()
    with pq.ParquetWriter(sink, SHARD_SCHEMA, **options) as writer:
        for examples in batches:
            rows += examples.num_rows
            with clock.stage("write"):
                batch = pack_examples(pa.Table.from_batches([examples]), pack_to).combine_chunks().to_batches()[0]
            pending.append(batch)
            pending_rows += batch.num_rows
            if pending_rows >= group:
                with clock.stage("write"):
                    table = pa.Table.from_batches(pending)
                    writer.write_table(table.slice(0, pending_rows - pending_rows % group), row_group_size=group)
                    pending = table.slice(pending_rows - pending_rows % group).to_batches()
                    pending_rows %= group
        with clock.stage("write"):
            if pending_rows:
                writer.write_table(pa.Table.from_batches(pending, SHARD_SCHEMA), row_group_size=group)
    return rows


def child_stages(args) -> dict:
    import pipeline.annotate as annotate_module
    from pipeline.rows import build_rows

    clock = _Clock()
    with clock.stage("setup"):
        config, vocab, annotator = _tools(args)
    annotator.segmenter = _Timed(annotator.segmenter, clock, "segment", ("cut", "cut_lengths", "cut_many"))
    annotator.matcher = _Timed(annotator.matcher, clock, "entities", ("find",))
    annotator.tokenizer = _Timed(annotator.tokenizer, clock, "tokenize", ("encode",))
    annotate_module.sentence_spans = clock.wrap("sentences", annotate_module.sentence_spans)
    annotator.annotate = clock.wrap("annotate", annotator.annotate)

    def batches():
        for docs in _documents(args.files, config, clock):
            with clock.stage("rows"):
                rows = build_rows(docs, annotator, config.sop, vocab.special_tokens, config.seed)
            yield rows.batch

    rows = _write_rows(batches(), clock)
    parts = ("sentences", "segment", "entities", "tokenize")
    for times in (clock.wall, clock.cpu):
        times["annotate glue"] = times.pop("annotate") - sum(times.get(p, 0.0) for p in parts)
        times["SOP+Arrow"] = times.pop("rows") - times["annotate glue"] - sum(times.get(p, 0.0) for p in parts)
    return {"wall": clock.wall, "cpu": clock.cpu, "rows": rows, "rss_mb": _peak_rss_mb(),
            "segmenter": args.segmenter or config.segmenter}


def child_segmenter(args) -> dict:
    """One backend alone over every sentence: the figure to compare the stages against."""
    from pipeline.sentences import split_sentences

    config, _, segmenter = _lexicon_and_segmenter(args.segmenter)
    clock = _Clock()
    sentences = [s for docs in _documents(args.files, config, clock) for d in docs for s in split_sentences(d.text)]
    with clock.stage("segment"):
        for sentence in sentences:
            segmenter.cut(sentence)
    return {"wall": clock.wall["segment"], "cpu": clock.cpu["segment"], "rss_mb": _peak_rss_mb()}


def child_inprocess(args) -> dict:
    from pipeline.rows import build_rows

    clock = _Clock()
    with clock.stage("setup"):
        config, vocab, annotator = _tools(args)
    with clock.stage("run"):
        rows = _write_rows(
            (build_rows(docs, annotator, config.sop, vocab.special_tokens, config.seed).batch
             for docs in _documents(args.files, config, _Clock())),
            _Clock(),
        )
    return {"wall": clock.wall["run"], "cpu": clock.cpu["run"], "setup": clock.wall["setup"], "rows": rows,
            "rss_mb": _peak_rss_mb(), "segmenter": args.segmenter or config.segmenter}


def child_reference(args) -> dict:
    from bench.reference_stack import ReferenceStack
    from pipeline.rows import build_rows

    clock = _Clock()
    with clock.stage("setup"):
        config, vocab, annotator = _tools(args)
        _, _, jieba_reference = _lexicon_and_segmenter("jieba-reference")
        reference = ReferenceStack(str(args.vocab), jieba_reference, annotator.matcher, config.sop, config.seed)
        gc.collect()  # as `_tools` does for ours
    with clock.stage("run"):
        tables = [reference.table([(d.doc_id, d.text) for d in docs])
                  for docs in _documents(args.files, config, _Clock())]
        rows = _write_rows((b for t in tables for b in t.to_batches()), _Clock())
    wall, cpu, rss = clock.wall["run"], clock.cpu["run"], _peak_rss_mb()
    ours = [build_rows(docs, annotator, config.sop, vocab.special_tokens, config.seed).batch.to_pylist()
            for docs in _documents(args.files, config, _Clock())]
    theirs = [t.to_pylist() for t in tables]
    pairs = [(a, b) for x, y in zip(ours, theirs) for a, b in zip(x, y)]
    same = sum(a == b for a, b in pairs)
    return {"wall": wall, "cpu": cpu, "rows": rows, "rss_mb": rss, "same_rows": same,
            "our_rows": sum(map(len, ours))}


def tiny_inputs(files: list[str], directory: str) -> list[str]:
    """The first two records of each input, as WuDao JSON: a run that is all fixed cost."""
    paths = []
    for index, path in enumerate(files):
        records = json.loads(Path(path).read_text(encoding="utf-8"))[:2]
        paths.append(os.path.join(directory, f"tiny-{index}.json"))
        Path(paths[-1]).write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return paths


def child_direct(args) -> dict:
    import psutil

    from pipeline.config import PrepareConfig
    from pipeline.beam.prepare import PrepareRequest, run_prepare
    from runners.local import local_options

    me = psutil.Process()
    peaks: dict[int, float] = {}
    cpu: dict[int, float] = {}
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for child in me.children(recursive=True):
                try:
                    peaks[child.pid] = max(peaks.get(child.pid, 0.0), child.memory_info().rss / 2**20)
                    times = child.cpu_times()
                    cpu[child.pid] = times.user + times.system
                except psutil.Error:
                    pass
            done.wait(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with tempfile.TemporaryDirectory() as output:
        files = tiny_inputs(args.files, output) if args.tiny else args.files
        wall, own_cpu = time.perf_counter(), time.process_time()
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        request = PrepareRequest(files, os.path.join(output, "out"), PrepareConfig(), vocab_path=str(args.vocab))
        summary = run_prepare(request, local_options(args.workers))
        wall, own_cpu = time.perf_counter() - wall, time.process_time() - own_cpu
    done.set()
    watcher.join()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    reaped_cpu = children.ru_utime + children.ru_stime - reaped.ru_utime - reaped.ru_stime
    return {"wall": wall, "cpu": own_cpu + max(sum(cpu.values()), reaped_cpu), "rows": summary["rows"],
            "rss_mb": _peak_rss_mb(), "worker_rss_mb": max(peaks.values(), default=0.0),
            "workers": args.workers}


CHILDREN = {"stages": child_stages, "segmenter": child_segmenter, "inprocess": child_inprocess,
            "reference": child_reference, "direct": child_direct}


# ---------------------------------------------------------------- parent: run children, print the table

def _run_child(kind: str, args, **extra) -> dict:
    command = [sys.executable, "-m", "bench.throughput", "--child", kind, "--vocab", str(args.vocab)]
    command += [item for path in args.files for item in ("--input", path)]
    for key, value in extra.items():
        command += [f"--{key}", str(value)]
    load = os.getloadavg()[0]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"{kind} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["load"] = (load + os.getloadavg()[0]) / 2
    return result


def _least_cpu(kind: str, args, **extra) -> dict:
    """The run with the least CPU of `args.repeat`: a busy machine inflates a run by a tenth (in-process)
    to a second or more (DirectRunner, where a net figure is the difference of two runs)."""
    runs = [_run_child(kind, args, **extra) for _ in range(max(1, args.repeat))]
    return min(runs, key=lambda r: r["cpu"]) | {"cpu_runs": ", ".join(f"{r['cpu']:.2f}" for r in runs)}


def _available_backends() -> list[str]:
    from pipeline.segment import create_segmenter
    from schemas.errors import UserInputError

    names = []
    for name in ("jieba", "jieba-reference"):
        try:
            create_segmenter(name)
        except UserInputError:
            continue
        names.append(name)
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", action="append", default=None, metavar="GLOB")
    parser.add_argument("--vocab", type=Path, default=DEFAULT_VOCAB)
    parser.add_argument("--workers", default="1,2", help="DirectRunner worker counts to measure")
    parser.add_argument("--skip", default="", help="comma list of: direct, reference")
    parser.add_argument("--repeat", type=int, default=2,
                        help="runs per end-to-end figure; the least CPU counts (a shared machine only adds)")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--segmenter", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--tiny", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.files = _files(args.input or [DEFAULT_INPUT])
    if args.child:
        args.workers = int(args.workers.split(",")[0])
        print(json.dumps(CHILDREN[args.child](args)))
        return 0

    megabytes = sum(os.path.getsize(f) for f in args.files) / 1e6
    skip = set(filter(None, args.skip.split(",")))
    print(f"input: {len(args.files)} files, {megabytes:.2f} MB; cores: {os.cpu_count()}; "
          f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    lines: list[tuple[str, float, float, float, str]] = []  # label, seconds, MB/s/core, load, note

    stages = _run_child("stages", args)
    for name in ("read+parse", "clean+dedup", "sentences", "segment", "entities", "tokenize",
                 "annotate glue", "SOP+Arrow", "write"):
        cpu = stages["cpu"].get(name, 0.0)
        note = f"backend {stages['segmenter']}" if name == "segment" else ""
        lines.append((f"stage: {name}", cpu, megabytes / cpu if cpu else float("inf"), stages["load"], note))
    for backend in _available_backends():
        if backend != stages["segmenter"]:
            seg = _run_child("segmenter", args, segmenter=backend)
            lines.append((f"stage: segment ({backend} alone)", seg["cpu"], megabytes / seg["cpu"], seg["load"], ""))

    inprocess = _least_cpu("inprocess", args)
    ours = megabytes / inprocess["cpu"]
    lines.append(("end to end, in-process", inprocess["cpu"], ours, inprocess["load"],
                  (f"setup {inprocess['setup']:.1f} s apart; {inprocess['rows']} rows; "
                   f"peak RSS {inprocess['rss_mb']:.0f} MB; wall {megabytes / inprocess['wall']:.2f} MB/s; "
                   f"runs {inprocess['cpu_runs']} CPU s")))
    direct: dict[int, dict] = {}
    if "direct" not in skip:
        for workers in [int(w) for w in args.workers.split(",")]:
            run = direct[workers] = _least_cpu("direct", args, workers=workers)
            fixed = _least_cpu("direct", args, workers=workers, tiny=1)
            run["net_cpu"] = max(run["cpu"] - fixed["cpu"], 1e-9)
            run["net_wall"] = max(run["wall"] - fixed["wall"], 1e-9)
            lines.append((f"end to end, DirectRunner, {workers} worker(s)", run["cpu"], megabytes / run["cpu"],
                          run["load"], (f"wall {run['wall']:.1f} s = {megabytes / run['wall']:.2f} MB/s total; "
                                        f"driver RSS {run['rss_mb']:.0f} MB, worker RSS {run['worker_rss_mb']:.0f} MB")))
            lines.append(("  same, less its fixed cost", run["net_cpu"], megabytes / run["net_cpu"], fixed["load"],
                          f"fixed cost from a 2-record input: {fixed['cpu']:.1f} CPU s, {fixed['wall']:.1f} s wall"))
    if "reference" not in skip:
        reference = _least_cpu("reference", args)
        theirs = megabytes / reference["cpu"]
        lines.append(("reference stack, in-process", reference["cpu"], theirs, reference["load"],
                      (f"{reference['rows']} rows, {reference['same_rows']} identical to ours; "
                       f"peak RSS {reference['rss_mb']:.0f} MB; runs {reference['cpu_runs']} CPU s")))

    print(f"\n{'measurement':<42} {'seconds':>8} {'MB/s/core':>10} {'load':>5}  note")
    for label, seconds, rate, load, note in lines:
        print(f"{label:<42} {seconds:>8.2f} {rate:>10.2f} {load:>5.2f}  {note}")
    print()
    if "reference" not in skip:
        print(f"in-process / reference: {ours / theirs:.1f}x")
    if 1 in direct and 2 in direct:
        print(f"DirectRunner 2 workers / 1 worker: {direct[1]['wall'] / direct[2]['wall']:.2f}x in wall time, "
              f"{direct[1]['net_wall'] / direct[2]['net_wall']:.2f}x less the fixed cost's wall time; CPU "
              f"efficiency of 2 workers, less fixed cost: {direct[1]['net_cpu'] / direct[2]['net_cpu']:.2f} of one. "
              "Both are differences of runs some 5 s long, indicative only on a quiet machine: "
              "`python -m bench.workers` measures the speed-up on larger inputs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
