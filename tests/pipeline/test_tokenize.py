import json
import os
import subprocess
import sys
from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.tokenize import BertChineseTokenizer
from pipeline.vocab import build_default_vocab, load_vocab, parse_vocab
from schemas.errors import UserInputError
from tests.conftest import REPO

EDGE_CASES = [
    "你好，世界！Hello WORLD 3.14",
    "Ｈｅｌｌｏ ①② ﬁne café İstanbul",
    "a\ue000b a\u0378b a\u200bb a\u00adb a\x85b a\u2028b a\U000f0001b a\u0301b 中\u0301",
    "iPhone12发布会在2021年9月举行，售价5999元。",
    "x" * 120 + " 超长单词",
    "한국어 안녕하세요 x한 中한文 İstanbul",  # NFD lengthens Hangul: its pieces share first characters
    "ΟΔΥΣΣΕΥΣ aΣ Σa",  # tokenizers lowercases Σ to σ even at a word's end (Python's str.lower gives ς)
    # Where `tokenizers`' Unicode 8.0 tables and Python's differ (issue 21): a mark, a format character and
    # punctuation added later, an ideograph outside its CJK ranges, categories changed since, noncharacters.
    "a\u1ac0b a\u0890b a\u2e43b a\U0002b820b 中\U0002b820文 a\u166db a\u1734b a\u111c9b a\U000ffffeb \U0010ffff",
    "a≠b a≮b 1≯2 a\u1fefb",  # each strips to ASCII punctuation, which the pre-tokenizer splits off
    "",
    "   \n\t ",
]


@pytest.fixture(scope="module")
def bert(bert_vocab_path):
    from transformers import BertTokenizer

    return BertChineseTokenizer(load_vocab(bert_vocab_path)), BertTokenizer(str(bert_vocab_path))


def test_ids_equal_transformers_on_edge_cases(bert):
    ours, reference = bert
    for text in EDGE_CASES:
        assert ours.encode(text)[0].tolist() == reference.encode(text, add_special_tokens=False), text


def test_ids_equal_transformers_on_every_real_wudao_document(bert, wudao_sample_dir):
    ours, reference = bert
    texts = [d["content"] for p in sorted(wudao_sample_dir.glob("*.json")) for d in json.loads(p.read_text())]
    mismatches = [t[:40] for t in texts if ours.encode(t)[0].tolist() != reference.encode(t, add_special_tokens=False)]
    assert len(texts) > 7000 and mismatches == []


def test_offsets_point_at_each_tokens_first_character():
    tokenizer = BertChineseTokenizer(build_default_vocab())  # Latin words split into single characters
    ids, starts = tokenizer.encode("在 Python里写abc")
    assert starts.tolist() == [0] + list(range(2, 13))
    assert len(ids) == len(starts)


def test_default_vocab_is_the_same_in_another_process_and_tokenizes_without_unknowns():
    """Workers and later runs build it in other processes, where str hashes (and so any set order) differ."""
    vocab = build_default_vocab()
    script = "from pipeline.vocab import build_default_vocab; print(build_default_vocab().sha256)"
    for hash_seed in ("1", "2"):
        other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                               env={**os.environ, "PYTHONHASHSEED": hash_seed}, cwd=REPO)
        assert other.stdout.strip() == vocab.sha256
    tokenizer = BertChineseTokenizer(vocab)
    ids, _ = tokenizer.encode("北京大学的研究者用Python 3写了100行代码。")
    assert tokenizer.unk_id not in ids.tolist()


def test_vocab_without_special_tokens_is_a_user_error():
    with pytest.raises(UserInputError, match=r"\[MASK\]"):
        parse_vocab("[PAD]\n[UNK]\n[CLS]\n[SEP]\n你\n", "broken.txt")


def test_a_run_cache_that_starts_over_keeps_ids_and_offsets(bert_vocab_path, monkeypatch):
    import pipeline.tokenize

    text = "\n".join(EDGE_CASES) + "abc abd abc a\u200bbc Python3 x-y 5999元 café"
    expected = [array.tolist() for array in BertChineseTokenizer(load_vocab(bert_vocab_path)).encode(text)]
    monkeypatch.setattr(pipeline.tokenize, "_MAX_CACHED_RUNS", 3)
    small = BertChineseTokenizer(load_vocab(bert_vocab_path))
    for _ in range(3):
        assert [array.tolist() for array in small.encode(text)] == expected
        assert [array.tolist() for array in small.encode(text[40:])] == [
            array.tolist() for array in BertChineseTokenizer(load_vocab(bert_vocab_path)).encode(text[40:])]


def test_a_cache_that_starts_over_mid_text_keeps_the_runs_the_text_had_found(bert_vocab_path, monkeypatch):
    import pipeline.tokenize

    monkeypatch.setattr(pipeline.tokenize, "_MAX_CACHED_RUNS", 3)
    tokenizer = BertChineseTokenizer(load_vocab(bert_vocab_path))
    tokenizer.encode("abc abd xyz")
    ids, starts = tokenizer.encode("abc uvw")  # abc is cached, uvw is not, and 3 + 1 runs overflow
    fresh = BertChineseTokenizer(load_vocab(bert_vocab_path)).encode("abc uvw")
    assert (ids.tolist(), starts.tolist()) == (fresh[0].tolist(), fresh[1].tolist())


def test_run_cache_stays_within_its_bound_and_gives_the_ids_of_an_unbounded_one(bert_vocab_path, monkeypatch):
    import pipeline.tokenize

    texts = [f"第{i}条：run{i} Python{i % 7} 中文 abc{i % 3} {i * 7919}x" for i in range(200)]
    unbounded = BertChineseTokenizer(load_vocab(bert_vocab_path))
    expected = [[array.tolist() for array in unbounded.encode(text)] for text in texts]
    assert len(unbounded._entry_of) > 400
    monkeypatch.setattr(pipeline.tokenize, "_MAX_CACHED_RUNS", 10)
    bounded = BertChineseTokenizer(load_vocab(bert_vocab_path))
    for text, pieces in zip(texts, expected):
        assert [array.tolist() for array in bounded.encode(text)] == pieces
        assert len(bounded._entry_of) <= 10


@cache
def _tokenizers() -> tuple[BertChineseTokenizer, object]:
    from transformers import BertTokenizer

    from tests.conftest import BERT_VOCAB, require_shared

    path = require_shared(BERT_VOCAB)
    return BertChineseTokenizer(load_vocab(path)), BertTokenizer(str(path))


MIXED = "的中国年测。！，.-#'&09aZxyé\u0301\u200b\x00\ue000 \n\t\u3000한İΣß①Ｈﬁ\U00020000≠\u1ac0\u2e43\U0002b820\ufe0f"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=MIXED, max_size=30), min_size=1, max_size=4))
def test_any_text_gets_transformers_ids_and_a_batch_its_texts_tokens(texts):
    ours, reference = _tokenizers()
    encoded = [ours.encode(text) for text in texts]
    for text, (ids, starts) in zip(texts, encoded):
        assert ids.tolist() == reference.encode(text, add_special_tokens=False)
        assert (np.diff(starts) >= 0).all() and all(not text[s].isspace() for s in starts.tolist())
    # What annotate relies on: a batch joined by newlines is tokenized as its texts one by one.
    ids, starts = ours.encode("\n".join(texts))
    shifts = np.cumsum([0] + [len(text) + 1 for text in texts[:-1]])
    assert ids.tolist() == np.concatenate([i for i, _ in encoded]).tolist()
    assert starts.tolist() == np.concatenate([s + shift for (_, s), shift in zip(encoded, shifts)]).tolist()
