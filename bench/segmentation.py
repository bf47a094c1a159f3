"""Segmentation speed of every backend beside plain jieba and raw rjieba, in one run, on real text.

    python -m bench.segmentation [--input '../shared/data/wudao-sample/*.json'] [--limit-mb 2] [--no-hmm]
                                 [--pkuseg-mb 0.3] [--batch 1000] [--backends pkuseg ...]

The text is what `prepare` hands the segmenter: each document's sentences (`split_sentences`), one
`cut` call per sentence. MB are UTF-8 bytes of those sentences; "MB/s/core" divides by the process's
CPU seconds, so other users of a shared machine do not count against a backend. Setup (dictionary,
model) is timed apart: it happens once per worker. Raw rjieba is listed for scale only: it is not
jieba's output (see pipeline/segment_jieba.py). pkuseg runs on a smaller share of the text, beside
plain `pkuseg.pkuseg().cut` on the same sentences (the words it must equal), and also through
`cut_many` with `--batch` sentences a call (how `prepare` calls it: a batch's sentences at once).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import time
from pathlib import Path

from pipeline.segment import BACKENDS, create_segmenter
from pipeline.sentences import split_sentences

DEFAULT_INPUT = str(Path(__file__).resolve().parents[1].parent / "shared" / "data" / "wudao-sample" / "*.json")


def load_sentences(pattern: str, limit_mb: float) -> list[str]:
    sentences: list[str] = []
    size = 0
    for path in sorted(glob.glob(pattern)):
        for record in json.loads(Path(path).read_text(encoding="utf-8")):
            for sentence in split_sentences(record.get("content") or record.get("text") or ""):
                sentences.append(sentence)
                size += len(sentence.encode("utf-8"))
                if size >= limit_mb * 1e6:
                    return sentences
    if not sentences:
        raise SystemExit(f"no text under {pattern}")
    return sentences


def measure(cut, sentences: list[str], megabytes: float) -> float:
    started = time.process_time()
    for sentence in sentences:
        cut(sentence)
    return megabytes / (time.process_time() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", default=DEFAULT_INPUT, help="WuDao-style JSON files (glob)")
    parser.add_argument("--limit-mb", type=float, default=2.0, help="MB of sentences to segment per backend")
    parser.add_argument("--pkuseg-mb", type=float, default=0.3, help="pkuseg is slow: its share of the text")
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--batch", type=int, default=1000, help="sentences per pkuseg cut_many call")
    parser.add_argument("--no-hmm", action="store_true")
    args = parser.parse_args()
    hmm = not args.no_hmm
    sentences = load_sentences(args.input, args.limit_mb)
    megabytes = sum(len(s.encode("utf-8")) for s in sentences) / 1e6
    print(f"{len(sentences)} sentences, {megabytes:.2f} MB; hmm={'on' if hmm else 'off'}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    import jieba
    import rjieba

    jieba.setLogLevel(60)
    jieba.initialize()
    baseline = measure(lambda s: jieba.lcut(s, HMM=hmm), sentences, megabytes)
    rows = [("jieba.lcut (plain)", 0.0, baseline)]
    raw = rjieba.Jieba()
    rows.append(("rjieba (raw, not exact)", 0.0, measure(lambda s: raw.cut(s, hmm), sentences, megabytes)))
    for name in args.backends:
        started = time.process_time()
        segmenter = create_segmenter(name, hmm)
        setup = time.process_time() - started
        subset = sentences
        if name == "pkuseg":
            subset = load_sentences(args.input, args.pkuseg_mb)
        subset_mb = sum(len(s.encode("utf-8")) for s in subset) / 1e6
        rows.append((name, setup, measure(segmenter.cut, subset, subset_mb)))
        if name == "pkuseg":
            pkuseg_rows = measure_pkuseg(segmenter, subset, subset_mb, args.batch)
            rows.extend((label, 0.0, speed) for label, speed in pkuseg_rows)
    print(f"{'backend':<26} {'setup s':>8} {'MB/s/core':>10} {'x jieba':>8}")
    for name, setup, speed in rows:
        print(f"{name:<26} {setup:8.1f} {speed:10.2f} {speed / baseline:8.1f}")
    speeds = {name: speed for name, _, speed in rows}
    if "pkuseg.cut (plain)" in speeds:
        reference = speeds["pkuseg.cut (plain)"]
        print("x plain pkuseg (same run): " + ", ".join(
            f"{name} {speeds[name] / reference:.1f}" for name in speeds if name.split(" ")[0] == "pkuseg"))


def measure_pkuseg(segmenter, sentences: list[str], megabytes: float, batch: int) -> list[tuple[str, float]]:
    """The backend's batch API (what `prepare` calls: pipeline/annotate.py), then plain pkuseg on the
    same sentences (the reference the backend must equal, word for word), loaded last: its 2.6M-entry
    feature dict would otherwise slow every later garbage collection."""
    started = time.process_time()
    for at in range(0, len(sentences), batch):
        segmenter.cut_many(sentences[at:at + batch])
    many_speed = megabytes / (time.process_time() - started)

    import pkuseg

    plain = pkuseg.pkuseg()
    started = time.process_time()
    for sentence in sentences:
        plain.cut(sentence)
    plain_speed = megabytes / (time.process_time() - started)
    return [(f"pkuseg cut_many({batch})", many_speed), ("pkuseg.cut (plain)", plain_speed)]


if __name__ == "__main__":
    main()
