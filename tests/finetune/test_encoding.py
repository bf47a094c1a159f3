"""Task examples as BERT inputs: the joined fast path equals one `encode` per text; truncation is BERT's."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from finetune.encoding import encode_examples, encode_texts, truncate_pair
from finetune.readers import TRAIN, TaskExample, read_task_file
from finetune.tasks import task_spec
from pipeline.tokenize import BertChineseTokenizer
from pipeline.vocab import load_vocab
from tests.conftest import SHARED_DATA, require_shared


@pytest.fixture(scope="module")
def vocab(bert_vocab_path):
    return load_vocab(bert_vocab_path)


@pytest.fixture(scope="module")
def tokenizer(vocab) -> BertChineseTokenizer:
    return BertChineseTokenizer(vocab)


def test_joined_encoding_equals_one_encode_per_text_on_fewclue(tokenizer: BertChineseTokenizer) -> None:
    texts = []
    for task, fields in (("tnews", ["sentence"]), ("eprstmt", ["sentence"]), ("ocnli", ["sentence1", "sentence2"]),
                         ("cluewsc", ["text"])):
        read = read_task_file(require_shared(SHARED_DATA / "fewclue" / task / "train_few_all.json"), task_spec(task),
                              TRAIN)
        texts += [e.text_a for e in read.examples] + [e.text_b for e in read.examples if e.text_b]
    # Texts whose edges could merge if the join were not a separator: Latin runs, a dropped control character.
    texts += ["abc", "def", "iPhone12\u200b", "x", "", "  ", "ＡＢＣ", "##ing"]
    joined = encode_texts(tokenizer, texts)
    assert len(joined) == len(texts)
    for text, ids in zip(texts, joined):
        assert np.array_equal(ids, tokenizer.encode(text)[0]), text


def _longest_first(len_a: int, len_b: int, budget: int) -> tuple[int, int]:
    """The simple twin: transformers' longest_first, one token at a time (b loses on a tie)."""
    while len_a + len_b > budget:
        if len_a > len_b:
            len_a -= 1
        else:
            len_b -= 1
    return len_a, len_b


def test_pair_truncation_is_longest_first() -> None:
    for len_a, len_b, budget in itertools.product(range(0, 14), range(0, 14), range(0, 14)):
        assert truncate_pair(len_a, len_b, budget) == _longest_first(len_a, len_b, budget), (len_a, len_b, budget)


def test_pairs_are_cls_a_sep_b_sep_and_cut_to_max_len(tokenizer: BertChineseTokenizer, vocab) -> None:
    specials = vocab.special_tokens
    examples = [TaskExample(1, 0, "今天天气很好", "明天下雨", 1), TaskExample(2, 1, "短", "很长很长很长的第二句话", None)]
    encoded = encode_examples(examples, tokenizer, specials, max_len=10)
    a, b = tokenizer.encode("今天天气很好")[0], tokenizer.encode("明天下雨")[0]
    assert encoded.input_ids[0].tolist() == [specials.cls, *a[:4], specials.sep, *b[:3], specials.sep]
    assert encoded.len_a.tolist() == [6, 3] and [len(ids) for ids in encoded.input_ids] == [10, 10]
    assert encoded.labels.tolist() == [1, -1] and encoded.truncated == 2
    single = encode_examples([TaskExample(1, 0, "今天天气很好", None, 0)], tokenizer, specials, max_len=5)
    assert single.input_ids[0].tolist() == [specials.cls, *a[:3], specials.sep] and single.len_a.tolist() == [5]
