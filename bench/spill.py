"""Spill the cleaned text, or read and clean the input again? The choice behind `pipeline/beam/spill.py`.

    python -m bench.spill [--input GLOB] [--repeat 3]

The shard pass needs each input file's cleaned documents a second time. It can read, parse and clean
the file again, or read back what the first pass spilled (a zstd Arrow stream of position, doc_id and
cleaned text). Both are timed here on the same input, in CPU seconds (the least of `--repeat` runs), as
MB of input per CPU second, with the spill's size.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pipeline.beam import files, spill
from pipeline.clean import clean_documents
from pipeline.config import CleanConfig
from pipeline.documents import Document
from pipeline.readers import InputFormat, parse_file

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BATCH = 512


def read_and_clean(paths: list[str]) -> list[tuple[np.ndarray, list[str], list[str]]]:
    """What pass 1 does before its keys: each file's survivors, batch by batch."""
    out = []
    config = CleanConfig()
    for path in paths:
        docs = [r for r in parse_file(files.read_input(path).data, path, InputFormat.detect(path))
                if isinstance(r, Document)]
        for start in range(0, len(docs), BATCH):
            batch = docs[start: start + BATCH]
            results = clean_documents([(d.title, d.text) for d in batch], config)
            kept = [(i, d.doc_id, text) for i, (d, (text, reason)) in enumerate(zip(batch, results)) if not reason]
            out.append((np.array([k[0] + start for k in kept], dtype=np.uint32),
                        [k[1] for k in kept], [k[2] for k in kept]))
    return out


def spill_and_read_back(batches, directory: str) -> int:
    path = os.path.join(directory, "cleaned.arrows")
    writer = spill.SpillWriter(path, spill.CLEANED_SCHEMA)
    for positions, doc_ids, texts in batches:
        spill.write_cleaned(writer, positions, doc_ids, texts)
    writer.close()
    for batch in spill.read_batches(path):
        batch.column(spill.TEXT).to_pylist()
    return os.path.getsize(path)


def cpu(function, *args, repeat: int):
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.process_time()
        result = function(*args)
        best = min(best, time.process_time() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default=str(DATA / "wudao-sample" / "*.json"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    paths = sorted(glob.glob(args.input))
    if not paths:
        sys.exit(f"no input matches {args.input}")
    megabytes = sum(os.path.getsize(p) for p in paths) / 1e6
    clean_s, batches = cpu(read_and_clean, paths, repeat=args.repeat)
    with tempfile.TemporaryDirectory() as directory:
        spill_s, size = cpu(spill_and_read_back, batches, directory, repeat=args.repeat)
    print(f"input: {megabytes:.2f} MB in {len(paths)} file(s); load {os.getloadavg()[0]:.2f}")
    print(f"read, parse and clean again:  {clean_s:6.2f} CPU s  {megabytes / clean_s:7.1f} MB/s/core")
    print(f"spill, then read back:        {spill_s:6.2f} CPU s  {megabytes / spill_s:7.1f} MB/s/core  "
          f"(spill {size / 1e6:.2f} MB, {100 * size / 1e6 / megabytes:.0f}% of the input)")
    print(f"spilling costs {spill_s / clean_s:.2f} of cleaning again")


if __name__ == "__main__":
    main()
