"""Lexicon entries go through the cleaner's normalisation, so an entry written in traditional or
full-width form still matches cleaned text, and the batched normalisation equals the one-by-one one."""
from __future__ import annotations

import pytest

from knowledge.lexicon import LexiconOptions, load_lexicons, normalize_many
from knowledge.matcher import EntityMatcher
from pipeline.clean import normalize_text
from tests.conftest import SHARED_DATA, require_shared

TRICKY = [
    "臺灣大學", "ＩＢＭ公司", "北京\u200b大学", "  上海  ", "New   York", "纽约<br>时报", "AT&amp;T公司",
    "<b>粗体</b>", "\u3000东京", "é\u0301", "\u0301首", "Ⅻ世纪", "ｱｲｳ", "﹏", "中\ue000国", "乾隆", "於是",
]


def thuocl_surfaces() -> list[str]:
    surfaces = []
    for path in sorted(require_shared(SHARED_DATA / "thuocl").glob("THUOCL_*.txt")):
        with path.open(encoding="utf-8-sig") as lines:
            surfaces.extend(line.split("\t")[0] for line in lines if line.strip())
    return surfaces


@pytest.mark.parametrize("simplified", [True, False])
def test_batched_normalisation_equals_one_by_one(simplified):
    normalize = lambda text: normalize_text(text, simplified)  # noqa: E731
    surfaces = thuocl_surfaces()[::7] + TRICKY
    assert normalize_many(surfaces, normalize) == [normalize(s) for s in surfaces]


def test_entries_that_normalise_to_nothing_keep_the_batch_aligned():
    surfaces = ["北京", " ", "", "\u200b", "上海", "\t", "廣州", "\u200b\u200b", "臺北"]
    assert normalize_many(surfaces, normalize_text) == [normalize_text(s) for s in surfaces]


def test_normalised_entries_are_fixed_points_of_the_normaliser():
    lexicon = load_lexicons(sorted((SHARED_DATA / "thuocl").glob("THUOCL_*.txt")), normalize_text,
                            LexiconOptions(skip_malformed=True))
    assert all(normalize_text(surface) == surface for surface in lexicon.entries)


def test_traditional_and_full_width_entries_match_cleaned_text(tmp_path):
    path = tmp_path / "entities.tsv"
    path.write_text("臺灣大學\torganization\nＩＢＭ公司\torganization\n東京\tplace\n", encoding="utf-8")
    lexicon = load_lexicons([path], normalize_text)
    assert set(lexicon.entries) == {"台湾大学", "IBM公司", "东京"}
    raw = "他從臺灣大學畢業，去了東京的ＩＢＭ公司。"
    text = normalize_text(raw)
    found = {text[s:e] for s, e, _ in EntityMatcher(lexicon).find(text)}
    assert found == {"台湾大学", "东京", "IBM公司"}
