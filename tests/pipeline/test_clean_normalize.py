"""Normalisation, PII and line rules of pipeline/clean*.py, on real WuDao text where it matters."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import opencc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.clean import (
    _T2S_PHRASE,
    ALL_STEPS,
    T2S_PHRASE_TRIGGERS,
    T2S_PHRASES,
    _normalize,
    _t2s_chars,
    clean_documents,
    clean_text,
    normalize_text,
    steps_needed,
)
from pipeline.clean_rules import (
    _URL_HINT,
    parse_boilerplate_rules,
    remove_pii,
    split_rule_lines,
)
from pipeline.config import CleanConfig
from schemas.errors import UserInputError


@pytest.fixture(scope="module")
def wudao_texts(wudao_sample_dir: Path) -> list[str]:
    return [r["content"] for path in sorted(wudao_sample_dir.glob("*.json"))
            for r in json.loads(path.read_text(encoding="utf-8"))]


def test_full_width_letters_and_digits_become_ascii_but_chinese_punctuation_stays():
    assert normalize_text("ＡＰＰ版本２，支持５Ｇ！……") == "APP版本2，支持5G！……"


def test_traditional_becomes_simplified_unless_kept():
    assert normalize_text("這個軟體很好用") == "这个软体很好用"  # t2s converts characters, not regional terms
    assert normalize_text("這個軟體很好用", to_simplified=False) == "這個軟體很好用"


def test_opencc_phrases_convert_even_when_each_character_alone_is_simplified():
    assert normalize_text("他沈默了，反覆思量") == "他沉默了，反复思量"


def test_invisible_characters_html_and_spacing_are_cleaned():
    raw = "<p>深度\u200b学习</p><script>x()</script>&amp;\ufeff 模型\u3000\u3000训练\r\n\r\n\r\n结束 "
    assert normalize_text(raw) == "深度学习\n& 模型 训练\n\n结束"


def test_steps_needed_skips_steps_without_changing_any_result_on_the_real_sample(wudao_texts):
    needs = steps_needed(wudao_texts)
    for text, need in zip(wudao_texts, needs):
        for pii in ("replace", "keep"):
            assert _normalize(text, True, pii, int(need)) == _normalize(text, True, pii, ALL_STEPS)


def test_a_texts_cleaning_does_not_depend_on_its_neighbours_in_the_batch(wudao_texts):
    """A worker's batches are whatever its bundles hold, so a text must come out the same in any of
    them: a dot that ends one text may not ask for the URL pass of the text before the next one's
    first letter, and a last text followed by empty ones keeps its last character in `steps_needed`."""
    article = "该应用由厦门小鱼网开发，提供本地生活资讯、同城活动和优惠信息，欢迎大家下载使用。"
    items = [("", f"{article}内网地址http://10.0.0.1."), ("", f"Android版{article}"),
             ("", f"{article}客服热线400-100-1953"), ("", ""), ("", "")]
    alone = [clean_text(title, text, CleanConfig()) for title, text in items]
    assert clean_documents(items, CleanConfig()) == alone
    assert alone[2][0].endswith("客服热线<phone>")
    texts = wudao_texts[:200] + [text for _, text in items]
    assert steps_needed(texts).tolist() == [steps_needed([text])[0] for text in texts]


def test_phrase_triggers_cover_every_phrase_opencc_changes():
    """Re-derives T2S_PHRASE_TRIGGERS from the installed dictionaries (opencc_dict ships with opencc)."""
    tool = Path(opencc.__file__).parent / "clib" / "bin" / "opencc_dict"
    phrases = tool.parent.parent / "share" / "opencc" / "TSPhrases.ocd2"
    if not tool.exists() or not phrases.exists():
        pytest.skip("this opencc build ships no opencc_dict tool to dump its dictionaries")
    dumped = subprocess.run([str(tool), "-i", str(phrases), "-o", "/dev/stdout", "-f", "ocd2", "-t", "text"],
                            capture_output=True, text=True, check=True).stdout
    convert = opencc.OpenCC("t2s").convert
    missing = set()
    for line in dumped.splitlines():
        key, values = line.split("\t")
        value = values.split(" ")[0]
        if key != value and len(key) == len(value):
            missing |= {k for k, v in zip(key, value) if k != v and convert(k) == k}
    assert missing <= set(T2S_PHRASE_TRIGGERS)


def test_a_text_whose_only_changing_characters_are_triggers_changes_only_through_a_listed_phrase():
    """Re-derives T2S_PHRASES: every dictionary entry OpenCC t2s changes whose characters change nowhere
    else (triggers aside) holds one of them, so a text without any of them converts to itself."""
    tool = Path(opencc.__file__).parent / "clib" / "bin" / "opencc_dict"
    share = tool.parent.parent / "share" / "opencc"
    if not tool.exists() or not (share / "TSPhrases.ocd2").exists():
        pytest.skip("this opencc build ships no opencc_dict tool to dump its dictionaries")
    assert json.loads((share / "t2s.json").read_text())["conversion_chain"][0]["dict"]["dicts"] == [
        {"type": "ocd2", "file": "TSPhrases.ocd2"},
        {"type": "ocd2", "file": "TSCharactersExt.ocd2", "may_output_tofu": True},
        {"type": "ocd2", "file": "TSCharacters.ocd2"},
    ]
    others = _t2s_chars() - set(T2S_PHRASE_TRIGGERS)
    convert = opencc.OpenCC("t2s").convert
    uncovered = []
    for name in ("TSPhrases.ocd2", "TSCharactersExt.ocd2", "TSCharacters.ocd2"):
        dumped = subprocess.run([str(tool), "-i", str(share / name), "-o", "/dev/stdout", "-f", "ocd2", "-t", "text"],
                                capture_output=True, text=True, check=True).stdout
        for line in dumped.splitlines():
            key = line.split("\t")[0]
            if others.isdisjoint(key) and convert(key) != key and not any(p in key for p in T2S_PHRASES):
                uncovered.append(key)
    assert uncovered == []
    assert set("".join(T2S_PHRASES)) & set(T2S_PHRASE_TRIGGERS) == set("坏藉覆沈瞭甦衹哩")
    assert convert("他说什么也不肯反覆思量，沈默了") == "他说什么也不肯反复思量，沉默了"


def test_opencc_runs_on_trigger_only_texts_exactly_when_a_phrase_is_there():
    for text in ("他说什么也不肯", "反覆思量", "沈\u200b默", "沈<b>默</b>", "深http://x.cn沈", "覆盖面"):
        need = int(steps_needed([text])[0])
        for pii in ("keep", "replace", "drop"):
            assert _normalize(text, True, pii, need) == _normalize(text, True, pii, ALL_STEPS), (text, pii)


def test_pii_is_replaced_by_default_dropped_or_kept_on_request():
    text = "客服邮箱support@xmfish.com，官网http//www.cctalk.com/app。热线400-100-1953，手机13812345678"
    assert remove_pii(text) == "客服邮箱<email>，官网<url>。热线<phone>，手机<phone>"
    assert remove_pii(text, drop=True) == "客服邮箱，官网。热线，手机"
    article = f"该应用由厦门小鱼网开发，提供本地生活资讯、同城活动和优惠信息，欢迎大家下载使用。{text}"
    assert clean_text("", article, CleanConfig(pii="keep"))[0] == article
    assert "<email>" in clean_text("", article, CleanConfig())[0]


def test_numbers_in_academic_text_are_not_taken_for_phones(wudao_texts):
    academic = "采集样品1 895～2 278根,其中2018年产量为12345678吨,编号20190312"
    assert remove_pii(academic) == academic


_ARTICLE = "该应用由厦门小鱼网开发，提供本地生活资讯、同城活动和优惠信息，欢迎大家下载使用。"
# Each (raw text, what replace makes of it): addresses that `steps_needed` used to wave through although the
# patterns match them (numeric hosts, full-width digits), and full-width ones the patterns missed.
_HIDDEN_PII = [
    ("内网地址https://192.168.1.1:8080，", "内网地址<url>，"),
    ("内网地址http://10.0.0.1。", "内网地址<url>。"),
    ("内网地址http://10.0.0.1/path", "内网地址<url>"),
    ("镜像www.123.com", "镜像<url>"),
    ("手机１３８１２３４５６７８联系", "手机<phone>联系"),
    ("手机138-１２３４-5678联系", "手机<phone>联系"),
    ("手机＋８６ １３８１２３４５６７８", "手机<phone>"),
    ("电话（０１０）１２３４５６７８", "电话<phone>"),
    ("电话０１０－１２３４５６７８转１２", "电话<phone>转12"),
    ("热线４００－１００－１９５３", "热线<phone>"),
    ("邮箱ｅｘａｍｐｌｅ＠ｑｑ．ｃｏｍ联系", "邮箱<email>联系"),
    ("邮箱example﹫qq.com联系", "邮箱<email>联系"),
    ("访问ｗｗｗ．ｂａｉｄｕ．ｃｏｍ了解", "访问<url>了解"),
    ("访问ｈｔｔｐ：／／ｗｗｗ．ｂａｉｄｕ．ｃｏｍ／ｎｅｗｓ。", "访问<url>。"),
    ("官网：www.baidu.com／news．", "官网：<url>．"),
]


@pytest.mark.parametrize("raw, replaced", _HIDDEN_PII)
def test_numeric_hosts_and_full_width_addresses_and_phones_are_replaced_or_dropped(raw, replaced):
    assert clean_text("", _ARTICLE + raw, CleanConfig())[0] == _ARTICLE + replaced
    dropped = clean_text("", _ARTICLE + raw, CleanConfig(pii="drop"))[0]
    assert dropped == _ARTICLE + replaced.replace("<url>", "").replace("<phone>", "").replace("<email>", "")
    assert clean_text("", _ARTICLE + raw, CleanConfig(pii="keep"))[0] == normalize_text(_ARTICLE + raw)


def test_steps_needed_lets_every_pattern_see_what_nfkc_and_invisible_characters_make():
    """`steps_needed` reads raw text; the patterns see it after NFKC and the invisible sweep, which can turn
    a full-width letter into ".com"'s "c", or join "/" and "/" around a zero-width space."""
    texts = [raw for raw, _ in _HIDDEN_PII] + [
        "见baidu.ｃｏｍ", "见http:/\u200b/x.cn", "见ｗｗｗ.163", "邮箱a\u200b@b.cn", "拨1381234\u200b5678",
        "见p/a@b.cn/x", "见a@b.cn.com", "拨１﹣３８１２３４５６７８", "见ｗｗｗ﹒163", "见http：//a.cn／ｘ",
        "拨1381234ｘ．ｃｎ5678", "拨1381234／／ｘ5678",
    ]
    for text, need in zip(texts, steps_needed(texts).tolist()):
        for pii in ("replace", "drop"):
            assert _normalize(text, True, pii, need) == _normalize(text, True, pii, ALL_STEPS), (text, pii)


