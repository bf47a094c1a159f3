"""KDM units end to end: entity spans land exactly on WordPiece tokens (Latin words, digits, mixed
text), and in real `prepare` output no entity span crosses a [SEP] or splits a word."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge.lexicon import LexiconOptions, build_lexicon, jieba_dictionary
from knowledge.matcher import EntityMatcher
from pipeline.annotate import BatchAnnotator
from pipeline.clean import normalize_text
from pipeline.config import PrepareConfig
from pipeline.beam.prepare import PrepareRequest, run_prepare
from pipeline.segment import create_segmenter
from pipeline.tokenize import BertChineseTokenizer
from pipeline.vocab import load_vocab
from runners.local import local_options
from schemas.manifest import SHARDS_DIR, read_manifest
from tests.conftest import SAMPLE_CORPUS, SHARED_DATA, require_shared

MIXED_ENTITIES = ["iPhone", "iPhone12", "华为P40", "P40", "2021年", "5999元", "COVID-19", "New York",
                  "GPT4", "3D打印", "5G网络", "A股", "T恤", "卡拉OK"]
MIXED_DOCS = [
    "华为P40Pro发布会在2021年9月举行，iPhone12售价5999元，iPhones卖得不错。",
    "COVID-19疫情期间，New York的3D打印工厂转产口罩，5G网络覆盖了全市。",
    "他在A股市场买了GPT4概念股，又去商场买了T恤，晚上去卡拉OK唱歌。",
    "我的iPhone坏了，换了一台华为P40，P40Pro太贵，2021年的5999元不便宜。",
]


class CharacterSegmenter:
    """Every character a word: every position is a word boundary, so only the token alignment can
    keep an entity from ending inside a WordPiece token."""

    name = "characters"

    def cut(self, text: str) -> list[str]:
        return list(text)


@pytest.fixture(scope="module")
def tokenizer(bert_vocab_path) -> BertChineseTokenizer:
    return BertChineseTokenizer(load_vocab(bert_vocab_path))


@pytest.fixture(scope="module")
def jieba_mixed(tokenizer) -> BatchAnnotator:
    return BatchAnnotator(create_segmenter("jieba"), EntityMatcher(mixed_lexicon()), tokenizer)


def mixed_lexicon():
    return build_lexicon(((e, "mixed", 1.0) for e in MIXED_ENTITIES), normalize_text)


def entity_texts(batch, tokenizer: BertChineseTokenizer) -> list[str]:
    tokens = tokenizer.vocab.tokens
    return ["".join(tokens[i].removeprefix("##") for i in batch.ids[s:e]) for s, e, _ in batch.entities.tolist()]


def test_latin_digit_and_mixed_entities_cover_whole_tokens_with_jieba(tokenizer, jieba_mixed):
    batch = jieba_mixed.annotate([normalize_text(d) for d in MIXED_DOCS])
    found = entity_texts(batch, tokenizer)
    assert {"iphone12", "2021年", "5999元", "newyork", "3d打印", "covid-19"} <= set(found)
    assert found.count("iphone") == 1  # 我的iPhone, not iPhones: the entity must not split a word


def test_entity_ending_inside_a_wordpiece_token_is_dropped_not_stretched(tokenizer):
    lexicon = build_lexicon([("iPhone", "x", 1.0), ("202", "x", 1.0), ("华为P4", "x", 1.0)], normalize_text)
    annotator = BatchAnnotator(CharacterSegmenter(), EntityMatcher(lexicon), tokenizer)
    batch = annotator.annotate(["买了iPhones和华为P40，在2021年。"])
    assert batch.entities.tolist() == []  # every match ends inside a token (iphone|s, p4|0, 202|1)


def test_entity_never_starts_or_ends_between_a_wordpiece_and_its_continuation(tokenizer):
    lexicon = build_lexicon([(e, "x", 1.0) for e in ["iphone", "phone", "hones", "40", "P40"]], normalize_text)
    annotator = BatchAnnotator(CharacterSegmenter(), EntityMatcher(lexicon), tokenizer)
    batch = annotator.annotate(["iphones和P40Pro，iphone与P40。"])
    tokens = tokenizer.vocab.tokens
    for start, end, _ in batch.entities.tolist():
        assert not tokens[batch.ids[start]].startswith("##")
        assert end == len(batch.ids) or not tokens[batch.ids[end]].startswith("##")
    assert entity_texts(batch, tokenizer) == ["iphone", "p40"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(st.sampled_from(
    MIXED_ENTITIES + ["手机", "发布", "s", "Pro", "0", "12", " ", "，", "。", "的", "x", "年"]), max_size=25))
def test_generated_mixed_text_yields_spans_on_token_and_word_boundaries(tokenizer, jieba_mixed, pieces):
    batch = jieba_mixed.annotate([normalize_text("".join(pieces))])
    check_units(batch.ids, batch.word_start, batch.entities, tokenizer.vocab.tokens, n_types=1)


def check_units(ids, word_start, entities, tokens, n_types: int, special=()) -> None:
    """The KDM unit invariants: inside one segment, whole words, whole WordPiece words, no overlap."""
    previous_end = 0
    for start, end, type_index in np.asarray(entities).tolist():
        assert 0 <= start < end <= len(ids) and 0 <= type_index < n_types
        assert start >= previous_end, "entity spans overlap or are out of order"
        previous_end = end
        assert not set(np.asarray(ids[start:end]).tolist()) & set(special), "entity covers a special token"
        assert word_start[start], "entity starts inside a word"
        assert end == len(ids) or word_start[end], "entity ends inside a word"
        assert not tokens[ids[start]].startswith("##")
        assert end == len(ids) or not tokens[ids[end]].startswith("##")


@pytest.fixture(scope="module")
def prepared_with_lexicons(tmp_path_factory, bert_vocab_path) -> Path:
    """Real `prepare` output: the sample corpus plus mixed Latin/digit documents, with jieba's proper
    nouns, every THUOCL list and a word list of mixed entities."""
    root = tmp_path_factory.mktemp("kdm")
    thuocl = sorted(require_shared(SHARED_DATA / "thuocl").glob("THUOCL_*.txt"))
    words = root / "mixed.txt"
    words.write_text("\n".join(MIXED_ENTITIES) + "\n", encoding="utf-8")
    mixed = root / "mixed.jsonl"
    mixed.write_text("".join(json.dumps({"id": f"mixed-{i}", "text": d}, ensure_ascii=False) + "\n"
                             for i, d in enumerate(MIXED_DOCS * 3)), encoding="utf-8")
    output = root / "out"
    specs = [f"jieba:{jieba_dictionary()}", *map(str, thuocl), f"words:mixed:{words}"]
    run_prepare(PrepareRequest([str(SAMPLE_CORPUS / "*.json"), str(mixed)], str(output), PrepareConfig(),
                               vocab_path=str(bert_vocab_path), lexicon_paths=specs,
                               lexicon_options=LexiconOptions(skip_malformed=True)), local_options(1))
    return output


@pytest.fixture(scope="module")
def prepared_rows(prepared_with_lexicons):
    manifest = read_manifest(prepared_with_lexicons)
    table = pq.read_table(sorted((prepared_with_lexicons / SHARDS_DIR).glob("*.parquet"))).to_pylist()
    return manifest, table


def test_manifest_lists_the_types_of_every_source_and_the_summary_counts_them(prepared_with_lexicons, prepared_rows):
    manifest, rows = prepared_rows
    assert {"person", "place", "organization", "proper_noun", "idiom", "it_term", "mixed"} <= set(manifest.entity_types)
    counted = {k.removeprefix("entities."): v for k, v in manifest.stats.items() if k.startswith("entities.")}
    in_rows = {}
    for row in rows:
        for t in row["entity_type"]:
            in_rows[manifest.entity_types[t]] = in_rows.get(manifest.entity_types[t], 0) + 1
    assert counted == in_rows and sum(in_rows.values()) > 1000 and in_rows["mixed"] > 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_entity_span_crosses_a_sep_or_splits_a_word(prepared_rows, tokenizer, data):
    manifest, rows = prepared_rows
    row = rows[data.draw(st.integers(0, len(rows) - 1), label="row")]
    ids, example_starts = row["input_ids"], np.cumsum([0, *row["example_len"]])  # a packed row: several examples
    special = manifest.special_tokens
    spans = list(zip(row["entity_start"], row["entity_end"], row["entity_type"]))
    check_units(ids, row["word_start"], spans, tokenizer.vocab.tokens, len(manifest.entity_types),
                special=(special.cls, special.sep, special.pad, special.mask))
    for start, end, _ in spans:
        k = int(np.searchsorted(example_starts, start, side="right")) - 1
        sep = example_starts[k] + row["len_a"][k]  # first token after the example's [CLS] A [SEP]
        assert end <= example_starts[k + 1] - 1, "entity crosses into the next example"
        assert end <= sep - 1 or start >= sep, "entity crosses the [SEP] between A and B"
