"""The `pkuseg` backend is pkuseg's default model, word for word, plus the whitespace it drops.

The backend re-implements pkuseg's inference (pipeline/pkuseg_inference.py); pkuseg itself is the
reference here, on real text and on text built to hit its corner cases.
"""
from __future__ import annotations

import json
import random

import pytest

from pipeline.segment import create_segmenter

# Entity-like user words: overlapping prefixes (pkuseg's pre-pass emits the text up to the first
# mismatch after a match, not the match: "北京大学生" with "北京" and "北京大学生活" in the trie),
# Latin and digits, and words the model would split.
USER_WORDS = ["北京", "北京大学生活", "中国科学院", "二郎神数据管道", "COVID-19", "iPhone", "2008年", "的确"]

# Characters pkuseg treats specially: its keywords (renamed to "&"), digits and numerals (**Num),
# full-width letters (**Letter), ASCII letters (kept as they are), plus whitespace and rare characters.
ALPHABET = list("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研质") + [
    "-", ".", "_", ",", "|", "/", "*", ":", "&", "0", "7", "１", "９", "％", "十", "亿", "Ａ", "ｚ", "／", "・", "－",
    "a", "Z", "x", " ", "\u3000", "\n", "\t", "\xa0", "\u2028", "\x1f", "\u200b", "。", "，", "！", "𠀀", "\x00",
]


@pytest.fixture(scope="module")
def pkuseg_pair():
    import pkuseg

    return create_segmenter("pkuseg"), pkuseg.pkuseg()


@pytest.fixture(scope="module")
def wudao_docs(wudao_sample_dir) -> list[str]:
    records = json.loads((wudao_sample_dir / "part-0001.json").read_text(encoding="utf-8"))
    return [record["content"] for record in records[::len(records) // 300]][:300]


def _without_spaces(words: list[str]) -> list[str]:
    return [word for word in words if not word.isspace()]


def test_pkuseg_backend_equals_pkuseg_on_three_hundred_wudao_documents(wudao_docs, pkuseg_pair):
    ours, theirs = pkuseg_pair
    different = []
    for i, text in enumerate(wudao_docs):
        words = ours.cut(text)
        assert "".join(words) == text
        if _without_spaces(words) != theirs.cut(text):
            different.append(i)
    assert different == []


def test_pkuseg_cut_many_equals_cut_on_wudao_sentences(wudao_docs, pkuseg_pair):
    from pipeline.sentences import split_sentences

    ours, _ = pkuseg_pair
    sentences = [s for text in wudao_docs[:60] for s in split_sentences(text)]
    assert ours.cut_many(sentences) == [ours.cut(s) for s in sentences]


def test_pkuseg_backend_equals_pkuseg_on_random_mixed_script_text(pkuseg_pair):
    ours, theirs = pkuseg_pair
    rng = random.Random(4)
    texts = ["".join(rng.choices(ALPHABET, k=rng.randint(0, 40))) for _ in range(400)]
    texts += ["", " ", "中", "a", "1", "-", "\u3000\n", "的的的的的的的的的的的的的的的的的的"]
    for text, words in zip(texts, ours.cut_many(texts)):
        assert "".join(words) == text
        assert _without_spaces(words) == theirs.cut(text), text


def test_pkuseg_backend_returns_whitespace_as_words(pkuseg_pair):
    ours, _ = pkuseg_pair
    words = ours.cut(" 北京大学\u3000在  海淀\n")
    assert "".join(words) == " 北京大学\u3000在  海淀\n"
    assert " " in words and "  " in words
    assert ours.cut("") == [] and ours.cut_many([]) == []


def test_pkuseg_user_words_match_pkuseg_with_the_same_user_dict(wudao_docs):
    import pkuseg

    ours = create_segmenter("pkuseg", user_words=USER_WORDS)
    theirs = pkuseg.pkuseg(user_dict=sorted(USER_WORDS))
    crafted = [
        "二郎神数据管道很好用", "北京大学生活动中心", "北京大学生在中国科学院", "COVID-19疫情下的iPhone销量",
        "2008年北京奥运会", "的确如此", "北京大学生活", "北京",
    ]
    texts = crafted + wudao_docs[:100]
    for text, words in zip(texts, ours.cut_many(texts)):
        assert "".join(words) == text
        assert _without_spaces(words) == theirs.cut(text), text
    assert "二郎神数据管道" in ours.cut("二郎神数据管道很好用")