@pytest.mark.parametrize("text", [
    "版本1.2.3于2019-03-12发布，v2.10.3修复了问题",
    "售价1299.00元，折后￥１２９９．００，共12345678份",
    "２０１９年３月１２日，圆周率3.14159265358979，编号１２３４５６７８９０１２",
    "（２０１９）１２３号文件，第１０－２０页，１２：３０开会",
    "＠张三 你好，邮件请发到邮箱",
    "第3．5节，Ｍｒ．Ｓｍｉｔｈ说，ａ／ｂ的值，ｅｔｃ．",
])
def test_numbers_dates_prices_versions_and_mentions_stay(text):
    for need in (ALL_STEPS, int(steps_needed([text])[0])):
        assert _normalize(text, True, "replace", need) == normalize_text(text)


def test_boilerplate_lines_go_and_the_article_stays():
    text = ("新疆棉花产量连续多年位居全国第一，种植面积稳中有升。\n"
            "责任编辑：张三\n"
            "点击查看更多精彩内容\n"
            "首页 > 新闻 > 正文\n"
            "版权所有 © 2019 某某网 All Rights Reserved\n"
            "【广告】限时特价")
    kept, reason = split_rule_lines(text, CleanConfig())
    assert reason is None
    assert kept == "新疆棉花产量连续多年位居全国第一，种植面积稳中有升。"


