"""report.html says what summary.json says: a real run's report is parsed, every number in it is looked
up in the summary by the pointer it carries, and the summary's figures are checked against the shards
and the ledger they describe."""
from __future__ import annotations

import io
import json
import re
from collections import Counter
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from pipeline.beam.stages import RejectLedger
from pipeline.config import PrepareConfig
from pipeline.corpus_profile import EXAMPLES_PER_REASON, EXCERPT_CHARS, MICRO_BATCH_ROWS
from pipeline.documents import Rejection
from pipeline.report import REPORT_NAME
from schemas.manifest import read_manifest
from tests.conftest import SAMPLE_CORPUS

SECTIONS = ("run", "sources", "rows", "entities", "sop", "rejections", "examples", "lengths", "clusters")
NUMBER = re.compile(r"^-?[\d,]+(\.\d+)?%?$")


@pytest.fixture(scope="module")
def ledger_text_run(tmp_path_factory) -> Path:
    """The embedded sample (four files, one of them broken) with --ledger-text: every section filled."""
    from pipeline.beam.prepare import PrepareRequest, run_prepare
    from runners.local import local_options

    output = tmp_path_factory.mktemp("ledger_text_run")
    config = replace(PrepareConfig(), ledger_text=True)
    run_prepare(PrepareRequest([str(SAMPLE_CORPUS / "*.json")], str(output), config), local_options(1))
    return output


@pytest.fixture(params=["ledger_text_run", "prepared_sample"])
def run(request) -> Path:
    return request.getfixturevalue(request.param)


