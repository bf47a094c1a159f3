import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pipeline.sop
from pipeline.annotate import AnnotatedBatch
from pipeline.config import SopConfig
from pipeline.rows import assemble_rows
from pipeline.sop import plan_batch, plan_rows, split_long_sentences
from schemas.manifest import SpecialTokens

SPECIAL = SpecialTokens(pad=0, unk=100, cls=101, sep=102, mask=103)


def document(lengths: list[int], entity_every_sentence: bool = False) -> AnnotatedBatch:
    """One document whose sentence i holds tokens 1000 + 100 * i, 1001 + 100 * i, ...; words of two tokens."""
    ids = np.concatenate([np.arange(1000 + 100 * i, 1000 + 100 * i + n) for i, n in enumerate(lengths)])
    bounds = np.concatenate(([0], np.cumsum(lengths)))
    word_start = np.zeros(len(ids), bool)
    for start, end in zip(bounds[:-1], bounds[1:]):
        word_start[start:end:2] = True
    entities = np.array([[start, start + 1, 0] for start in bounds[:-1]] if entity_every_sentence else [])
    return AnnotatedBatch(ids.astype(np.int32), word_start, entities.reshape(-1, 3).astype(np.int64),
                          bounds, np.array([0, len(lengths)]))


def rows_of(doc: AnnotatedBatch, config: SopConfig, rng: np.random.Generator) -> list[dict]:
    plans, cuts = plan_rows(doc.document_bounds(0).tolist(), doc.word_start, config, rng)
    batch = assemble_rows(doc, plans, cuts, pa.array(["doc"] * len(plans)), SPECIAL)
    return batch.to_pylist()


def random_document(rng: np.random.Generator) -> AnnotatedBatch:
    return document([int(rng.integers(1, 90)) for _ in range(int(rng.integers(1, 12)))], entity_every_sentence=True)


@pytest.mark.parametrize("max_seq_len", [16, 64, 128])
def test_rows_respect_layout_and_length(max_seq_len):
    rng = np.random.default_rng(0)
    config = SopConfig(max_seq_len=max_seq_len)
    for _ in range(300):
        for row in rows_of(random_document(rng), config, rng):
            ids, len_a, label = row["input_ids"], row["len_a"], row["sop_label"]
            assert len(ids) <= max_seq_len
            assert ids[0] == SPECIAL.cls and ids[-1] == SPECIAL.sep
            assert ids[len_a - 1] == SPECIAL.sep
            assert ids.count(SPECIAL.sep) == (1 if label == -1 else 2)
            assert (label == -1) == (len_a == len(ids))
            word_start = row["word_start"]
            assert len(word_start) == len(ids) and word_start[0] and word_start[len_a - 1] and word_start[-1]
            assert word_start[1] and (label == -1 or word_start[len_a])  # a segment opens a unit
            for start, end in zip(row["entity_start"], row["entity_end"]):
                assert 0 < start < end <= len(ids) - 1
                assert (end <= len_a - 1) or (start >= len_a)


def test_entities_keep_their_tokens_in_the_row():
    rng = np.random.default_rng(4)
    for _ in range(100):
        doc = random_document(rng)
        for row in rows_of(doc, SopConfig(max_seq_len=64), rng):
            for start, end in zip(row["entity_start"], row["entity_end"]):
                # every entity of `document` is one token at a sentence start: ids ending in 00
                assert end == start + 1 and row["input_ids"][start] % 100 == 0


def test_pairs_keep_sentence_order_unless_swapped():
    rng = np.random.default_rng(1)
    doc = document([5] * 6)
    for _ in range(50):
        for row in rows_of(doc, SopConfig(max_seq_len=512), rng):
            a = row["input_ids"][1 : row["len_a"] - 1]
            b = row["input_ids"][row["len_a"] : -1]
            assert (a[-1] < b[0]) == (row["sop_label"] == 0)


def test_swap_labels_are_balanced_over_many_documents():
    rng = np.random.default_rng(2)
    labels = [row["sop_label"] for _ in range(2000)
              for row in rows_of(random_document(rng), SopConfig(max_seq_len=128), rng)]
    pairs = [label for label in labels if label >= 0]
    assert len(pairs) > 1000
    assert abs(np.mean(pairs) - 0.5) < 0.04


def test_single_sentence_document_gets_label_minus_one():
    [row] = rows_of(document([7]), SopConfig(), np.random.default_rng(0))
    assert row["sop_label"] == -1 and row["len_a"] == 9 and len(row["input_ids"]) == 9




def test_long_sentences_split_at_word_starts_without_losing_tokens():
    doc = document([50])
    pieces, cuts = split_long_sentences(doc.document_bounds(0).tolist(), doc.word_start, 12)
    lengths = np.diff(pieces)
    assert pieces[0] == 0 and pieces[-1] == 50 and cuts == pieces[1:-1]
    assert (lengths <= 12).all() and doc.word_start[cuts].all()


def test_entity_crossed_by_a_long_sentence_cut_is_dropped():
    doc = document([30, 30])
    entities = np.array([[9, 11, 0], [12, 14, 0]])  # the first straddles the cut at 10
    doc = AnnotatedBatch(doc.ids, doc.word_start, entities, doc.sentence_bounds, doc.doc_sentences)
    spans = []
    for seed in range(30):
        plans, cuts = plan_rows(doc.document_bounds(0).tolist(), doc.word_start, SopConfig(max_seq_len=13),
                                np.random.default_rng(seed))
        assert 10 in cuts
        rows = assemble_rows(doc, plans, cuts, pa.array(["doc"] * len(plans)), SPECIAL).to_pylist()
        spans += [(row["input_ids"][s], row["input_ids"][e - 1]) for row in rows
                  for s, e in zip(row["entity_start"], row["entity_end"])]
    assert (1009, 1010) not in spans and (1012, 1013) in spans


