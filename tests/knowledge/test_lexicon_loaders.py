"""Lexicon loaders on the real THUOCL lists and on small files of every format: types, errors with file
and line, skip-and-count, filters and duplicate resolution."""
from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.lexicon import (
    LexiconOptions, default_stop_words, load_lexicons, read_stop_words,
)
from knowledge.sources import LexiconSource, parse_source
from pipeline.clean import normalize_text
from schemas.errors import UserInputError
from tests.conftest import SHARED_DATA, require_shared

THUOCL = SHARED_DATA / "thuocl"


def normalize(text: str) -> str:
    return normalize_text(text)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def diming() -> Path:
    return require_shared(THUOCL / "THUOCL_diming.txt")


def malformed_thuocl_lines(path: Path) -> list[int]:
    """Independent of the loader: the file's lines split on any newline, BOM removed."""
    lines = path.read_bytes().decode("utf-8").removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    bad = []
    for number, line in enumerate(lines.split("\n"), start=1):
        fields = line.split("\t")
        if line.strip() and (len(fields) != 2 or not fields[1].strip().isdigit()):
            bad.append(number)
    return bad


def test_thuocl_diming_with_bom_and_carriage_returns_fails_at_its_first_malformed_line(diming):
    first_bad = malformed_thuocl_lines(diming)[0]
    with pytest.raises(UserInputError, match=rf"THUOCL_diming\.txt:{first_bad}: expected 'word<TAB>frequency'"):
        load_lexicons([diming], normalize)


def test_skip_malformed_counts_every_bad_line_and_keeps_the_rest(diming):
    lexicon = load_lexicons([diming], normalize, LexiconOptions(skip_malformed=True))
    assert lexicon.counts["malformed_lines"] == len(malformed_thuocl_lines(diming)) > 0
    assert lexicon.types == ("place",)
    assert "北京" in lexicon.entries and "\ufeff中国" not in lexicon.entries and "中国" in lexicon.entries
    assert lexicon.counts["entries_read"] > 44_000 and len(lexicon) > 44_000


def test_every_thuocl_list_loads_with_its_type_from_the_file_name():
    files = sorted(require_shared(THUOCL).glob("THUOCL_*.txt"))
    lexicon = load_lexicons(files, normalize, LexiconOptions(skip_malformed=True))
    by_type = lexicon.entries_by_type()
    assert set(by_type) == {"it_term", "finance_term", "idiom", "place", "food", "person"}
    assert all(count > 1000 for count in by_type.values())
    assert not any(surface != surface.strip() for surface in lexicon.entries)  # THUOCL_IT pads with spaces


def test_an_explicit_type_overrides_the_file_name(diming):
    lexicon = load_lexicons([f"thuocl:location:{diming}"], normalize, LexiconOptions(skip_malformed=True))
    assert lexicon.types == ("location",)


@pytest.mark.parametrize("line, reason", [
    ("上海\n", "expected 'surface<TAB>type"),
    ("上海\tplace\t1\textra\n", "expected 'surface<TAB>type"),
    ("上海\t\t1\n", "expected 'surface<TAB>type"),
    ("上海\tplace\theavy\n", "weight 'heavy' is not a number"),
    ("上海\tplace\tnan\n", "weight 'nan' is not a number"),
])
def test_tsv_errors_name_file_and_line(tmp_path, line, reason):
    path = write(tmp_path, "entities.tsv", "# a comment\n北京\tplace\t2\n\n" + line)
    with pytest.raises(UserInputError, match=rf"entities\.tsv:4: {reason}"):
        load_lexicons([path], normalize)


def test_jieba_dictionary_types_come_from_proper_noun_tags(tmp_path):
    path = write(tmp_path, "user.dict", "周杰伦 100 nr\n长江 90 ns\n清华大学 80 nt\n吃饭 5000 v\n无标签词\n微信 70 nz\n")
    lexicon = load_lexicons([path], normalize)
    assert {s: lexicon.types[t] for s, t in lexicon.entries.items()} == {
        "周杰伦": "person", "长江": "place", "清华大学": "organization", "微信": "proper_noun"}


def test_jieba_line_with_a_bad_frequency_is_malformed(tmp_path):
    path = write(tmp_path, "user.dict", "周杰伦 100 nr\n长江 很多 ns\n")
    with pytest.raises(UserInputError, match=r"user\.dict:2: expected 'word \[frequency\] \[tag\]'"):
        load_lexicons([path], normalize)


def test_word_list_takes_its_type_from_the_spec(tmp_path):
    path = write(tmp_path, "brands.txt", "华为\n小米科技\n")
    lexicon = load_lexicons([f"words:brand:{path}"], normalize)
    assert lexicon.types == ("brand",) and set(lexicon.entries) == {"华为", "小米科技"}
    with pytest.raises(UserInputError, match="words:TYPE:PATH"):
        load_lexicons([f"words:{path}"], normalize)


def test_dbpedia_mentions_and_entity_names_without_disambiguation(tmp_path):
    path = write(tmp_path, "mention2entity.txt", "华仔\t刘德华（中国香港男演员）\n苹果\t苹果（水果）\t苹果公司\n坏行\n")
    with pytest.raises(UserInputError, match=r"mention2entity\.txt:3: expected 'mention<TAB>entity"):
        load_lexicons([path], normalize)
    lexicon = load_lexicons([path], normalize, LexiconOptions(skip_malformed=True, stop_words=frozenset()))
    assert set(lexicon.entries) == {"华仔", "刘德华", "苹果", "苹果公司"}


