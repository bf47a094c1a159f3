"""Padding share of random micro-batches, packed rows (layout 3.0) against one example per row.

    python -m bench.padding --input '../shared/data/wudao-sample/*.json' --work /tmp/padding [--repeat 2]
    python -m bench.padding --input '../shared/data/wudao-sample/*.json' --work /tmp/padding --writer-cost

For each corpus, `prepare` runs twice through the CLI, packed (the default) and with `--no-pack`, and
the shards of each are read back. The trainer pads a micro-batch to its longest row, and a loader that
rounds to a multiple of 8 (tensor cores) pays up to that: the padding share is 1 - E[real tokens] /
E[B x longest rounded up to 8] over micro-batches of B rows drawn at random (with replacement, as
rows mixed across shards nearly are). It is computed exactly from the row-length distribution,
P(rounded longest <= m) = F(m)**B, with no sampling, so it is the same on every run.

Two corpora: the WuDao sample as it is (`--input`), and a short-document corpus built from the same
texts, cut at sentence ends into documents of 50 to 200 characters (news blurbs, reviews, app
descriptions), where one example per row is shortest and packing matters most. `prepare`'s CPU time
(the child's user + system seconds, the least of `--repeat` runs, alternating packed and unpacked so a
busy machine weighs on both alike) is reported with each, and its wall time in the note.
`--writer-cost` times the packing step alone: ShardWriter in-process over the same examples.
Figures and the date they were taken live in bench/README.md; this file only measures.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

BATCH_ROWS = (16, 64)
ROUND_TO = 8
SHORT_CHARS = (50, 200)
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;\n])")


def padding_share(lengths: np.ndarray, rows_per_batch: int, round_to: int = ROUND_TO) -> float:
    """1 - E[real tokens] / E[padded tokens] for `rows_per_batch` rows drawn at random, padded to the
    longest rounded up to `round_to`."""
    if not len(lengths):
        return 0.0
    padded = -(-lengths // round_to) * round_to
    values, counts = np.unique(padded, return_counts=True)
    below = np.cumsum(counts) / len(lengths)  # F(m) at each padded length m
    p_max = below**rows_per_batch - np.concatenate(([0.0], below[:-1] ** rows_per_batch))
    return 1.0 - float(lengths.mean()) / float((values * p_max).sum())


def shard_rows(output: Path) -> tuple[np.ndarray, int]:
    """Every row's length and the number of examples in the output's shards."""
    lengths, examples = [], 0
    for path in sorted((output / "shards").glob("*.parquet")):
        table = pq.read_table(path, columns=["input_ids", "example_len"])
        lengths.append(pc.list_value_length(table.column("input_ids")).to_numpy())
        examples += len(pc.list_flatten(table.column("example_len")))
    return np.concatenate(lengths).astype(np.int64), examples


def build_short_corpus(pattern: str, out_dir: Path, seed: int = 0) -> str:
    """The texts of `pattern`'s WuDao files cut at sentence ends into documents of 50-200 characters."""
    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(glob.glob(pattern)):
        records = json.loads(Path(path).read_text(encoding="utf-8"))
        docs = []
        for record in records:
            text = record.get("content") if isinstance(record, dict) else None
            if not isinstance(text, str):
                continue
            target, piece = int(rng.integers(*SHORT_CHARS)), ""
            for sentence in _SENTENCE_END.split(text):
                piece += sentence
                if len(piece) >= target:
                    docs.append(piece.strip())
                    target, piece = int(rng.integers(*SHORT_CHARS)), ""
            if len(piece.strip()) >= SHORT_CHARS[0]:
                docs.append(piece.strip())
        stem = Path(path).stem
        short = [{"uniqueKey": f"{stem}-{i}", "title": "", "content": doc} for i, doc in enumerate(docs)]
        (out_dir / f"{stem}.json").write_text(json.dumps(short, ensure_ascii=False), encoding="utf-8")
    return str(out_dir / "*.json")


