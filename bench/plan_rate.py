"""The per-core rate behind `erlangshen-data plan` (runners/capacity.py MEASURED_MB_PER_S_PER_CORE).

    python bench/plan_rate.py [--input GLOB] [--vocab PATH] [--repeat 2]

`prepare --workers 1` as a user runs it, on the input and on its first file's first 5 documents: the
difference of their CPU seconds (all processes) is what the input costs once the fixed start-up
(imports, segmenter, lexicon, vocab, validation) is paid, which a real corpus amortises.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def _cpu_seconds(input_glob: str, vocab: str, out: str) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "erlangshen_data.cli", "prepare", "--input", input_glob, "--vocab", vocab,
                    "--output", out, "--workers", "1", "--overwrite"], check=True, capture_output=True, cwd=REPO)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default=str(DATA / "wudao-sample" / "*.json"), help="WuDao-layout JSON files")
    parser.add_argument("--vocab", default=str(DATA / "vocab" / "bert-base-chinese-vocab.txt"))
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    files = sorted(glob.glob(args.input))
    if not files:
        sys.exit(f"no input matches {args.input}")
    megabytes = sum(os.path.getsize(path) for path in files) / 1e6
    with tempfile.TemporaryDirectory() as work:
        tiny = os.path.join(work, "tiny.json")
        with open(files[0], encoding="utf-8") as handle, open(tiny, "w", encoding="utf-8") as out:
            json.dump(json.load(handle)[:5], out, ensure_ascii=False)
        for _ in range(args.repeat):
            full = _cpu_seconds(args.input, args.vocab, os.path.join(work, "full"))
            fixed = _cpu_seconds(tiny, args.vocab, os.path.join(work, "tiny"))
            print(f"{megabytes:.2f} MB: {full:.2f} CPU s, 5 documents: {fixed:.2f}, difference {full - fixed:.2f} "
                  f"= {megabytes / (full - fixed):.2f} MB/s/core (load average {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