class ReportPage(HTMLParser):
    """The report as the test reads it: the text of each element that carries a `data-key`, the text of
    every table cell, and what each section holds."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tagged: list[tuple[str, str]] = []  # (pointer, shown text)
        self.cells: list[tuple[str | None, str]] = []  # (pointer or None, text) of every <td>
        self.rows: list[list[tuple[str | None, str]]] = []  # the cells of each <tr>, by table row
        self.sections: dict[str, Counter] = {}
        self._open: list[tuple[str, str | None, list[str]]] = []
        self._section: str | None = None
        self._row: list[tuple[str | None, str]] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self._section = attrs["id"]
            self.sections[self._section] = Counter()
        elif self._section is not None:
            self.sections[self._section][tag] += 1
        self._open.append((tag, attrs.get("data-key"), []))

    def handle_endtag(self, tag):
        if tag in ("rect", "line"):  # written self-closing <rect/>: handle_startendtag took them
            return
        while self._open:
            name, key, text = self._open.pop()
            content = "".join(text).strip()
            if self._open:
                self._open[-1][2].extend(text)
            if key is not None:
                self.tagged.append((key, content))
            if name == "td":
                self.cells.append((key, content))
                self._row.append((key, content))
            if name == "tr":
                self.rows.append(self._row)
                self._row = []
            if name == "section":
                self._section = None
            if name == tag:
                break

    def handle_startendtag(self, tag, attrs):
        if self._section is not None:
            self.sections[self._section][tag] += 1

    def handle_data(self, data):
        if self._open:
            self._open[-1][2].append(data)
        if self._section is not None and data.strip():
            self.sections[self._section]["text"] += 1


def _value(summary: dict, pointer: str):
    value = summary
    for part in pointer.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def _matches(shown: str, value) -> bool:
    """`shown` is `value` as far as its printed digits go: counts exactly, shares and rates to the last
    digit shown (a share is printed as a percentage)."""
    number = shown.replace(",", "")
    scale = 100 if number.endswith("%") else 1
    number = number.rstrip("%")
    digits = len(number.split(".")[1]) if "." in number else 0
    return abs(float(number) - value * scale) <= 0.5 * 10 ** -digits + 1e-9


def _read(run: Path) -> tuple[dict, ReportPage]:
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    return summary, ReportPage((run / REPORT_NAME).read_text(encoding="utf-8"))


def test_every_number_in_the_report_is_the_summary_s(run):
    summary, page = _read(run)
    assert len(page.tagged) > 100
    for pointer, shown in page.tagged:
        assert NUMBER.match(shown), (pointer, shown)
        assert _matches(shown, _value(summary, pointer)), (pointer, shown, _value(summary, pointer))
    untagged = [text for key, text in page.cells if key is None and NUMBER.match(text)]
    assert not untagged  # a number in a table that points nowhere could say anything


def test_the_run_s_figures_sit_under_their_names(run):
    summary, page = _read(run)
    named = {row[0][1]: row[1][0] for row in page.rows if len(row) == 2}
    assert named["records read"] == "/documents/read" and named["documents kept"] == "/documents/kept"
    assert named["documents rejected"] == "/profile/documents_rejected"
    assert named["rows"] == "/rows" and named["tokens"] == "/tokens"
    assert named["[UNK] rate (of all tokens)"] == "/profile/unk_rate"
    sources = [row for row in page.rows if row and row[0][1] == "all sources"]
    assert [key for key, _ in sources[0][1:6]] == ["/documents/read", "/documents/kept", "/profile/documents_rejected",
                                                   "/rows", "/tokens"]


def _expected_pointers(summary: dict) -> set[str]:
    """The figures the report must show, for the run and for each source."""
    bases = [""] + [f"/sources/{index}" for index in range(len(summary["sources"]))]
    expected = {"/shards", "/basis/max_seq_len", "/basis/micro_batch_rows", "/profile/unk_tokens",
                "/profile/characters"}
    expected |= {f"/profile/row_tokens/{i}" for i in range(len(summary["profile"]["row_tokens"]))}
    expected |= {f"/profile/sop/{name}" for name in summary["profile"]["sop"]}
    expected |= {f"/lengths/{kind}/{i}" for kind, counts in summary["lengths"].items() for i in range(len(counts))}
    expected |= {f"/near_duplicate_clusters/{size}" for size in summary["near_duplicate_clusters"]}
    expected |= {f"/rejected_examples/{reason}/{i}/characters"
                 for reason, examples in summary["rejected_examples"].items() for i in range(len(examples))}
    for base in bases:
        source = _value(summary, base) if base else summary
        expected |= {f"{base}/documents/read", f"{base}/documents/kept", f"{base}/profile/documents_rejected",
                     f"{base}/rows", f"{base}/tokens", f"{base}/profile/mean_row_tokens", f"{base}/profile/unk_rate",
                     f"{base}/profile/padding/fill_of_micro_batches", f"{base}/profile/padding/fill_of_max_seq_len"}
        expected |= {f"{base}/documents/rejected/{reason}" for reason in source["documents"]["rejected"]}
        expected |= {f"{base}/profile/entities_per_1k_chars/{name}"
                     for name in source["profile"]["entities_per_1k_chars"]}
        expected |= {f"{base}/profile/sop_shares/{name}" for name in source["profile"]["sop_shares"]}
    return expected


def test_the_report_shows_the_run_s_and_each_source_s_figures(run):
    summary, page = _read(run)
    assert len(summary["sources"]) >= 2
    missing = _expected_pointers(summary) - {pointer for pointer, _ in page.tagged}
    assert not missing


def test_every_section_has_content(run):
    summary, page = _read(run)
    assert tuple(page.sections) == SECTIONS
    for name, held in page.sections.items():
        assert held["h2"] == 1, name  # one title per section: no section twice
        assert held["table"] or held["svg"] or held["p"], name
        assert held["text"] > 1, name
    assert page.sections["run"]["td"] >= 20 and page.sections["sources"]["tr"] == 2 + len(summary["sources"])
    for name in ("rows", "entities", "sop", "rejections", "lengths"):
        assert page.sections[name]["svg"] and page.sections[name]["rect"] > 2, name


def test_the_accounting_adds_up_per_run_and_per_source(run):
    summary, _ = _read(run)
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert summary["documents"] == manifest["documents"]
    sources = summary["sources"]
    for whole in [summary, *sources]:
        documents = whole["documents"]
        assert documents["read"] == documents["kept"] + sum(documents["rejected"].values())
        assert whole["profile"]["documents_rejected"] == sum(documents["rejected"].values())
        assert sum(whole["profile"]["row_tokens"]) == whole["rows"]
        assert sum(whole["profile"]["sop"].values()) == whole["profile"]["examples"]  # one label an example
    for key in ("rows", "tokens"):
        assert summary[key] == sum(source[key] for source in sources)
    for key in ("read", "kept"):
        assert summary["documents"][key] == sum(source["documents"][key] for source in sources)
    assert sum(summary["lengths"]["kept"]) == summary["documents"]["kept"]
    profile = summary["profile"]
    assert profile["unk_tokens"] == summary["stats"]["unk_tokens"]
    assert profile["unk_rate"] == pytest.approx(profile["unk_tokens"] / summary["tokens"], abs=1e-8)
    for name, rate in profile["entities_per_1k_chars"].items():
        assert rate == pytest.approx(1000 * summary["stats"].get(f"entities.{name}", 0) / profile["characters"],
                                     abs=1e-4)


def _rows_by_source(run: Path) -> dict[int, tuple[np.ndarray, int]]:
    """Each input file's row lengths and [UNK] tokens, read back from its shards."""
    manifest = read_manifest(run)
    found: dict[int, list] = {}
    for shard in manifest.shards:
        file_index = int(Path(shard.file).name.split("-")[1])
        ids = pq.read_table(run / shard.file, columns=["input_ids"]).column("input_ids").combine_chunks()
        lengths = ids.value_lengths().to_numpy()
        unk = int(np.count_nonzero(ids.values.to_numpy() == manifest.special_tokens.unk))
        found.setdefault(file_index, []).append((lengths, unk))
    return {index: (np.concatenate([lengths for lengths, _ in parts]), sum(unk for _, unk in parts))
            for index, parts in found.items()}