def batch_of(documents: list[list[int]], word_start: list[bool]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sentence bounds, each document's first sentence, and word starts for documents of these sentence
    lengths laid end to end."""
    lengths = [length for doc in documents for length in doc]
    bounds = np.concatenate(([0], np.cumsum(lengths, dtype=np.int64)))
    doc_sentences = np.concatenate(([0], np.cumsum([len(doc) for doc in documents], dtype=np.int64)))
    flags = np.resize(np.array(word_start or [True]), int(bounds[-1]))
    flags[bounds[:-1]] = True
    return bounds, doc_sentences, flags


def plan_each(bounds, doc_sentences, word_start, config, seed, keys) -> tuple[list, list, list]:
    plans, row_doc, cuts = [], [], []
    for doc, key in enumerate(keys):
        doc_bounds = bounds[doc_sentences[doc] : doc_sentences[doc + 1] + 1].tolist()
        rows, doc_cuts = plan_rows(doc_bounds, word_start, config, np.random.default_rng([seed, key]))
        plans += [list(row) for row in rows]
        row_doc += [doc] * len(rows)
        cuts += doc_cuts
    return plans, row_doc, cuts


@settings(max_examples=300, deadline=None)
@given(documents=st.lists(st.lists(st.integers(1, 150), max_size=12), min_size=1, max_size=25),
       word_start=st.lists(st.booleans(), max_size=40),
       max_seq_len=st.sampled_from([5, 8, 16, 40, 128, 512]),
       short_seq_prob=st.sampled_from([0.0, 0.1, 0.6]),
       seed=st.integers(0, 2**40))
def test_batch_planning_equals_planning_each_document_with_its_own_generator(documents, word_start, max_seq_len,
                                                                            short_seq_prob, seed):
    bounds, doc_sentences, flags = batch_of(documents, word_start)
    config = SopConfig(max_seq_len=max_seq_len, short_seq_prob=short_seq_prob)
    keys = [int(k) for k in np.random.default_rng(seed).integers(0, 2**63, len(documents), dtype=np.int64)]
    expected = plan_each(bounds, doc_sentences, flags, config, seed, keys)
    for lockstep_min in (1, pipeline.sop.LOCKSTEP_MIN_DOCUMENTS):  # all in array rounds; Python for few
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(pipeline.sop, "LOCKSTEP_MIN_DOCUMENTS", lockstep_min)
            plan, row_doc, cuts = plan_batch(bounds, doc_sentences, flags, config, seed, np.array(keys, np.uint64))
        assert (plan.tolist(), row_doc.tolist(), cuts.tolist()) == expected


def test_batch_planning_covers_truncated_pairs_and_long_sentences_on_real_lengths():
    """Pairs over the budget draw binomials of every size NumPy inverts and some it does not."""
    rng = np.random.default_rng(11)
    documents = [rng.integers(1, 400 if doc % 8 == 0 else 150, int(rng.integers(0, 9))).tolist() for doc in range(400)]
    bounds, doc_sentences, flags = batch_of(documents, [True, False, False])
    config = SopConfig(max_seq_len=160)
    keys = list(range(len(documents)))
    plan, row_doc, cuts = plan_batch(bounds, doc_sentences, flags, config, 3, np.array(keys, dtype=np.uint64))
    expected = plan_each(bounds, doc_sentences, flags, config, 3, keys)
    assert len(cuts) > 50 and len(plan) > 500
    assert (plan.tolist(), row_doc.tolist(), cuts.tolist()) == expected


def test_a_documents_rows_follow_the_seed_and_its_key_not_its_place_in_the_batch():
    """A worker's batches hold whatever its bundles do: the same documents in another order, or with
    other neighbours, must get the same rows; another seed must get other ones."""
    rng = np.random.default_rng(3)
    documents = [rng.integers(1, 90, int(rng.integers(2, 12))).tolist() for _ in range(80)]
    keys = rng.integers(0, 2**63, len(documents), dtype=np.int64).astype(np.uint64)
    config = SopConfig(max_seq_len=64)

    def rows_by_key(order: list[int], seed: int) -> dict[int, list[tuple[int, ...]]]:
        bounds, doc_sentences, flags = batch_of([documents[i] for i in order], [True])  # the same in any order
        plan, row_doc, _ = plan_batch(bounds, doc_sentences, flags, config, seed, keys[order])
        first_token = bounds[doc_sentences[:-1]]
        rows: dict[int, list[tuple[int, ...]]] = {}
        for (a_start, a_end, b_start, b_end, label), doc in zip(plan.tolist(), row_doc.tolist()):
            offset = int(first_token[doc])  # positions within the document, wherever it sits in the batch
            rows.setdefault(int(keys[order[doc]]), []).append(
                (a_start - offset, a_end - offset, b_start - offset, b_end - offset, label))
        return rows

    forward = rows_by_key(list(range(len(documents))), 9)
    assert rows_by_key(list(range(len(documents)))[::-1], 9) == forward
    assert rows_by_key(list(range(0, len(documents), 2)), 9) == {k: forward[k] for k in keys[::2].tolist()}
    assert rows_by_key(list(range(len(documents))), 10) != forward
