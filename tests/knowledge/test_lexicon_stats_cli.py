"""`erlangshen-data lexicon stats`: entries by type and coverage on a corpus, through the real CLI."""
from __future__ import annotations

import json

from erlangshen_data.cli import main
from tests.conftest import SAMPLE_CORPUS, SHARED_DATA, require_shared


def test_stats_report_entries_by_type_and_coverage_on_the_sample_corpus(capsys):
    diming = require_shared(SHARED_DATA / "thuocl" / "THUOCL_diming.txt")
    code = main(["lexicon", "stats", str(diming), "--lexicon-skip-malformed", "--json",
                 "--input", str(SAMPLE_CORPUS / "*.json"), "--max-docs", "40"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["entries_by_type"]["place"] == report["entries"] > 40_000
    assert report["load"]["malformed_lines"] >= 1
    coverage = report["coverage"]
    assert coverage["documents"] == 40 and coverage["chars"] > 0 and coverage["entities"] > 0
    assert coverage["entities_per_1000_chars_by_type"]["place"] == coverage["entities_per_1000_chars"] > 0
    assert 0 < coverage["token_share_in_entities"] < 1


def test_a_malformed_lexicon_line_is_one_error_line_with_file_and_line(capsys):
    diming = require_shared(SHARED_DATA / "thuocl" / "THUOCL_diming.txt")
    assert main(["lexicon", "stats", str(diming)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("erlangshen-data lexicon: error: ") and "THUOCL_diming.txt:" in error
    assert len(error.splitlines()) == 1