def test_row_figures_are_those_of_the_shards(ledger_text_run):
    summary, _ = _read(ledger_text_run)
    by_source = _rows_by_source(ledger_text_run)
    edges = summary["basis"]["row_token_edges"]
    for index, source in enumerate(summary["sources"]):
        lengths, unk = by_source.get(index, (np.zeros(0, dtype=np.int64), 0))
        assert source["profile"]["unk_tokens"] == unk and source["rows"] == lengths.size
        assert source["profile"]["row_tokens"] == np.histogram(lengths, bins=np.array(edges) + 0.5)[0].tolist()
    every = np.concatenate([lengths for lengths, _ in by_source.values()])
    assert summary["profile"]["unk_tokens"] == sum(unk for _, unk in by_source.values())
    # padded to the longest of random micro-batches, as the trainer's collate pads
    batches = np.random.default_rng(0).choice(every, size=(20_000, MICRO_BATCH_ROWS))
    simulated = batches.sum() / (MICRO_BATCH_ROWS * batches.max(axis=1).sum())
    assert summary["profile"]["padding"]["fill_of_micro_batches"] == pytest.approx(simulated, abs=0.005)
    assert summary["profile"]["padding"]["fill_of_max_seq_len"] == pytest.approx(
        every.sum() / (every.size * summary["basis"]["max_seq_len"]), abs=1e-6)


def test_rejected_examples_are_the_ledger_s_first_per_reason(ledger_text_run):
    summary, _ = _read(ledger_text_run)
    first: dict[str, list[str]] = {}
    for ledger in sorted((ledger_text_run / "rejects").glob("part-*.jsonl")):
        for line in ledger.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            chosen = first.setdefault(entry["reason"], [])
            if len(chosen) < EXAMPLES_PER_REASON:
                chosen.append(entry["doc_id"])
    examples = summary["rejected_examples"]
    assert {reason: [example["doc_id"] for example in found] for reason, found in examples.items()} == first
    assert set(first) == set(summary["documents"]["rejected"])
    report = (ledger_text_run / REPORT_NAME).read_text(encoding="utf-8")
    for found in examples.values():
        for example in found:
            assert example["doc_id"] in report
            assert len(example["excerpt"]) <= EXCERPT_CHARS + 1  # and its "…"


def test_a_run_without_ledger_text_shows_no_rejected_text(prepared_sample):
    summary, page = _read(prepared_sample)
    assert summary["rejected_examples"] == {}
    assert page.sections["examples"]["div"] == 0


def test_the_ledger_keeps_a_few_examples_per_reason_only_with_ledger_text():
    for keep_text in (False, True):
        ledger = RejectLedger(io.BytesIO(), keep_text)
        for index in range(5):
            ledger.add(Rejection(f"d{index}", "a.json", "too_short", text="短文"))
        ledger.add(Rejection("m", "a.json", "malformed_json", "line 3"))
        assert ledger.counts == Counter({"rejected.too_short": 5, "rejected.malformed_json": 1})
        if keep_text:
            assert [e["doc_id"] for e in ledger.examples["too_short"]] == ["d0", "d1", "d2"][:EXAMPLES_PER_REASON]
            assert ledger.examples["malformed_json"][0]["detail"] == "line 3"
        else:
            assert ledger.examples == {}
