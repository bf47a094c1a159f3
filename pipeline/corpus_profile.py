"""What a run's output holds, per run and per input file (a "source"), computed from counts alone.

These are the figures summary.json carries and report.html shows: documents read, kept and rejected,
rows, examples and tokens, content tokens lost to trimming (with a warning above a threshold), the
[UNK] rate, row lengths and how much of a padded micro-batch is real tokens,
entities per 1,000 characters, the SOP balance, and (with `--ledger-text`) a few rejected documents per
reason. Workers count into one Counter per file (`row_counts`, `length_counts`, `RejectLedger` in
pipeline/beam/stages.py); the run's Counter is their sum, and each file also sends a small
`source_record` (tens of numbers and at most a few excerpts a reason), never per-document lists.

Padding efficiency. A row is one or more packed examples (schemas/shard.py), and its length is what the
trainer pays for. The trainer pads a micro-batch to its longest row (trainer/data.py) and mixes rows of
several shards, so a micro-batch is close to a random draw of rows. "Fill of micro-batches" is the share
of real tokens when B random rows are padded to their longest: mean length / E[longest of B]. It is
computed exactly from the distribution of row lengths (draws with replacement), with no sampling, so it
is the same for any worker count; tests/pipeline/test_report.py checks it against simulated batches.
"Fill of max_seq_len" is tokens / (rows * max_seq_len), what a loader padding every row to max_seq_len
would get.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pyarrow as pa

# Keys of a run's counts besides the plain ones (rows, tokens, entities...): drops by reason, and the
# report-only counts ("report." keys) that stay out of the manifest's stats.
REJECTED_STAT = "rejected."
REPORT_STAT = "report."
LENGTH_STAT = "report.length"  # documents per character-length bin: "report.length.read.03"
ROW_TOKENS_STAT = "report.row_tokens."  # rows per exact token count: "report.row_tokens.00512"
READ, KEPT = "read", "kept"

# Document length bins in characters: log-spaced, so app blurbs and long articles both stay visible.
LENGTH_EDGES = (0, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 500_000)
ROW_TOKEN_BINS = 16  # equal-width bins of row length, from 0 to max_seq_len
MICRO_BATCH_ROWS = 16
EXAMPLES_PER_REASON = 3
# Share of kept documents' content tokens that no example holds (cut off by max_seq_len) above which the
# summary warns. Megatron-style truncation at 512 loses ~1% of WuDao-like text (1.2% on the sample,
# bench/README.md); five times that means rows too short for the corpus or lines with no sentence end,
# text the run paid to clean and then threw away.
TRIMMED_SHARE_WARNING = 0.05
EXCERPT_CHARS = 300  # of a rejected document's text; the ledger holds all of it

# Counts of one source that its record carries (the rest are run-wide mechanics: bytes shuffled...).
_SOURCE_KEYS = ("records_read", "documents_kept", "rows", "examples", "tokens", "document_tokens", "trimmed_tokens",
                "unk_tokens", "kept_characters", "pairs", "swapped_pairs", "single_segments")


def length_bin(length: int) -> int:
    """Index of the bin `length` falls in; the last bin is open-ended."""
    return max(0, bisect_right(LENGTH_EDGES, length) - 1)


def length_histogram(lengths: Iterable[int]) -> list[int]:
    """Documents per length bin, for lengths in characters."""
    bins = [0] * len(LENGTH_EDGES)
    for length in lengths:
        bins[length_bin(length)] += 1
    return bins


def length_counts(kind: str, lengths: Iterable[int]) -> Counter:
    """`length_histogram` as counts of the run ("report.length.<kind>.NN"), empty bins left out."""
    histogram = length_histogram(lengths)
    return Counter({f"{LENGTH_STAT}.{kind}.{index:02d}": count for index, count in enumerate(histogram) if count})


def row_counts(input_ids: pa.ListArray, unk: int) -> Counter:
    """Rows, rows per exact token count and [UNK] tokens of a batch of rows, from the Arrow buffers."""
    lengths = np.bincount(input_ids.value_lengths().to_numpy(zero_copy_only=False))
    counts = Counter({f"{ROW_TOKENS_STAT}{length:05d}": int(lengths[length]) for length in np.flatnonzero(lengths)})
    if len(input_ids):
        counts["rows"] = len(input_ids)
    unk_tokens = int(np.count_nonzero(input_ids.flatten().to_numpy(zero_copy_only=False) == unk))
    if unk_tokens:
        counts["unk_tokens"] = unk_tokens
    return counts


def exact_row_tokens(counts: Mapping[str, int]) -> dict[int, int]:
    return {int(key.removeprefix(ROW_TOKENS_STAT)): value for key, value in counts.items()
            if key.startswith(ROW_TOKENS_STAT)}


def row_token_edges(max_seq_len: int) -> list[int]:
    """Upper edges of `ROW_TOKEN_BINS` equal bins; bin i holds lengths in (edges[i], edges[i + 1]]."""
    return [max_seq_len * index // ROW_TOKEN_BINS for index in range(ROW_TOKEN_BINS + 1)]


def expected_longest(by_length: Mapping[int, int], rows_per_batch: int = MICRO_BATCH_ROWS) -> float:
    """E[longest of `rows_per_batch` rows drawn at random], from rows per exact length:
    sum over l >= 0 of P(longest > l) = 1 - F(l)**B, F the share of rows of length <= l."""
    if not by_length or not sum(by_length.values()):
        return 0.0
    counts = np.zeros(max(by_length) + 1, dtype=np.float64)
    for length, count in by_length.items():
        counts[length] = count
    below = np.cumsum(counts) / counts.sum()  # F(l), l = 0 .. longest
    return float(np.sum(1.0 - below[:-1] ** rows_per_batch))


def row_length_figures(by_length: Mapping[int, int], max_seq_len: int) -> dict:
    """Rows per `row_token_edges` bin and E[longest of a micro-batch]: the two row-length figures a
    source's record carries, so that its exact lengths (up to max_seq_len numbers) stay on the worker."""
    edges = row_token_edges(max_seq_len)
    bins = [0] * ROW_TOKEN_BINS
    for length, count in by_length.items():
        bins[min(ROW_TOKEN_BINS - 1, max(0, bisect_left(edges, length) - 1))] += count
    return {"bins": bins, "expected_longest": expected_longest(by_length)}


