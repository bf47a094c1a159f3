import json

import numpy as np
import pyarrow as pa
import pytest

from knowledge.lexicon import load_lexicons
from knowledge.matcher import EntityMatcher
from pipeline.annotate import BatchAnnotator
from pipeline.config import SopConfig
from pipeline.rows import (
    CleanDocument,
    assemble_rows,
    batch_stats,
    build_rows,
    document_rng,
    split_by_chars,
)
from pipeline.segment import create_segmenter
from pipeline.sop import plan_rows
from pipeline.tokenize import BertChineseTokenizer
from pipeline.vocab import load_vocab


@pytest.fixture(scope="module")
def annotator_and_special(bert_vocab_path):
    vocab = load_vocab(bert_vocab_path)
    annotator = BatchAnnotator(create_segmenter("jieba"), EntityMatcher(load_lexicons([])), BertChineseTokenizer(vocab))
    return annotator, vocab.special_tokens


def rows_by_doc(docs, annotator, special, config) -> dict[str, list[dict]]:
    built = build_rows(docs, annotator, config, special, seed=1234)
    out: dict[str, list[dict]] = {}
    for row in built.batch.to_pylist():
        out.setdefault(row["doc_id"], []).append(row)
    return out


def test_a_document_gets_the_same_rows_in_any_batch(annotator_and_special, wudao_sample_dir):
    annotator, special = annotator_and_special
    records = json.loads((wudao_sample_dir / "part-0001.json").read_text())[:80]
    docs = [CleanDocument(r["uniqueKey"], "part-0001", r["content"]) for r in records if r["content"].strip()]
    config = SopConfig(max_seq_len=128)  # short rows: long sentences get cut, pairs get truncated
    whole = rows_by_doc(docs, annotator, special, config)
    halves = {**rows_by_doc(docs[:37], annotator, special, config), **rows_by_doc(docs[37:], annotator, special, config)}
    alone = {doc.doc_id: rows_by_doc([doc], annotator, special, config)[doc.doc_id] for doc in docs[::9]}
    assert len(whole) == len(docs) and whole == halves
    assert all(whole[doc_id] == rows for doc_id, rows in alone.items())


def test_documents_without_tokens_get_no_rows_and_zero_sentences(annotator_and_special):
    annotator, special = annotator_and_special
    docs = [CleanDocument("a", "s", "  \n "), CleanDocument("b", "s", "一句话。"), CleanDocument("c", "s", "")]
    built = build_rows(docs, annotator, SopConfig(), special, seed=1)
    assert built.sentences.tolist() == [0, 1, 0] and built.row_doc.tolist() == [1]


def test_batches_are_split_by_characters_keeping_order():
    docs = [CleanDocument(str(i), "s", "字" * n) for i, n in enumerate([5, 5, 5, 20, 1, 1])]
    parts = split_by_chars(docs, limit=10)
    assert [[d.doc_id for d in part] for part in parts] == [["0", "1"], ["2"], ["3"], ["4", "5"]]
    assert split_by_chars([], limit=10) == []


def test_each_document_is_planned_with_its_own_generator(annotator_and_special, wudao_sample_dir):
    """The batch-wide planning draws, for each document, what `document_rng(seed, doc_id)` draws."""
    annotator, special = annotator_and_special
    records = json.loads((wudao_sample_dir / "part-0000.json").read_text())[:120]
    docs = [CleanDocument(r["uniqueKey"], "part-0000", r["content"]) for r in records if r["content"].strip()]
    config = SopConfig(max_seq_len=96)  # long sentences cut, pairs truncated, several rows a document
    built = build_rows(docs, annotator, config, special, seed=77)
    annotated = annotator.annotate([doc.text for doc in docs])
    plans, cuts, doc_ids = [], [], []
    for index, doc in enumerate(docs):
        rows, doc_cuts = plan_rows(annotated.document_bounds(index).tolist(), annotated.word_start, config,
                                   document_rng(77, doc.doc_id))
        plans += rows
        cuts += doc_cuts
        doc_ids += [doc.doc_id] * len(rows)
    expected = assemble_rows(annotated, np.array(plans), np.array(cuts, dtype=np.int64), pa.array(doc_ids), special)
    assert len(cuts) > 0 and built.batch.num_rows > len(docs)
    assert built.batch.equals(expected)


@pytest.mark.parametrize("max_seq_len", [8, 512])
def test_tokens_trimmed_to_fit_max_seq_len_are_counted(annotator_and_special, wudao_sample_dir, max_seq_len):
    """Every content token of a batch is in an example or counted as trimmed (issue 24 item 14): at 8
    tokens a row, most of the text is cut away, and the count says so."""
    annotator, special = annotator_and_special
    records = json.loads((wudao_sample_dir / "part-0001.json").read_text())[:60]
    docs = [CleanDocument(r["uniqueKey"], "part-0001", r["content"]) for r in records if r["content"].strip()]
    built = build_rows(docs, annotator, SopConfig(max_seq_len=max_seq_len), special, seed=3)
    ids = built.batch.column("input_ids").flatten().to_numpy()
    in_examples = int(np.count_nonzero((ids != special.cls) & (ids != special.sep)))
    assert built.document_tokens == len(annotator.annotate([doc.text for doc in docs]).ids)
    assert built.document_tokens - built.trimmed_tokens == in_examples
    stats = batch_stats(built, tuple(load_lexicons([]).types))
    assert (stats["document_tokens"], stats.get("trimmed_tokens", 0)) == (built.document_tokens, built.trimmed_tokens)
    share = built.trimmed_tokens / built.document_tokens
    assert share > 0.4 if max_seq_len == 8 else share < 0.05


def test_example_in_doc_restarts_for_each_document_even_under_a_shared_id(annotator_and_special):
    """(doc_id, example_in_doc) names an example, and example_in_doc 0 marks each document's first one
    (validate counts kept documents by it): two documents with the same id side by side both start at 0."""
    annotator, special = annotator_and_special
    text = "北京是中国的首都。上海是中国的经济中心。广州是南方的城市。" * 6
    docs = [CleanDocument("same", "s", text), CleanDocument("same", "s", text), CleanDocument("other", "s", text)]
    built = build_rows(docs, annotator, SopConfig(max_seq_len=32), special, seed=1)
    example_in_doc = built.batch.column("example_in_doc").to_numpy()
    assert len(example_in_doc) > 3 * 2 and example_in_doc.tolist() == built.row_in_doc.tolist()
    assert np.count_nonzero(example_in_doc == 0) == 3