def test_format_comes_from_prefix_or_name_and_an_unknown_name_must_say_it():
    assert parse_source("/data/THUOCL_food.txt") == LexiconSource("thuocl", "/data/THUOCL_food.txt")
    assert parse_source("x/entities.tsv") == LexiconSource("tsv", "x/entities.tsv")
    assert parse_source("jieba:/d/my.txt") == LexiconSource("jieba", "/d/my.txt")
    assert parse_source("thuocl:gs://b/THUOCL_law.txt") == LexiconSource("thuocl", "gs://b/THUOCL_law.txt")
    assert parse_source("words:brand:gs://b/w.txt") == LexiconSource("words", "gs://b/w.txt", "brand")
    with pytest.raises(UserInputError, match="prefix it with one of"):
        parse_source("/data/names.txt")


def test_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(UserInputError, match="cannot read lexicon"):
        load_lexicons([tmp_path / "absent.tsv"], normalize)


def test_non_utf8_file_names_its_line(tmp_path):
    path = tmp_path / "gbk.tsv"
    path.write_bytes("北京\tplace\n".encode("utf-8") + "上海\tplace\n".encode("gbk"))
    with pytest.raises(UserInputError, match=r"gbk\.tsv:\d+: not UTF-8"):
        load_lexicons([path], normalize)


def test_filters_drop_short_entries_and_stop_words(tmp_path):
    path = write(tmp_path, "e.tsv", "京\tplace\n发展\tfinance\n医院\tplace\n协和医院\tplace\n")
    lexicon = load_lexicons([path], normalize)
    assert set(lexicon.entries) == {"协和医院"}
    assert lexicon.counts["dropped.too_short"] == 1 and lexicon.counts["dropped.stop_word"] == 2
    assert {"发展", "医院", "一个"} <= default_stop_words() and "中国" not in default_stop_words()


def test_custom_stop_list_replaces_the_default_and_is_normalised(tmp_path):
    path = write(tmp_path, "e.tsv", "發展\tfinance\n医院\tplace\n")
    stop = read_stop_words(write(tmp_path, "stop.txt", "发展\n"))
    lexicon = load_lexicons([path], normalize, LexiconOptions(stop_words=stop))
    assert set(lexicon.entries) == {"医院"}


def test_duplicates_keep_the_heaviest_type_across_sources(tmp_path):
    first = write(tmp_path, "a.tsv", "长城\tplace\t5\n黄河\tplace\t5\n")
    second = write(tmp_path, "b.tsv", "长城\tbrand\t9\n黄河\tbrand\t5\n")
    lexicon = load_lexicons([first, second], normalize)
    types = {s: lexicon.types[t] for s, t in lexicon.entries.items()}
    assert types == {"长城": "brand", "黄河": "brand"}  # a tie goes to the smaller type name
    assert lexicon.counts["dropped.duplicate"] == 2


def test_max_per_type_keeps_the_heaviest_entries(tmp_path):
    path = write(tmp_path, "e.tsv", "北京\tplace\t3\n上海\tplace\t9\n广州\tplace\t5\n李白\tperson\t1\n")
    lexicon = load_lexicons([path], normalize, LexiconOptions(max_per_type=2))
    assert set(lexicon.entries) == {"上海", "广州", "李白"}
    assert lexicon.counts["dropped.over_type_cap"] == 1


def test_default_lexicon_is_jiebas_proper_nouns():
    lexicon = load_lexicons([], normalize)
    assert lexicon.types == ("organization", "person", "place", "proper_noun")
    assert len(lexicon) > 90_000 and lexicon.entries["北京"] == lexicon.types.index("place")


def test_loaded_entries_are_a_sorted_mapping_equal_to_the_dict_they_replace(tmp_path):
    path = write(tmp_path, "e.tsv", "长江大桥\tplace\t2\n上海\tplace\t1\n𠀀中\tx\t1\n上海\tcity\t5\n")
    lexicon = load_lexicons([path], normalize)
    expected = {"上海": 0, "长江大桥": 1, "𠀀中": 2}
    assert lexicon.types == ("city", "place", "x")
    assert lexicon.entries == expected and dict(lexicon.entries.items()) == expected
    assert list(lexicon.entries) == sorted(expected) and list(lexicon.entries.values()) == [0, 1, 2]
    assert lexicon.entries["𠀀中"] == 2 and "上" not in lexicon.entries and lexicon.entries.get("上海市") is None
    with pytest.raises(KeyError):
        lexicon.entries["长江"]


def test_a_loaded_lexicon_survives_pickling_as_prepare_stages_it_for_workers(tmp_path):
    import pickle

    lexicon = load_lexicons([write(tmp_path, "e.tsv", "长江大桥\tplace\n上海\tcity\n")], normalize)
    staged = pickle.loads(pickle.dumps(lexicon, protocol=pickle.HIGHEST_PROTOCOL))
    assert staged == lexicon and dict(staged.entries.items()) == {"上海": 0, "长江大桥": 1}
