import json
from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge.lexicon import build_lexicon, load_lexicons
from knowledge.matcher import EntityMatcher
from pipeline.annotate import BatchAnnotator
from pipeline.segment import create_segmenter
from pipeline.sentences import split_sentences
from pipeline.tokenize import BertChineseTokenizer
from pipeline.vocab import load_vocab


@pytest.fixture(scope="module")
def tools(bert_vocab_path):
    return create_segmenter("jieba"), BertChineseTokenizer(load_vocab(bert_vocab_path))


def sentence_by_sentence(annotator: BatchAnnotator, texts: list[str]) -> list[tuple]:
    """Each sentence annotated alone: what the batch must reproduce."""
    out = []
    for text in texts:
        for sentence in split_sentences(text):
            one = annotator.annotate([sentence])
            if len(one.ids):
                out.append((one.ids.tolist(), one.word_start.tolist(), one.entities.tolist()))
    return out


def batch_sentences(annotator: BatchAnnotator, texts: list[str]) -> list[tuple]:
    batch = annotator.annotate(texts)
    bounds = batch.sentence_bounds.tolist()
    out = []
    for start, end in zip(bounds[:-1], bounds[1:]):
        inside = batch.entities[(batch.entities[:, 0] >= start) & (batch.entities[:, 1] <= end)]
        shifted = (inside - np.array([start, start, 0])).tolist()
        out.append((batch.ids[start:end].tolist(), batch.word_start[start:end].tolist(), shifted))
    return out


def test_a_batch_annotates_real_documents_exactly_as_sentence_by_sentence(tools, wudao_sample_dir):
    segmenter, tokenizer = tools
    annotator = BatchAnnotator(segmenter, EntityMatcher(load_lexicons([])), tokenizer)
    texts = [d["content"] for d in json.loads((wudao_sample_dir / "part-0000.json").read_text())[:150]]
    texts += ["", "  \n ", "iPhone12发布会在2021年9月举行。售价5999元", "Ｈｅｌｌｏ ﬁne café。\n中\u0301文"]
    batch = annotator.annotate(texts)
    assert [batch.sentence_count(i) for i in range(len(texts))] == [
        len([s for s in split_sentences(t) if len(annotator.annotate([s]).ids)]) for t in texts]
    expected = sentence_by_sentence(annotator, texts)
    assert sum(len(e[2]) for e in expected) > 100
    assert batch_sentences(annotator, texts) == expected


def test_an_entity_across_a_sentence_end_is_never_matched(tools):
    segmenter, tokenizer = tools
    lexicon = build_lexicon([("北京。上海", "place", 9.0), ("北京", "place", 1.0), ("上海", "place", 1.0)])
    annotator = BatchAnnotator(segmenter, EntityMatcher(lexicon), tokenizer)
    texts = ["我在北京。上海很大", "他去了上海"]
    batch = annotator.annotate(texts)
    assert batch_sentences(annotator, texts) == sentence_by_sentence(annotator, texts)
    assert [batch.ids[s:e].tolist() for s, e, _ in batch.entities] == [
        tokenizer.encode(word)[0].tolist() for word in ("北京", "上海", "上海")]


def test_an_entity_followed_by_a_visible_character_that_has_no_token_is_dropped(tools):
    """Whitespace between an entity and the next token keeps it; a format or control character there
    (visible to `str.strip`, dropped by the tokenizer) would make its last token run past it."""
    segmenter, tokenizer = tools
    lexicon = build_lexicon([("北京", "place", 1.0), ("iPhone", "product", 1.0)])
    annotator = BatchAnnotator(segmenter, EntityMatcher(lexicon), tokenizer)
    texts = ["我在北京 工作", "我在北京\u200b工作", "我在北京\x07工作", "买了iPhone\u3000", "买了iPhone\u200b。",
             "北京\u3000\u200b上海"]
    assert [annotator.annotate([text]).entities.tolist() for text in texts] == [
        [[2, 4, 0]], [], [], [[2, 3, 1]], [], []]
    batch = annotator.annotate(texts)
    assert batch_sentences(annotator, texts) == sentence_by_sentence(annotator, texts) and len(batch.entities) == 2


# Sentences that meet inside a jieba block ("." between ideographs, "..." before a letter), ASCII runs
# that the fast backend repairs, extension ideographs, a sentence of format characters alone (no
# tokens), Windows line ends.
BLOCK_EDGES = [
    "响应.结果显示P<0.05.方法采用c++和AT&T的COVID-19检测。", "好的...abc我们走!x-y.中", "㐀中文𠀀字鿖。x.y",
    "\u200b\u200c\n中\u200b.文。\r\n第二段.第三句...", "关系.认为这样做c#.net框架5.5%的人",
]


@pytest.mark.parametrize("name,hmm", [("jieba", True), ("jieba", False), ("jieba-reference", True)])
def test_block_segmenters_cut_a_batch_as_they_cut_each_sentence(tools, wudao_sample_dir, name, hmm):
    _, tokenizer = tools
    annotator = BatchAnnotator(create_segmenter(name, hmm), EntityMatcher(load_lexicons([])), tokenizer)
    records = json.loads((wudao_sample_dir / "part-0001.json").read_text())
    texts = BLOCK_EDGES + [d["content"] for d in records[:60]] + BLOCK_EDGES
    assert batch_sentences(annotator, texts) == sentence_by_sentence(annotator, texts)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet="的中国是在我们年测射线.。！…\n \u200bAT&c+#09-%x", max_size=25), max_size=4))
def test_any_batch_of_short_texts_is_cut_as_sentence_by_sentence(texts):
    annotator = _hypothesis_annotator()
    assert batch_sentences(annotator, texts) == sentence_by_sentence(annotator, texts)


@cache
def _hypothesis_annotator() -> BatchAnnotator:
    from tests.conftest import BERT_VOCAB, require_shared

    tokenizer = BertChineseTokenizer(load_vocab(require_shared(BERT_VOCAB)))
    return BatchAnnotator(create_segmenter("jieba"), EntityMatcher(load_lexicons([])), tokenizer)


def test_pkuseg_gets_a_batch_of_sentences_and_cuts_them_as_one_by_one(tools, wudao_sample_dir):
    _, tokenizer = tools
    annotator = BatchAnnotator(create_segmenter("pkuseg"), EntityMatcher(load_lexicons([])), tokenizer)
    records = json.loads((wudao_sample_dir / "part-0000.json").read_text())
    texts = BLOCK_EDGES + [d["content"] for d in records[:12]]
    assert batch_sentences(annotator, texts) == sentence_by_sentence(annotator, texts)


class _DroppingSegmenter:
    """Loses the last character of each sentence: a segmenter that breaks the contract."""

    name = "dropping"

    def cut(self, text: str) -> list[str]:
        return [text[:-1]]

    def cut_many(self, texts: list[str]) -> list[list[str]]:
        return [self.cut(text) for text in texts]


def test_a_segmenter_that_does_not_cover_its_input_is_an_error(tools):
    _, tokenizer = tools
    annotator = BatchAnnotator(_DroppingSegmenter(), EntityMatcher(load_lexicons([])), tokenizer)
    with pytest.raises(RuntimeError, match="does not cover"):
        annotator.annotate(["第一句。第二句！", "第三句"])
