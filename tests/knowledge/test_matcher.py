"""Leftmost-longest, non-overlapping matching, with and without segmentation boundaries."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge.lexicon import Lexicon
from knowledge.matcher import EntityMatcher


def lexicon_of(*entries: tuple[str, str]) -> Lexicon:
    types = tuple(sorted({t for _, t in entries}))
    return Lexicon(types, {surface: types.index(t) for surface, t in entries})


def reference_spans(lexicon: Lexicon, text: str, boundaries=None) -> list[tuple[int, int, int]]:
    """Every occurrence of every entry, then greedy by (start, longest): the definition, by brute force."""
    candidates = [
        (start, end, lexicon.entries[text[start:end]])
        for start in range(len(text)) for end in range(start + 1, len(text) + 1)
        if text[start:end] in lexicon.entries
        and (boundaries is None or (start in boundaries and end in boundaries))
    ]
    spans, last_end = [], 0
    for span in sorted(candidates, key=lambda c: (c[0], -c[1])):
        if span[0] >= last_end:
            spans.append(span)
            last_end = span[1]
    return spans


def test_longest_entry_wins_at_the_same_start():
    matcher = EntityMatcher(lexicon_of(("上海", "place"), ("上海市", "place"), ("上海市长", "person")))
    assert matcher.find("他是上海市长") == [(2, 6, 0)]


def test_leftmost_match_wins_over_a_longer_later_one():
    matcher = EntityMatcher(lexicon_of(("北京大", "x"), ("京大学生", "y")))
    assert matcher.find("北京大学生") == [(0, 3, 0)]


def test_matches_do_not_overlap_and_resume_after_the_taken_span():
    matcher = EntityMatcher(lexicon_of(("中国", "place"), ("国人", "x"), ("人民", "x")))
    assert matcher.find("中国人民") == [(0, 2, 0), (2, 4, 1)]


def test_boundaries_keep_an_entry_from_splitting_a_word():
    matcher = EntityMatcher(lexicon_of(("上海", "place")))
    words = ["上海市", "的", "上海", "人"]  # segmentation of 上海市的上海人
    starts = {0, 3, 4, 6, 7}
    assert matcher.find("".join(words), starts) == [(4, 6, 0)]


def test_a_shorter_entry_at_word_boundaries_replaces_a_longer_one_that_splits_a_word():
    matcher = EntityMatcher(lexicon_of(("南京", "place"), ("南京市长", "x"), ("长江大桥", "place")))
    text = "南京市长江大桥"  # segmented 南京市 | 长江大桥
    assert matcher.find(text) == [(0, 4, 1)]
    assert matcher.find(text, {0, 3, 7}) == [(3, 7, 0)]
    assert matcher.find(text, {0, 2, 3, 7}) == [(0, 2, 0), (3, 7, 0)]


def test_characters_beyond_the_basic_plane_count_as_one_offset():
    matcher = EntityMatcher(lexicon_of(("𠀀中", "x"), ("中国", "y")))
    assert matcher.find("a𠀀中国") == [(1, 3, 0)]


def test_an_empty_lexicon_finds_nothing():
    assert EntityMatcher(lexicon_of()).find("上海", {0, 2}) == []


ALPHABET = "上海市长江大桥南京"
ENTRY = st.text(alphabet=ALPHABET, min_size=1, max_size=4)


def assert_matches_brute_force(entries, text: str, cuts: set[int]) -> None:
    """Without and with word boundaries (the text's ends always count as boundaries)."""
    lexicon = lexicon_of(*entries)
    matcher = EntityMatcher(lexicon)
    boundaries = {c for c in cuts if c < len(text)} | {0, len(text)}
    assert matcher.find(text) == reference_spans(lexicon, text)
    assert matcher.find(text, boundaries) == reference_spans(lexicon, text, boundaries)


@settings(max_examples=300, deadline=None)
@given(
    entries=st.lists(st.tuples(ENTRY, st.sampled_from(["a", "b"])), min_size=1, max_size=12,
                     unique_by=lambda e: e[0]),
    text=st.text(alphabet=ALPHABET, max_size=30),
    cuts=st.sets(st.integers(0, 30)),
)
def test_fast_path_equals_brute_force_leftmost_longest(entries, text, cuts):
    assert_matches_brute_force(entries, text, cuts)


def test_an_entry_longer_than_the_head_is_found_through_its_trigger():
    matcher = EntityMatcher(lexicon_of(("上海交通", "a"), ("上海交通大学", "b"), ("交通大学", "c")))
    assert matcher.find("在上海交通大学读书") == [(1, 7, 1)]
    assert matcher.find("上海交通银行") == [(0, 4, 0)]
    assert matcher.find("上海交通大学生", {0, 4, 7}) == [(0, 4, 0)]  # 上海交通大学 would split 大学生
    assert matcher.find("上海交通大学", {0, 2, 6}) == [(0, 6, 1)]


def test_a_trigger_that_is_no_entry_falls_back_to_a_shorter_entry_at_its_start():
    matcher = EntityMatcher(lexicon_of(("上海", "a"), ("上海交通大学", "b")))
    assert matcher.find("上海交通银行") == [(0, 2, 0)]
    assert matcher.find("去上海交通大学") == [(1, 7, 1)]


LONG_ENTRY = st.text(alphabet="上海市长江大", min_size=1, max_size=9)


@settings(max_examples=400, deadline=None)
@given(
    entries=st.lists(st.tuples(LONG_ENTRY, st.sampled_from(["a", "b", "c"])), min_size=1, max_size=16,
                     unique_by=lambda e: e[0]),
    text=st.text(alphabet="上海市长江大", max_size=40),
    cuts=st.sets(st.integers(0, 40)),
)
def test_entries_longer_than_the_automaton_keys_equal_brute_force(entries, text, cuts):
    assert_matches_brute_force(entries, text, cuts)


def test_the_longest_long_entry_is_found_past_a_greater_entry_that_is_no_prefix():
    # rows of the trigger 上海交通: 上海交通大 < 上海交通大学城 < text 上海交通大学生
    matcher = EntityMatcher(lexicon_of(("上海交通大", "a"), ("上海交通大学城", "b")))
    assert matcher.find("上海交通大学生") == [(0, 5, 0)]


def test_a_two_character_match_that_splits_a_word_lets_an_entry_start_at_its_second_character():
    matcher = EntityMatcher(lexicon_of(("中国", "a"), ("国人民", "b")))
    assert matcher.find("中国人民", {0, 1, 4}) == [(1, 4, 1)]  # segmented 中 | 国人民
    assert matcher.find("中国人民", {0, 3, 4}) == []  # 中国 and 国人民 both split a word


def test_a_lexicon_of_more_than_16383_characters_matches_as_a_small_one():
    # past 16,383 distinct characters the automaton's encoding takes four bytes a character
    chars = [chr(c) for c in range(0x4E00, 0x4E00 + 17000)]
    entries = [(a + b, "x") for a, b in zip(chars[::2], chars[1::2])] + [("上海市长", "y"), ("𠀀中", "y")]
    lexicon = lexicon_of(*entries)
    matcher = EntityMatcher(lexicon)
    text = "a𠀀中" + "".join(chars[100:140]) + "他是上海市长" + "".join(chars[301:341])
    assert matcher.find(text) == reference_spans(lexicon, text)
    cuts = set(range(1, len(text), 2)) | {0, len(text)}
    assert matcher.find(text, cuts) == reference_spans(lexicon, text, cuts)
