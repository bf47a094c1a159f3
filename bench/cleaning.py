"""Cleaning and MinHash throughput in MB/s per core on the WuDao sample (goal: >= 30 and >= 10).

MB are UTF-8 bytes of the documents' text. Time is this process's CPU time (time.process_time), so the
figure is per core and does not move with what else the machine runs; the best of --repeat runs counts.

    .venv/bin/python bench/cleaning.py [--data ../shared/data/wudao-sample] [--batch 512] [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from pipeline.clean import clean_documents, steps_needed
from pipeline.config import CleanConfig, DedupConfig
from pipeline.dedup import band_keys, minhash_signatures
from pipeline.quality import quality_reasons

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "wudao-sample"


def best_seconds(run, repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.process_time()
        run()
        timings.append(time.process_time() - started)
    return min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    items = [(r["title"], r["content"]) for path in sorted(args.data.glob("*.json"))
             for r in json.loads(path.read_text(encoding="utf-8"))]
    megabytes = sum(len(text.encode("utf-8")) for _, text in items) / 1e6
    clean, dedup = CleanConfig(), DedupConfig()
    batches = [items[i: i + args.batch] for i in range(0, len(items), args.batch)]
    clean_documents(batches[0][:4], clean)  # builds the per-process lookup tables outside the timing
    results: list = []

    def run_clean() -> None:
        results[:] = [r for batch in batches for r in clean_documents(batch, clean)]

    cleaning = best_seconds(run_clean, args.repeat)
    # Where the time goes: `steps_needed` and the quality statistics; the rest is the per-document
    # normalisation steps and line rules.
    probing = best_seconds(lambda: [steps_needed([text for _, text in batch]) for batch in batches], args.repeat)
    cleaned = [[text for text, _ in results[i: i + args.batch]] for i in range(0, len(results), args.batch)]
    judging = best_seconds(lambda: [quality_reasons(batch, clean) for batch in cleaned], args.repeat)
    texts = [text for text, reason in results if reason is None]
    kept_mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    text_batches = [texts[i: i + args.batch] for i in range(0, len(texts), args.batch)]
    signing = best_seconds(lambda: [band_keys(minhash_signatures(b, dedup), dedup.bands) for b in text_batches],
                           args.repeat)
    print(f"documents {len(items)}, {megabytes:.2f} MB; kept {len(texts)}, {kept_mb:.2f} MB; batch {args.batch}")
    print(f"cleaning:          {megabytes / cleaning:6.1f} MB/s/core  ({cleaning * 1e6 / len(items):.1f} us/doc: "
          f"steps_needed {probing * 1e6 / len(items):.1f}, quality {judging * 1e6 / len(items):.1f}, "
          f"normalisation and line rules {(cleaning - probing - judging) * 1e6 / len(items):.1f})")
    print(f"minhash+bands:     {kept_mb / signing:6.1f} MB/s/core  "
          f"(k={dedup.shingle_chars}, {dedup.num_perm} perms, {dedup.bands} bands)")
    print("rejections:", dict(Counter(reason for _, reason in results if reason)))


if __name__ == "__main__":
    main()
