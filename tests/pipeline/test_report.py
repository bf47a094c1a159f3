"""report.html and the figures behind it (pipeline/corpus_profile.py), from counts alone: no pipeline run.
The run-level check that every number of a real report equals summary.json's is
tests/pipeline/beam/test_report_matches_summary.py."""
from __future__ import annotations

import random
import re
from collections import Counter
from xml.etree import ElementTree

import numpy as np
import pyarrow as pa

from pipeline.corpus_profile import (
    EXAMPLES_PER_REASON, EXCERPT_CHARS, LENGTH_EDGES, MICRO_BATCH_ROWS, ROW_TOKENS_STAT, expected_longest,
    length_bin, length_counts, profile, rejection_example, row_counts, row_length_figures, run_figures,
    source_record,
)
from pipeline.report import render_report

TYPES = ("person", "place")


def _exact(lengths) -> dict[int, int]:
    return dict(Counter(int(n) for n in lengths))


def test_fill_of_micro_batches_matches_simulated_random_batches():
    rng = np.random.default_rng(7)
    # short rows from short documents, a tail of full ones: the shape the sample corpus has
    lengths = np.concatenate([rng.integers(20, 300, 3000), np.full(400, 512), rng.integers(300, 512, 600)])
    counts = {"rows": lengths.size, "tokens": int(lengths.sum())}
    figures = profile(counts, row_length_figures(_exact(lengths), 512), TYPES, 512)
    batches = rng.choice(lengths, size=(40_000, MICRO_BATCH_ROWS))
    simulated = batches.sum() / (MICRO_BATCH_ROWS * batches.max(axis=1).sum())
    assert abs(figures["padding"]["fill_of_micro_batches"] - simulated) < 0.003
    assert figures["padding"]["fill_of_max_seq_len"] == round(lengths.sum() / (lengths.size * 512), 6)


def test_expected_longest_by_hand():
    # two rows of 1 and 3 tokens, batches of 2: the longest is 1 only when both draws are the short row
    assert expected_longest({1: 1, 3: 1}, rows_per_batch=2) == 0.25 * 1 + 0.75 * 3
    assert expected_longest({200: 5}) == 200.0
    assert expected_longest({}) == 0.0


def test_rows_of_one_length_fill_their_micro_batches():
    figures = profile({"rows": 4, "tokens": 800}, row_length_figures({200: 4}, 512), TYPES, 512)
    assert figures["padding"] == {"fill_of_max_seq_len": round(800 / 2048, 6), "fill_of_micro_batches": 1.0}


def test_row_counts_count_unk_tokens_and_rows_per_exact_length():
    cls, sep, unk = 101, 102, 100
    ids = pa.array([[cls, unk, sep], [cls, 7, unk, unk, sep], [cls, 8, sep]], type=pa.list_(pa.uint16()))
    counts = row_counts(ids, unk)
    assert counts == Counter({"rows": 3, "unk_tokens": 3, f"{ROW_TOKENS_STAT}00003": 2, f"{ROW_TOKENS_STAT}00005": 1})
    # a slice of a batch counts its own rows' tokens only (Arrow keeps the whole buffer under a slice)
    assert row_counts(ids.slice(2), unk) == Counter({"rows": 1, f"{ROW_TOKENS_STAT}00003": 1})


def test_row_length_bins_hold_lengths_up_to_their_upper_edge():
    bins = row_length_figures({1: 1, 32: 1, 33: 1, 511: 1, 512: 1}, 512)["bins"]
    assert bins[0] == 2 and bins[1] == 1 and bins[15] == 2 and sum(bins) == 5


def test_length_bins_are_log_spaced_and_open_ended():
    assert [length_bin(n) for n in (0, 9, 10, 199, 200, 10**7)] == [0, 0, 1, 4, 5, len(LENGTH_EDGES) - 1]
    assert length_counts("read", [5, 15, 15]) == Counter({"report.length.read.00": 1, "report.length.read.01": 2})


def test_a_rejected_document_is_shown_by_its_first_characters():
    example = rejection_example("d1", "a.json", "", "长" * (EXCERPT_CHARS + 50))
    assert example["characters"] == EXCERPT_CHARS + 50 and example["excerpt"] == "长" * EXCERPT_CHARS + "…"


def _examples(file: int, step: int, reason: str, n: int) -> dict[str, list[dict]]:
    return {reason: [rejection_example(f"f{file}s{step}d{i}", f"{file}.json", "", "text") for i in range(n)]}


def _records() -> list[dict]:
    """Two files, each with its two passes' records, as PublishRun receives them (in any order)."""
    pass1 = [source_record(file, f"in/{file}.json", 1,
                           Counter({"records_read": 10 + file, "rejected.too_short": 2, "shuffled_bytes.digests": 99}),
                           512, _examples(file, 1, "too_short", 2)) for file in (0, 1)]
    rows = [Counter({"rows": 3, "tokens": 600, "documents_kept": 8 + file, "rejected.duplicate_near": 1,
                    "entities.person": 4, "kept_characters": 2000, "pairs": 2, "swapped_pairs": 1,
                    "single_segments": 1, "unk_tokens": 6, f"{ROW_TOKENS_STAT}00100": 1, f"{ROW_TOKENS_STAT}00250": 2})
            for file in (0, 1)]
    pass2 = [source_record(file, f"in/{file}.json", 2, counts, 512, _examples(file, 2, "too_short", 1))
             for file, counts in enumerate(rows)]
    records = pass1 + pass2
    random.Random(3).shuffle(records)
    return records