def rejection_example(doc_id: str, source: str, detail: str, text: str) -> dict:
    """What the report shows of one rejected document: where it came from, why, and its first words."""
    excerpt = text[:EXCERPT_CHARS] + ("…" if len(text) > EXCERPT_CHARS else "")
    return {"doc_id": doc_id, "source": source, "detail": detail, "characters": len(text), "excerpt": excerpt}


def source_record(index: int, path: str, step: int, counts: Mapping[str, int], max_seq_len: int,
                  examples: Mapping[str, list[dict]]) -> dict:
    """One pass's record of one input file: its counts, its row-length figures when it built rows, and
    its first rejected documents per reason (`step` orders the passes' examples as the ledger does)."""
    kept = {key: int(value) for key, value in counts.items()
            if key in _SOURCE_KEYS or key.startswith(REJECTED_STAT) or key.startswith("entities.")}
    record = {"file": index, "path": path, "step": step, "counts": kept,
              "examples": {reason: list(found) for reason, found in sorted(examples.items())}}
    by_length = exact_row_tokens(counts)
    if by_length:
        record["row_lengths"] = row_length_figures(by_length, max_seq_len)
    return record


def first_examples(records: Iterable[dict]) -> dict[str, list[dict]]:
    """The first `EXAMPLES_PER_REASON` rejected documents of each reason, in ledger order (input files
    in index order, a file's first pass before its second), whichever worker sent which record."""
    chosen: dict[str, list[dict]] = {}
    for record in sorted(records, key=lambda r: (r["file"], r["step"])):
        for reason, found in record["examples"].items():
            room = EXAMPLES_PER_REASON - len(chosen.setdefault(reason, []))
            chosen[reason].extend(found[:max(0, room)])
    return {reason: chosen[reason] for reason in sorted(chosen)}


def _share(part: float, whole: float, digits: int = 6) -> float:
    return round(part / whole, digits) if whole else 0.0


