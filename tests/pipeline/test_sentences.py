import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.sentences import split_sentences


def test_closing_quotes_stay_with_their_sentence():
    assert split_sentences("他说：“好。”然后走了！") == ["他说：“好。”", "然后走了！"]


def test_ellipsis_semicolon_and_newline_end_sentences():
    assert split_sentences("等等……好吧；嗯\n下一段") == ["等等……", "好吧；", "嗯", "下一段"]


def test_ascii_period_ends_a_sentence_only_between_ideographs():
    assert split_sentences("关系.认为价格是3.5元.") == ["关系.", "认为价格是3.5元."]


def test_joining_sentences_loses_only_whitespace():
    text = "第一句。 第二句！\n\n第三句？结尾没有标点"
    assert "".join(split_sentences(text)) == text.replace(" ", "").replace("\n", "")


# The rule as one regex (what `sentence_spans` computed before it went columnar): the spec the array
# operations must meet, match for match.
_CLOSERS = re.escape("”’\"'）)】」』》〉]")
_END = re.compile(
    rf"(?:[。！？!?；;]+|…+|\.{{3,}}|(?<=[\u4e00-\u9fff])\.(?=[\u4e00-\u9fff]))[{_CLOSERS}]*|\n+"
)


def _regex_sentences(text: str) -> list[str]:
    ends = [match.end() for match in _END.finditer(text)]
    pieces = [text[start:end].strip() for start, end in zip([0] + ends, ends + [len(text)])]
    return [piece for piece in pieces if piece]


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="。！？!?；;….\n ”’\"'）)】」』》〉]中文a1\U00020000\u3000\t", max_size=20))
def test_sentences_end_where_the_rule_as_a_regex_ends_them(text):
    assert split_sentences(text) == _regex_sentences(text)


def test_real_documents_split_as_the_rule_as_a_regex_splits_them(wudao_sample_dir):
    texts = [d["content"] for d in json.loads((wudao_sample_dir / "part-0000.json").read_text())]
    assert [split_sentences(t) for t in texts] == [_regex_sentences(t) for t in texts]
