"""The dictionary replica holds what jieba's own Tokenizer holds after the same additions."""
from __future__ import annotations

import pytest

from pipeline.segment_dictionary import JiebaDictionary, UserDictEntry, read_user_dict
from pipeline.segment_jieba import FastJiebaSegmenter, JiebaReferenceSegmenter
from schemas.errors import UserInputError


@pytest.fixture(scope="module")
def jieba_tokenizer_factory():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)

    def make():
        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
        return tokenizer

    return make


def test_reading_dict_txt_gives_jieba_frequencies_and_total(jieba_tokenizer_factory):
    tokenizer = jieba_tokenizer_factory()
    freq, total = JiebaDictionary.read_jieba_dict()
    assert total == tokenizer.total  # 'B超' is listed twice: the total counts both lines
    assert freq == {word: count for word, count in tokenizer.FREQ.items() if count}


def test_suggested_frequencies_and_total_match_jieba_add_word(jieba_tokenizer_factory):
    words = ["二郎神", "封神榜", "COVID-19", "中国科学院计算所", "γ射线暴", "北京大", "ab", "3.5mm",
             "云计算平台", "云计算平台", "清华大学"]
    tokenizer = jieba_tokenizer_factory()
    fast = FastJiebaSegmenter(True, user_dict=[UserDictEntry(w, None) for w in words]
                              + [UserDictEntry("深度学习框架", 7)])
    for word in words:
        tokenizer.add_word(word)
    tokenizer.add_word("深度学习框架", 7)
    assert fast.dictionary.total == tokenizer.total
    for word in [*words, "深度学习框架"]:
        assert fast.dictionary.freq[word] == tokenizer.FREQ[word], word


def test_lexicon_words_jieba_keeps_whole_are_left_alone():
    fast = FastJiebaSegmenter(True)
    before = fast.dictionary.total
    assert fast.dictionary.add_lexicon_words(["北京大学", "中华人民共和国"]) == 0
    assert fast.dictionary.total == before
    assert fast.dictionary.add_lexicon_words(["二郎神数据管道"]) == 1


def test_lexicon_words_are_added_as_jieba_adds_them_one_after_the_other():
    """Lexicon words are cut many to a text; each addition still changes how the next ones cut (the
    repeated word is whole once added), and no word's characters run into its neighbours'."""
    words = ["二郎神数据", "二郎神数据", "北京大学", "a\r", "\nb", "x y", "γ射线暴", "𠀀山", "COVID-19", "卡尔·马克思",
             "3.5mm", "中\x00国", "测年好", "\r\n", "云计算平台", "云计算平台", "清华大学", "封神榜"] * 3
    fast = FastJiebaSegmenter(False, words)
    reference = JiebaReferenceSegmenter(False, words)._tokenizer
    assert fast.dictionary.total == reference.total
    assert {w: fast.dictionary.freq.get(w) for w in words} == {w: reference.FREQ.get(w) or None for w in words}


def test_user_dict_file_reads_like_jieba_load_userdict(tmp_path):
    path = tmp_path / "user.txt"
    path.write_text("\ufeff云计算 5\n创新办 3 i\n\n凱特琳 nz\n台中\n", encoding="utf-8")
    assert read_user_dict(path) == [UserDictEntry("云计算", 5), UserDictEntry("创新办", 3),
                                    UserDictEntry("凱特琳", None), UserDictEntry("台中", None)]


def test_user_dict_force_split_entry_is_refused(tmp_path):
    path = tmp_path / "user.txt"
    path.write_text("中将 0\n", encoding="utf-8")
    with pytest.raises(UserInputError, match=":1: frequency 0"):
        read_user_dict(path)


def test_missing_user_dict_is_a_user_error(tmp_path):
    with pytest.raises(UserInputError, match="cannot read user dictionary"):
        read_user_dict(tmp_path / "absent.txt")
