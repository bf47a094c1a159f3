"""The `pkuseg` backend is pkuseg's default model, word for word, plus the whitespace it drops."""
from __future__ import annotations

import json

import pytest

from pipeline.segment import create_segmenter


@pytest.fixture(scope="module")
def pkuseg_pair():
    import pkuseg

    return create_segmenter("pkuseg"), pkuseg.pkuseg()


def test_pkuseg_backend_equals_pkuseg_on_three_hundred_wudao_documents(wudao_sample_dir, pkuseg_pair):
    ours, theirs = pkuseg_pair
    records = json.loads((wudao_sample_dir / "part-0001.json").read_text(encoding="utf-8"))
    docs = [record["content"] for record in records[::len(records) // 300]][:300]
    different = []
    for i, text in enumerate(docs):
        words = ours.cut(text)
        assert "".join(words) == text
        if [w for w in words if not w.isspace()] != theirs.cut(text):
            different.append(i)
    assert different == []


def test_pkuseg_backend_returns_whitespace_as_words(pkuseg_pair):
    ours, _ = pkuseg_pair
    words = ours.cut(" 北京大学\u3000在  海淀\n")
    assert "".join(words) == " 北京大学\u3000在  海淀\n"
    assert " " in words and "  " in words


def test_pkuseg_user_words_are_kept_whole():
    text = "二郎神数据管道很好用"
    assert "二郎神数据管道" in create_segmenter("pkuseg", user_words=["二郎神数据管道"]).cut(text)