def profile(counts: Mapping[str, int], row_lengths: Mapping | None, entity_types: Sequence[str],
            max_seq_len: int) -> dict:
    """The figures of a run or of one source, from its counts and its `row_length_figures`."""
    rows, tokens, examples = counts.get("rows", 0), counts.get("tokens", 0), counts.get("examples", 0)
    document_tokens, trimmed = counts.get("document_tokens", 0), counts.get("trimmed_tokens", 0)
    characters = counts.get("kept_characters", 0)
    entities = {name: int(counts.get(f"entities.{name}", 0)) for name in entity_types}
    pairs, swapped = counts.get("pairs", 0), counts.get("swapped_pairs", 0)
    sop = {"original": pairs - swapped, "swapped": swapped, "single": counts.get("single_segments", 0)}
    row_lengths = row_lengths or {"bins": [0] * ROW_TOKEN_BINS, "expected_longest": 0.0}
    longest = row_lengths["expected_longest"]
    return {
        "documents_rejected": sum(v for k, v in counts.items() if k.startswith(REJECTED_STAT)),
        "examples": examples,
        "mean_row_tokens": round(tokens / rows, 2) if rows else 0.0,
        "mean_examples_per_row": round(examples / rows, 3) if rows else 0.0,
        "trimmed": {"document_tokens": document_tokens, "trimmed_tokens": trimmed,
                    "trimmed_share": _share(trimmed, document_tokens)},
        "unk_tokens": counts.get("unk_tokens", 0),
        "unk_rate": _share(counts.get("unk_tokens", 0), tokens, 8),
        "characters": characters,
        "entities": entities,
        "entities_per_1k_chars": {name: round(1000 * n / characters, 4) if characters else 0.0
                                  for name, n in entities.items()},
        "sop": sop,
        "sop_shares": {name: _share(n, examples) for name, n in sop.items()},
        "row_tokens": list(row_lengths["bins"]),
        "padding": {"fill_of_max_seq_len": _share(tokens, rows * max_seq_len),
                    "fill_of_micro_batches": _share(tokens / rows, longest) if rows and longest else 0.0},
    }


def run_warnings(figures: Mapping) -> list[str]:
    """What a person should look at before training on the output: today, content lost to trimming."""
    trimmed = figures["profile"]["trimmed"]
    if trimmed["trimmed_share"] <= TRIMMED_SHARE_WARNING:
        return []
    return [f"{trimmed['trimmed_share']:.1%} of the kept documents' content tokens ({trimmed['trimmed_tokens']:,} of "
            f"{trimmed['document_tokens']:,}) were trimmed to fit max_seq_len {figures['basis']['max_seq_len']} "
            f"(warned above {TRIMMED_SHARE_WARNING:.0%}): raise --max-seq-len, or look for lines without sentence "
            "ends"]


def documents(counts: Mapping[str, int]) -> dict:
    """Read, kept and rejected by reason, as the manifest's `DocumentAccounting` holds them."""
    return {"read": counts.get("records_read", 0), "kept": counts.get("documents_kept", 0),
            "rejected": {key.removeprefix(REJECTED_STAT): value for key, value in sorted(counts.items())
                         if key.startswith(REJECTED_STAT)}}


def run_figures(stats: Mapping[str, int], records: Sequence[dict], clusters: Mapping[int, int],
                entity_types: Sequence[str], max_seq_len: int) -> dict:
    """summary.json's figures beyond the accounting: the run's profile, document lengths, each source
    (merged from its passes' records, in file order), cluster sizes and the rejected examples."""
    merged: dict[int, dict] = {}
    for record in sorted(records, key=lambda r: (r["file"], r["step"])):
        source = merged.setdefault(record["file"], {"path": record["path"], "counts": Counter(), "rows": None})
        source["counts"].update(record["counts"])
        source["rows"] = record.get("row_lengths", source["rows"])
    sources = []
    for index in sorted(merged):
        source = merged[index]
        counts = source["counts"]
        sources.append({"path": source["path"], "documents": documents(counts), "rows": counts.get("rows", 0),
                        "tokens": counts.get("tokens", 0),
                        "profile": profile(counts, source["rows"], entity_types, max_seq_len)})
    lengths = {kind: [stats.get(f"{LENGTH_STAT}.{kind}.{index:02d}", 0) for index in range(len(LENGTH_EDGES))]
               for kind in (READ, KEPT)}
    run_rows = row_length_figures(exact_row_tokens(stats), max_seq_len)
    figures = {
        "basis": {"max_seq_len": max_seq_len, "micro_batch_rows": MICRO_BATCH_ROWS,
                  "examples_per_reason": EXAMPLES_PER_REASON, "length_edges": list(LENGTH_EDGES),
                  "row_token_edges": row_token_edges(max_seq_len)},
        "profile": profile(stats, run_rows, entity_types, max_seq_len),
        "lengths": lengths,
        "sources": sources,
        "near_duplicate_clusters": {str(size): int(clusters[size]) for size in sorted(clusters)},
        "rejected_examples": first_examples(records),
    }
    figures["warnings"] = run_warnings(figures)
    return figures
