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
