"""report.html: one offline file with the rejection counts, length histograms and cluster sizes."""
from __future__ import annotations

import json
import re
from xml.etree import ElementTree

from pipeline.report import LENGTH_EDGES, REPORT_NAME, length_bin, render_report


def test_report_embeds_its_plots_and_needs_no_network():
    before = [0] * len(LENGTH_EDGES)
    after = [0] * len(LENGTH_EDGES)
    before[length_bin(250)], after[length_bin(240)] = 10, 8
    page = render_report({"read": 10, "kept": 8}, {"too_short": 1, "duplicate_near": 1}, before, after, {2: 1})
    charts = re.findall(r"<svg .*?</svg>", page, re.DOTALL)
    assert len(charts) == 3
    for chart in charts:
        ElementTree.fromstring(chart)  # well-formed, so a browser draws it
    assert "http://" not in page and "https://" not in page and "<script" not in page and "<img" not in page
    assert "duplicate_near" in page and "too_short" in page


def test_report_bars_are_as_long_as_their_counts():
    page = render_report({"read": 30}, {"too_short": 20, "empty": 5}, [0] * len(LENGTH_EDGES),
                         [0] * len(LENGTH_EDGES), {})
    reasons = ElementTree.fromstring(re.findall(r"<svg .*?</svg>", page, re.DOTALL)[0])
    widths = [float(rect.get("width")) for rect in reasons.iter("rect")]
    assert len(widths) == 2 and widths[0] == 4 * widths[1] > 0


def test_report_renders_the_same_bytes_twice():
    args = ({"read": 3}, {"low_cjk_ratio": 2}, [1] * len(LENGTH_EDGES), [0] * len(LENGTH_EDGES), {})
    assert render_report(*args) == render_report(*args)


def test_length_bins_are_log_spaced_and_open_ended():
    assert [length_bin(n) for n in (0, 9, 10, 199, 200, 10**7)] == [0, 0, 1, 4, 5, len(LENGTH_EDGES) - 1]


def test_prepare_writes_the_report_next_to_the_manifest(prepared_sample):
    page = (prepared_sample / REPORT_NAME).read_text(encoding="utf-8")
    assert page.count("<svg ") == 3
    assert "Near-duplicate clusters" in page
    manifest = json.loads((prepared_sample / "manifest.json").read_text(encoding="utf-8"))
    documents = manifest["documents"]
    # the length bins travel with the run's stats but stay out of the manifest
    assert not [key for key in manifest["stats"] if key.startswith("report.")]
    rejected_records = sum(documents["rejected"].get(r, 0) for r in ("malformed_json", "missing_text",
                                                                     "text_not_string"))
    read_documents = documents["read"] - rejected_records  # records that parsed into documents
    assert f"<tr><td>read</td><td>{read_documents}</td></tr>" in page