def run_prepare(pattern: str, output: Path, pack: bool) -> tuple[float, float]:
    """`erlangshen-data prepare` in a child process: (CPU seconds, wall seconds)."""
    shutil.rmtree(output, ignore_errors=True)
    command = [sys.executable, "-c", "import sys; from erlangshen_data.cli import main; sys.exit(main())",
               "prepare", "--input", pattern, "--output", str(output), "--workers", "1"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command + ([] if pack else ["--no-pack"]), check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, wall


def measure(name: str, pattern: str, work: Path, repeat: int) -> list[str]:
    """The table lines of one corpus, unpacked then packed."""
    runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for _ in range(repeat):
        for pack in (False, True):
            runs[pack].append(run_prepare(pattern, work / f"{name}-{'packed' if pack else 'unpacked'}", pack))
    lines = []
    for pack in (False, True):
        lengths, examples = shard_rows(work / f"{name}-{'packed' if pack else 'unpacked'}")
        cpu, wall = min(runs[pack])
        shares = " | ".join(f"{padding_share(lengths, b):.1%}" for b in BATCH_ROWS)
        lines.append(f"| {name} | {'packed' if pack else '--no-pack'} | {len(lengths):,} | {examples:,} | "
                     f"{lengths.mean():.0f} | {shares} | {cpu:.1f} s ({wall:.1f} s wall) |")
    return lines


def writer_cost(pattern: str, repeat: int = 3) -> list[str]:
    """CPU seconds of `ShardWriter` alone over the corpus's examples (built once, in 256-document
    batches as prepare's), packed and one example a row: the least of `repeat` runs each."""
    import tempfile

    from knowledge.lexicon import load_lexicons
    from knowledge.matcher import EntityMatcher
    from pipeline.annotate import BatchAnnotator
    from pipeline.beam.layout import OutputPlan
    from pipeline.beam.shard_writer import ShardWriter
    from pipeline.config import SopConfig
    from pipeline.rows import CleanDocument, build_rows
    from pipeline.segment import create_segmenter
    from pipeline.tokenize import BertChineseTokenizer
    from pipeline.vocab import load_vocab

    vocab = load_vocab(Path(__file__).resolve().parents[2] / "shared/data/vocab/bert-base-chinese-vocab.txt")
    annotator = BatchAnnotator(create_segmenter("jieba"), EntityMatcher(load_lexicons([])),
                               BertChineseTokenizer(vocab))
    batches = []
    for path in sorted(glob.glob(pattern)):
        records = json.loads(Path(path).read_text(encoding="utf-8"))
        docs = [CleanDocument(r["uniqueKey"], path, r["content"]) for r in records
                if isinstance(r, dict) and isinstance(r.get("content"), str) and r["content"].strip()]
        for start in range(0, len(docs), 256):
            batches.append(build_rows(docs[start:start + 256], annotator, SopConfig(), vocab.special_tokens, 1).batch)
    lines = []
    for pack_to in (None, SopConfig().max_seq_len):
        best, rows = float("inf"), 0
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as tmp:
                writer = ShardWriter(OutputPlan(output_dir=tmp, run_id="bench", entity_types=()), 0, 2**18,
                                     pack_to=pack_to, unk_id=vocab.special_tokens.unk)
                start = time.process_time()
                for batch in batches:
                    writer.add(batch, 1)
                rows = sum(info.rows for info in writer.close())
                best = min(best, time.process_time() - start)
        lines.append(f"ShardWriter {'packed' if pack_to else '--no-pack'}: {best:.3f} s CPU, "
                     f"{sum(b.num_rows for b in batches):,} examples -> {rows:,} rows")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="glob of WuDao JSON files")
    parser.add_argument("--work", type=Path, required=True, help="scratch directory for corpora and outputs")
    parser.add_argument("--repeat", type=int, default=2, help="prepare runs per corpus and layout (least CPU)")
    parser.add_argument("--writer-cost", action="store_true",
                        help="only time ShardWriter in-process, packed against one example a row")
    args = parser.parse_args()
    if args.writer_cost:
        print("\n".join(writer_cost(args.input)))
        return
    short = build_short_corpus(args.input, args.work / "short-corpus")
    header = ("| corpus | layout | rows | examples | mean tokens/row | padding B=16 | padding B=64 | "
              "prepare CPU (wall) |")
    print(header)
    print("|---|---|---|---|---|---|---|---|")
    for name, pattern in (("wudao-sample", args.input), ("short documents", short)):
        for line in measure(name.replace(" ", "-"), pattern, args.work, args.repeat):
            print(line, flush=True)
    print(f"\npadding: random micro-batches of B rows padded to the longest rounded up to {ROUND_TO}; "
          f"short documents: {SHORT_CHARS[0]}-{SHORT_CHARS[1]} characters cut at sentence ends; "
          f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