def test_a_source_record_is_small_and_holds_no_exact_row_lengths():
    record = [r for r in _records() if r["step"] == 2][0]
    assert not [key for key in record["counts"] if key.startswith("report.") or key.startswith("shuffled")]
    assert record["row_lengths"]["bins"][3] == 1 and record["row_lengths"]["bins"][7] == 2


def test_rejected_examples_are_the_first_of_each_reason_in_ledger_order():
    chosen = run_figures({}, _records(), {}, TYPES, 512)["rejected_examples"]
    # file 0's first pass (2), then file 0's second pass (1); file 1's are past the limit
    assert [example["doc_id"] for example in chosen["too_short"]] == ["f0s1d0", "f0s1d1", "f0s2d0"]
    assert len(chosen["too_short"]) == EXAMPLES_PER_REASON


def test_a_source_merges_its_two_passes():
    sources = run_figures({}, _records(), {}, TYPES, 512)["sources"]
    assert [source["path"] for source in sources] == ["in/0.json", "in/1.json"]
    second = sources[1]
    assert second["documents"] == {"read": 11, "kept": 9, "rejected": {"duplicate_near": 1, "too_short": 2}}
    assert second["rows"] == 3 and second["tokens"] == 600
    figures = second["profile"]
    assert figures["documents_rejected"] == 3 and figures["unk_rate"] == 0.01
    assert figures["sop"] == {"original": 1, "swapped": 1, "single": 1}
    assert figures["entities_per_1k_chars"] == {"person": 2.0, "place": 0.0}


def _summary(rejected=None, clusters=None, examples=True) -> dict:
    records = _records() if examples else [{**r, "examples": {}} for r in _records()]
    stats = Counter()
    for record in records:
        stats.update(record["counts"])
    stats.update({f"{ROW_TOKENS_STAT}00100": 2, f"{ROW_TOKENS_STAT}00250": 4, "report.length.read.03": 21,
                  "report.length.kept.03": 17})
    if rejected is not None:
        stats = Counter({k: v for k, v in stats.items() if not k.startswith("rejected.")})
        stats.update({f"rejected.{reason}": n for reason, n in rejected.items()})
    figures = run_figures(stats, records, clusters or {}, TYPES, 512)
    documents = {"read": stats["records_read"], "kept": stats["documents_kept"],
                 "rejected": {k.removeprefix("rejected."): v for k, v in sorted(stats.items())
                              if k.startswith("rejected.")}}
    return {"documents": documents, "rows": 6, "tokens": 1200, "shards": 2, "stats": {}, **figures}


def _charts(page: str) -> list[str]:
    return re.findall(r'<svg role="img" width="720".*?</svg>', page, re.DOTALL)


def test_report_is_one_offline_file_with_well_formed_svg():
    page = render_report(_summary(clusters={2: 3, 5: 1}))
    for svg in re.findall(r"<svg .*?</svg>", page, re.DOTALL):
        ElementTree.fromstring(svg)  # well-formed, so a browser draws it
    assert "http://" not in page and "https://" not in page and "<script" not in page and "<img" not in page
    assert "<link" not in page and not re.search(r"\son\w+=", page)  # no event handlers either


def test_each_section_title_appears_once():
    page = render_report(_summary(clusters={2: 3, 5: 1}))
    titles = re.findall(r"<h2>(.*?)</h2>", page)
    assert len(titles) == len(set(titles)) == 9


def test_rejection_bars_are_as_long_as_their_counts():
    page = render_report(_summary(rejected={"too_short": 20, "empty": 5}))
    chart = ElementTree.fromstring([svg for svg in _charts(page) if "Rejected documents" in svg][0])
    widths = [float(rect.get("width")) for rect in chart.iter("rect")]
    assert len(widths) == 2 and widths[0] == 4 * widths[1] > 0


def test_a_single_cluster_size_is_a_sentence_not_a_chart():
    page = render_report(_summary(clusters={2: 18}))
    section = re.search(r'<section id="clusters">.*?</section>', page, re.DOTALL).group(0)
    assert "<svg" not in section and "<table" not in section and "clusters, all of 2 documents" in section
    several = re.search(r'<section id="clusters">.*?</section>', render_report(_summary(clusters={2: 3, 5: 1})),
                        re.DOTALL).group(0)
    assert several.count("<tr>") == 3 and "<svg" not in several


def test_without_ledger_text_the_report_says_how_to_see_rejected_documents():
    page = render_report(_summary(examples=False))
    section = re.search(r'<section id="examples">.*?</section>', page, re.DOTALL).group(0)
    assert "--ledger-text" in section and 'class="example"' not in section
