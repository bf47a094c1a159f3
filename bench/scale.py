"""Does `prepare`'s memory stay flat as the corpus grows? Peak RSS, CPU and shuffle volume at 0.1 to 4 GB.

    python -m bench.scale [--sizes-gb 0.1,1,4] [--workers 1,2] [--file-mb 48] [--input GLOB] [--vocab PATH]

Inputs are built from the WuDao sample: copy k of every record gets its own uniqueKey and its text
passed through copy k's substitution of the sample's Han characters (a random permutation of them), so
copies share no shingles. Exact and near deduplication (on, as by default) then keep every copy, and
each copy keeps the sample's lengths, character statistics and cleaning outcome. Files hold about
`--file-mb` MB each, like WuDao's own files. Each run is the `erlangshen-data prepare` command a user
types, in a fresh process; the peak RSS is that of the whole process tree (driver and workers
together, sampled every 0.2 s; the driver's and the largest worker's apart), the CPU time that of the tree, and the shuffled bytes the run's own
`shuffled_bytes.*` counts (keys, digests and candidate signatures that enter a GroupByKey).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
_HAN = re.compile(r"[\u4e00-\u9fff]")


def _records(files: list[str]) -> list[dict]:
    records = [r for path in files for r in json.loads(Path(path).read_text(encoding="utf-8"))]
    return [r for r in records if isinstance(r, dict) and isinstance(r.get("content"), str)]


def build_inputs(files: list[str], total_bytes: float, file_bytes: float, directory: str) -> tuple[int, int]:
    """Writes distinct copies of the sample until `total_bytes`; returns (bytes, records) written."""
    records = _records(files)
    alphabet = sorted({c for r in records for c in _HAN.findall(r["content"] + str(r.get("title", "")))})
    written = count = copy = part = 0
    batch: list[dict] = []
    batch_bytes = 0

    def flush() -> None:
        nonlocal part, written, batch, batch_bytes
        data = json.dumps(batch, ensure_ascii=False).encode("utf-8")
        Path(directory, f"part-{part:05d}.json").write_bytes(data)
        written += len(data)
        part += 1
        batch, batch_bytes = [], 0

    while written + batch_bytes < total_bytes:
        shuffled = alphabet[:]
        random.Random(copy).shuffle(shuffled)
        table = str.maketrans(dict(zip(alphabet, shuffled))) if copy else {}
        for record in records:
            text = record["content"].translate(table)
            new = dict(record, uniqueKey=f"{record.get('uniqueKey')}-{copy}", content=text,
                       title=str(record.get("title", "")).translate(table))
            batch.append(new)
            batch_bytes += len(text) * 3 + 200
            count += 1
            if batch_bytes >= file_bytes:
                flush()
            if written + batch_bytes >= total_bytes:
                break
        copy += 1
    if batch:
        flush()
    return written, count


def run_prepare(input_glob: str, vocab: str, output: str, workers: int) -> dict:
    """One `prepare` in a fresh process: wall, tree CPU, tree peak RSS and the run summary."""
    started, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    process = psutil.Popen([sys.executable, "-m", "erlangshen_data.cli", "prepare", "--input", input_glob,
                            "--vocab", vocab, "--output", output, "--workers", str(workers), "--overwrite"],
                           cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_tree, peak_driver, peak_worker, cpu = 0, 0, 0, {}
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak_tree, peak_driver, peak_worker
        while not stop.is_set():
            tree = 0
            for member in [process, *process.children(recursive=True)]:
                try:
                    rss = member.memory_info().rss
                    times = member.cpu_times()
                except psutil.Error:
                    continue
                tree += rss
                if member.pid == process.pid:
                    peak_driver = max(peak_driver, rss)
                else:
                    peak_worker = max(peak_worker, rss)
                cpu[member.pid] = times.user + times.system
            peak_tree = max(peak_tree, tree)
            stop.wait(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, stderr = process.communicate()
    stop.set()
    watcher.join()
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    reaped = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime  # the tree, once waited for
    if process.returncode:
        sys.exit(f"prepare failed:\n{stderr.decode(errors='replace')[-3000:]}")
    summary = json.loads(Path(output, "summary.json").read_text())
    return {"wall": wall, "cpu": max(reaped, sum(cpu.values())), "peak_tree": peak_tree, "peak_driver": peak_driver,
            "peak_worker": peak_worker, "summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default=str(DATA / "wudao-sample" / "*.json"), help="WuDao-layout JSON files")
    parser.add_argument("--vocab", default=str(DATA / "vocab" / "bert-base-chinese-vocab.txt"))
    parser.add_argument("--sizes-gb", default="0.1,1,4")
    parser.add_argument("--workers", default="2", help="worker counts to run at every size, e.g. 1,2")
    parser.add_argument("--file-mb", type=float, default=48.0)
    parser.add_argument("--work-dir", default=None, help="where inputs and outputs go (default: a temp dir)")
    args = parser.parse_args()
    files = sorted(glob.glob(args.input))
    if not files:
        sys.exit(f"no input matches {args.input}")
    work = args.work_dir or tempfile.mkdtemp(prefix="bench-scale-")
    print(f"{'input GB':>8} {'docs':>10} {'workers':>7} {'peak RSS MB':>11} {'driver MB':>9} {'worker MB':>9} {'CPU s':>8} "
          f"{'MB/s/core':>9} {'wall s':>8} {'shuffled %':>10}  load", flush=True)
    try:
        for size in (float(s) for s in args.sizes_gb.split(",")):
            directory = os.path.join(work, f"in-{size}")
            os.makedirs(directory, exist_ok=True)
            written, records = build_inputs(files, size * 1e9, args.file_mb * 1e6, directory)
            for workers in (int(w) for w in args.workers.split(",")):
                result = run_prepare(os.path.join(directory, "*.json"), args.vocab, os.path.join(work, "out"), workers)
                stats = result["summary"]["stats"]
                shuffled = sum(v for k, v in stats.items() if k.startswith("shuffled_bytes."))
                print(f"{written / 1e9:>8.2f} {records:>10,} {workers:>7} {result['peak_tree'] / 2**20:>11,.0f} "
                      f"{result['peak_driver'] / 2**20:>9,.0f} {result['peak_worker'] / 2**20:>9,.0f} {result['cpu']:>8.1f} "
                      f"{written / 1e6 / result['cpu']:>9.2f} {result['wall']:>8.1f} "
                      f"{100 * shuffled / written:>10.2f}  {os.getloadavg()[0]:.2f}", flush=True)
            shutil.rmtree(directory)
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