def test_a_short_article_that_merely_mentions_ads_is_not_boilerplate():
    text = "谈论中国广告,不是一件容易的事.由于中国广告业的发展出乎人们想象,引起全社会的广泛关注."
    assert split_rule_lines(text, CleanConfig()) == (text, None)


def test_a_page_of_boilerplate_only_is_rejected_by_name():
    assert split_rule_lines("点击查看\n责任编辑：李四", CleanConfig()) == ("", "boilerplate")


def test_user_rules_extend_the_built_in_ones():
    rules = parse_boilerplate_rules("# ours\n今日推荐.{0,20}\n", "rules.txt")
    text = "河北省小麦播种基本结束，出苗情况良好。\n今日推荐：种子"
    assert split_rule_lines(text, CleanConfig())[0] == text
    assert split_rule_lines(text, CleanConfig(boilerplate_rules=rules))[0] == "河北省小麦播种基本结束，出苗情况良好。"


def test_a_rule_that_does_not_compile_names_its_file_and_line():
    with pytest.raises(UserInputError, match="rules.txt:2"):
        parse_boilerplate_rules("ok\n(unclosed\n", "rules.txt")


def test_repeated_lines_are_dropped_after_their_first_occurrence():
    text = "第一段讲背景。\n第二段讲方法。\n第一段讲背景。"
    # 1 repeat of 3 lines = 33% > 30%: Gopher's rule rejects the page
    assert split_rule_lines(text, CleanConfig()) == ("", "duplicate_lines")
    long_text = "\n".join(["第一段讲背景。", "第二段讲方法。", "第三段讲结果。", "第四段讲讨论。", "第一段讲背景。"])
    assert split_rule_lines(long_text, CleanConfig())[0] == "\n".join(long_text.split("\n")[:4])


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="./wWcCoOmMnNiIfFtTpPxXyYzZeEdDgGrRvV中a1 ", max_size=12))
def test_the_url_hint_finds_what_the_plain_case_blind_pattern_finds(text):
    plain = re.compile(r"//|www\.|\.(?:com|cn|net|org|edu|gov|info|top|xyz|cc|io)", re.ASCII | re.IGNORECASE)
    assert bool(_URL_HINT.search(text)) == bool(plain.search(text))


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="".join(sorted(set("".join(T2S_PHRASES)))) + "的了a", max_size=8))
def test_the_phrase_search_finds_what_the_plain_alternation_finds(text):
    assert bool(_T2S_PHRASE.search(text)) == bool(re.compile("|".join(T2S_PHRASES)).search(text))
