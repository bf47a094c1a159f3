"""The fast `jieba` backend equals plain jieba, word for word, on the real WuDao sample."""
from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.segment import create_segmenter
from pipeline.segment_dictionary import UserDictEntry
from pipeline.segment_jieba import FastJiebaSegmenter, JiebaReferenceSegmenter


@pytest.fixture(scope="module")
def wudao_docs(wudao_sample_dir) -> list[str]:
    docs = []
    for path in sorted(wudao_sample_dir.glob("part-*.json")):
        docs += [record["content"] for record in json.loads(path.read_text(encoding="utf-8"))]
    assert len(docs) == 7126
    return docs


def _mismatches(fast, reference, texts) -> list[int]:
    return [i for i, text in enumerate(texts) if fast.cut(text) != reference.cut(text)]


@pytest.mark.parametrize("hmm", [True, False], ids=["hmm", "no_hmm"])
def test_fast_jieba_equals_jieba_on_every_wudao_document(wudao_docs, hmm):
    import jieba

    fast = FastJiebaSegmenter(hmm)
    different = [i for i, text in enumerate(wudao_docs) if fast.cut(text) != jieba.lcut(text, HMM=hmm)]
    assert different == []


def test_fast_jieba_equals_jieba_with_lexicon_words_and_user_dict(wudao_docs):
    from knowledge.lexicon import load_lexicons
    from tests.conftest import SHARED_DATA, require_shared

    lexicon_words = sorted(load_lexicons([]).entries)
    thuocl = require_shared(SHARED_DATA / "thuocl" / "THUOCL_IT.txt").read_text(encoding="utf-8-sig")
    lines = [line.split("\t") for line in thuocl.splitlines() if line.strip()]
    # Every other entry with its frequency, the rest left to jieba's suggestion: both paths of add_word.
    user_dict = [UserDictEntry(f[0].strip(), int(f[1]) if i % 2 else None) for i, f in enumerate(lines[:3000])]
    docs = wudao_docs[:1500]
    for hmm in (True, False):
        fast = FastJiebaSegmenter(hmm, lexicon_words, user_dict)
        reference = JiebaReferenceSegmenter(hmm, lexicon_words, user_dict)
        assert fast.dictionary.total == reference._tokenizer.total
        assert _mismatches(fast, reference, docs) == []


TRICKY = "的了中国是在我们测年好射线B超AT&Tc++C#ab09.-%+#&_ \n\r，。㐀𠀀鿖γ·"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=TRICKY, max_size=30))
def test_fast_jieba_equals_jieba_on_ascii_runs_and_rare_characters(text):
    for hmm in (True, False):
        assert _fast(hmm).cut(text) == _reference(hmm).cut(text)


@cache
def _fast(hmm: bool) -> FastJiebaSegmenter:
    return FastJiebaSegmenter(hmm)


@cache
def _reference(hmm: bool) -> JiebaReferenceSegmenter:
    return JiebaReferenceSegmenter(hmm)


def test_ascii_run_in_an_hmm_buffer_is_split_as_jieba_splits_it():
    # rjieba alone returns 'Cl-HCO3-Na' and '0.39Ma' whole here.
    assert _fast(True).cut("的Cl-HCO3-Na型") == ["的", "Cl", "-", "HCO3", "-", "Na", "型"]
    assert _fast(True).cut("测得0.39Ma年龄") == ["测得", "0.39", "Ma", "年龄"]


def test_dictionary_word_of_symbols_stays_whole_when_it_is_a_route_word():
    assert _fast(True).cut("了c++和") == ["了", "c++", "和"]


def test_extension_ideographs_are_block_boundaries_as_in_jieba():
    # rjieba alone returns '㐀㐁' as one word.
    assert _fast(True).cut("中㐀㐁国") == ["中", "㐀", "㐁", "国"]


def test_user_words_are_kept_whole():
    plain = create_segmenter("jieba").cut("二郎神数据管道很好用")
    with_words = create_segmenter("jieba", user_words=["二郎神数据管道"]).cut("二郎神数据管道很好用")
    assert "二郎神数据管道" not in plain
    assert with_words[0] == "二郎神数据管道"


def test_unknown_backend_is_a_user_error():
    from schemas.errors import UserInputError

    with pytest.raises(UserInputError, match="jieba-reference"):
        create_segmenter("thulac")


@pytest.mark.parametrize("hmm", [True, False], ids=["hmm", "no_hmm"])
def test_cut_lengths_are_the_lengths_of_cut_on_batch_sized_texts(wudao_docs, hmm):
    fast = _fast(hmm)
    texts = ["\n".join(wudao_docs[first : first + 300]) for first in range(0, len(wudao_docs), 300)]
    texts += [TRICKY * 3, "", "㐀中文c++和AT&T.5%", "中文" + "x" * 300 + "-1" + TRICKY * 3]
    native = TRICKY.translate(dict.fromkeys(map(ord, "㐀𠀀鿖")))  # rjieba's own cut, then the repairs
    texts += [native * 60, "中文" + "x" * 300 + "-1" + native * 60, " " * 300 + "中文" * 1000 + "$(3.5)"]
    assert [fast.cut_lengths(text).tolist() for text in texts] == [list(map(len, fast.cut(text))) for text in texts]
    reference = _reference(hmm)
    assert reference.cut_lengths(texts[-1]).tolist() == list(map(len, reference.cut(texts[-1])))


def test_the_array_check_for_extension_ideographs_agrees_with_the_regex_at_every_range_edge():
    from pipeline.arrays import code_points
    from pipeline.segment_jieba import _FOREIGN_CODES, _FOREIGN_HAN, _holds_foreign_han

    edges = [code + step for low, high in _FOREIGN_CODES for code in (low, high) for step in (-1, 0, 1)]
    for code in edges + [0x4E00, 0x10FFFF, 0, 0xD800]:
        text = f"中文{chr(code)}x" * 3
        assert _holds_foreign_han(code_points(text)) == (_FOREIGN_HAN.search(text) is not None), hex(code)


def test_word_lengths_are_int64_for_words_of_any_length():
    from pipeline.segment_jieba import word_lengths

    for words in (["中文", "a", "\U00020000"], ["x" * 255, "中"], ["y" * 256, "中"], ["z" * 70000], []):
        lengths = word_lengths(words)
        assert lengths.dtype == np.int64 and lengths.tolist() == list(map(len, words))


def test_the_words_holding_a_symbol_are_those_with_one_of_jiebas_seven_and_no_other_punctuation():
    from pipeline.arrays import code_points
    from pipeline.segment_jieba import _words_holding_symbols

    words = ["a", "+", "b$", "c#d", "'(", "e&", "f.", "_g", "%", "-", ",*)", "中", "h..", "ＡＢ．"]
    ends = np.cumsum([len(word) for word in words])
    holding = _words_holding_symbols(code_points("".join(words)), ends).tolist()
    assert holding == [index for index, word in enumerate(words) if set(word) & set("+#&._%-")]
