"""Document-level quality filters (pipeline/quality.py): each rule fires on what it is for and spares
real Chinese text."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pipeline.clean import clean_documents
from pipeline.config import CleanConfig
from pipeline.quality import _JoinedTexts, quality_reasons

ARTICLE = ("本文研究了贵州东南部的天柱、锦屏和黎平地区的地质构造特征、该区金矿床特征及其与地质构造的关系。"
           "认为区内北部和南部相距数十公里的两条近东西向的基底剪切断裂带构成了本区地堑式的构造格局。")


def reason(text: str, **overrides) -> str | None:
    return quality_reasons([text], CleanConfig(**overrides))[0]


@pytest.fixture(scope="module")
def wudao_items(wudao_sample_dir: Path) -> list[tuple[str, str]]:
    return [(r["title"], r["content"]) for path in sorted(wudao_sample_dir.glob("*.json"))
            for r in json.loads(path.read_text(encoding="utf-8"))]


def test_real_article_passes_every_filter():
    assert reason(ARTICLE) is None


def test_length_limits():
    assert reason("金矿床特征") == "too_short"
    assert reason(ARTICLE, max_chars=50) == "too_long"
    assert reason("") == "empty"


def test_mostly_latin_text_fails_the_cjk_ratio():
    assert reason("Bug fixes and improvements. Copy text in lessons. 修复问题") == "low_cjk_ratio"


def test_decoration_fails_the_symbol_ratio_but_chemistry_does_not():
    assert reason("◆◆◆◆史上最受欢迎斗地主◆◆◆◆荣获最佳游戏奖◆◆◆◆★★★★★三人四人单机斗地主★★★") == "high_symbol_ratio"
    chemistry = "测定了海藻酸根与Pb2+、Ca2+、Zn2+和Mn2+等典型金属离子的络合能力,络合常数为6.4×106,表明与Pb2+的络合能力最强."
    assert reason(chemistry) is None


def test_number_tables_fail_the_digit_ratio():
    table = "2019年各月销量：一月12003件，二月13507件，三月14208件，四月15806件，五月16301件，六月17104件，七月18902件"
    assert reason(table) == "high_digit_ratio"
    assert reason("2019年全省粮食总产量达到1200万吨，比上年增长3.5%，其中小麦产量为450万吨。") is None


def test_menus_fail_the_sentence_length_and_unpunctuated_spam_too():
    assert reason("首页\n新闻\n体育\n财经\n娱乐\n科技\n汽车\n房产\n教育") == "short_sentences"
    spam = "海量伴奏高品质曲库涵盖新歌热歌你想唱的都在这儿点歌台多维度伴奏分类丰富榜单更多贴心推荐等你发现" * 10
    assert reason(spam, max_duplicate_ngram_share=1.0, max_top_ngram_share=1.0) == "long_sentences"


def test_one_phrase_over_and_over_fails_the_top_ngram_rule():
    assert reason("好好学习，" * 20) == "repeated_top_ngram"


@pytest.mark.parametrize("size", [1, 7, 512])
def test_the_bucket_bound_never_undercounts_the_top_ngram(wudao_items, size):
    # quality_reasons sorts the n-grams only of the texts whose bound exceeds the rule's limit.
    texts = [text for _, text in wudao_items[:1024]] + ["好好学习，" * 20, "", "好"]
    for start in range(0, len(texts), size):
        batch = _JoinedTexts(texts[start: start + size])
        for n in (1, 3, 10):
            bound, top = batch.top_ngram_bound(n), batch.top_ngram(n)
            assert (bound >= top).all()
    assert (_JoinedTexts(texts[:512]).top_ngram_bound(3) < _JoinedTexts(texts[:512]).lengths / 10).mean() > 0.95


def test_a_strict_top_ngram_limit_decides_as_the_exact_counts_do(wudao_items):
    texts = [text for _, text in wudao_items[:512]]
    config = CleanConfig(max_top_ngram_share=0.1)
    batch = _JoinedTexts(texts)
    exact = batch.top_ngram(3) * 3 / [max(len(t), 1) for t in texts] > 0.1
    reasons = quality_reasons(texts, config)
    assert exact.sum() > 20
    for text, fails, name in zip(texts, exact, reasons):
        if name is None or name in ("repeated_top_ngram", "repeated_ngrams", "list_page", "ellipsis_lines"):
            assert (name == "repeated_top_ngram") == (fails and len(text) >= config.repetition_min_chars)


def test_a_block_repeated_fails_the_duplicate_ngram_rule():
    block = "支持使用文本、图片、表情和买家畅聊；支持创建和使用快捷回复；在接受咨询的同时可快速核对订单。"
    assert reason(f"{block}更新内容{block}") == "repeated_ngrams"
    assert reason(f"{block}更新内容修复已知问题。") is None


def test_bulleted_pages_are_list_pages_and_truncated_lines_are_named():
    listing = "\n".join(f"{i}、第{i}款产品介绍，欢迎选购" for i in range(1, 8))
    assert reason(listing) == "list_page"
    heads = ["央行宣布下调存款准备金率", "多地出台稳就业新举措", "新能源汽车销量再创新高", "秋粮收购工作全面展开"]
    teasers = "\n".join(f"{head}，详细内容请看…" for head in heads)
    assert reason(teasers) == "ellipsis_lines"


def test_the_wudao_sample_keeps_at_least_97_percent(wudao_items):
    results = []
    for start in range(0, len(wudao_items), 256):
        results += clean_documents(wudao_items[start: start + 256], CleanConfig())
    reasons = Counter(r for _, r in results)
    assert reasons[None] >= 0.97 * len(wudao_items), reasons


def test_batching_does_not_change_any_decision(wudao_items):
    items = wudao_items[:600]
    whole = clean_documents(items, CleanConfig())
    pieces = [r for start in range(0, len(items), 7) for r in clean_documents(items[start: start + 7], CleanConfig())]
    assert whole == pieces
