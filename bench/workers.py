"""When a second local worker pays: `prepare`'s wall time with 1 and N workers on growing inputs.

    python -m bench.workers [--input GLOB] [--vocab PATH] [--copies 0,3,6] [--workers 2] [--repeat 2]

The input is written out `--copies` times, each document's text with its copy's number appended, so
exact deduplication keeps every copy (0 copies: the first two records of each file, bench.throughput's
run that is all start-up). Near-duplicate detection is off (`--no-near-dedup`): it would drop the
copies. Each run is the `erlangshen-data prepare` command a user types, in a fresh process; the figure
is its wall time, the least of `--repeat` runs. A straight line through each worker count's points,
wall = start-up + seconds per MB, gives where N workers start to beat one: the constant behind
`--workers`' default (runners/local.py `SMALL_INPUT_BYTES`). Near-dedup's MinHash parallelises well, so with
it on (the default) the crossing comes earlier than measured here.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.throughput import tiny_inputs

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def write_copies(files: list[str], copies: int, directory: str) -> str:
    """`copies` distinct copies of the WuDao-layout input (for 0, bench.throughput's all-start-up input);
    their glob."""
    if not copies:
        tiny_inputs(files, directory)
        return os.path.join(directory, "*.json")
    records = [record for path in files for record in json.loads(Path(path).read_text(encoding="utf-8"))]
    records = [r for r in records if isinstance(r, dict) and isinstance(r.get("content"), str)]
    for copy in range(copies):
        out = [dict(r, uniqueKey=f"{r.get('uniqueKey')}-{copy}", content=f"{r['content']}\n第{copy}版。")
               for r in records]
        Path(directory, f"copy-{copy}.json").write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")
    return os.path.join(directory, "*.json")


def wall_seconds(input_glob: str, vocab: str, out: str, workers: int) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "erlangshen_data.cli", "prepare", "--input", input_glob, "--vocab", vocab,
                    "--output", out, "--workers", str(workers), "--overwrite", "--no-near-dedup", "--no-report"],
                   check=True, capture_output=True, cwd=REPO)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default=str(DATA / "wudao-sample" / "*.json"), help="WuDao-layout JSON files")
    parser.add_argument("--vocab", default=str(DATA / "vocab" / "bert-base-chinese-vocab.txt"))
    parser.add_argument("--copies", default="0,3,6", help="input sizes, in copies of the input")
    parser.add_argument("--workers", type=int, default=2, help="the worker count compared with one")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    files = sorted(glob.glob(args.input))
    if not files:
        sys.exit(f"no input matches {args.input}")
    counts = (1, args.workers)
    sizes, walls = [], {count: [] for count in counts}
    print(f"{'input MB':>9} " + " ".join(f"{f'{count} worker(s) s':>14}" for count in counts) + "  ratio  load")
    with tempfile.TemporaryDirectory() as work:
        for copies in (int(c) for c in args.copies.split(",")):
            directory = os.path.join(work, f"in-{copies}")
            os.mkdir(directory)
            pattern = write_copies(files, copies, directory)
            sizes.append(sum(os.path.getsize(p) for p in glob.glob(pattern)) / 1e6)
            for count in counts:
                walls[count].append(min(wall_seconds(pattern, args.vocab, os.path.join(work, "out"), count)
                                        for _ in range(args.repeat)))
            print(f"{sizes[-1]:>9.1f} " + " ".join(f"{walls[count][-1]:>14.2f}" for count in counts)
                  + f"  {walls[1][-1] / walls[args.workers][-1]:>5.2f}  {os.getloadavg()[0]:.2f}", flush=True)
    fits = {count: np.polyfit(sizes, walls[count], 1) for count in counts}  # (s per MB, start-up s)
    for count, (per_mb, start) in fits.items():
        print(f"{count} worker(s): {start:.2f} s start-up + {per_mb:.3f} s/MB")
    (slope_one, start_one), (slope_n, start_n) = fits[1], fits[args.workers]
    if slope_one > slope_n:
        crossing = (start_n - start_one) / (slope_one - slope_n)
        print(f"{args.workers} workers beat 1 from {crossing:.0f} MB; on a large input they are "
              f"{slope_one / slope_n:.2f}x as fast")
    else:
        print(f"{args.workers} workers never beat 1 here (no free cores?)")


if __name__ == "__main__":
    main()
