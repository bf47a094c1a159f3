import numpy as np
import pytest

from pipeline.annotate import NO_ENTITIES, TokenizedSentence
from pipeline.config import SopConfig
from pipeline.sop import build_examples, split_long_sentences
from schemas.manifest import SpecialTokens

SPECIAL = SpecialTokens(pad=0, unk=100, cls=101, sep=102, mask=103)


def sentence(length: int, first_id: int = 1000, entity: tuple[int, int] | None = None) -> TokenizedSentence:
    word_start = np.zeros(length, bool)
    word_start[::2] = True
    entities = np.array([[*entity, 0]]) if entity else NO_ENTITIES
    return TokenizedSentence(np.arange(first_id, first_id + length, dtype=np.int32), word_start, entities)


def random_document(rng: np.random.Generator) -> list[TokenizedSentence]:
    count = int(rng.integers(1, 12))
    return [sentence(int(rng.integers(1, 90)), 1000 + 100 * i, entity=(0, 1)) for i in range(count)]


@pytest.mark.parametrize("max_seq_len", [16, 64, 128])
def test_rows_respect_layout_and_length(max_seq_len):
    rng = np.random.default_rng(0)
    config = SopConfig(max_seq_len=max_seq_len)
    for _ in range(300):
        for example in build_examples(random_document(rng), config, SPECIAL, rng):
            ids = example.input_ids.tolist()
            assert len(ids) <= max_seq_len
            assert ids[0] == SPECIAL.cls and ids[-1] == SPECIAL.sep
            assert ids[example.len_a - 1] == SPECIAL.sep
            assert ids.count(SPECIAL.sep) == (1 if example.sop_label == -1 else 2)
            assert (example.sop_label == -1) == (example.len_a == len(ids))
            assert len(example.word_start) == len(ids) and example.word_start[[0, example.len_a - 1, -1]].all()
            for start, end, _ in example.entities.tolist():
                assert 0 < start < end <= len(ids) - 1
                assert (end <= example.len_a - 1) or (start >= example.len_a)


def test_pairs_keep_sentence_order_unless_swapped():
    rng = np.random.default_rng(1)
    doc = [sentence(5, 1000 + 100 * i) for i in range(6)]
    for _ in range(50):
        for example in build_examples(doc, SopConfig(max_seq_len=512), SPECIAL, rng):
            a = example.input_ids[1 : example.len_a - 1]
            b = example.input_ids[example.len_a : -1]
            in_order = a[-1] < b[0]
            assert in_order == (example.sop_label == 0)


def test_swap_labels_are_balanced_over_many_documents():
    rng = np.random.default_rng(2)
    labels = [e.sop_label for _ in range(2000)
              for e in build_examples(random_document(rng), SopConfig(max_seq_len=128), SPECIAL, rng)]
    pairs = [label for label in labels if label >= 0]
    assert len(pairs) > 1000
    assert abs(np.mean(pairs) - 0.5) < 0.04


def test_single_sentence_document_gets_label_minus_one():
    [example] = build_examples([sentence(7)], SopConfig(), SPECIAL, np.random.default_rng(0))
    assert example.sop_label == -1 and example.len_a == 9 and len(example.input_ids) == 9


def test_same_rng_seed_gives_same_examples():
    doc = random_document(np.random.default_rng(3))
    first = build_examples(doc, SopConfig(max_seq_len=64), SPECIAL, np.random.default_rng(9))
    second = build_examples(doc, SopConfig(max_seq_len=64), SPECIAL, np.random.default_rng(9))
    assert all(np.array_equal(a.input_ids, b.input_ids) for a, b in zip(first, second))


def test_long_sentences_split_at_word_starts_without_losing_tokens():
    long = sentence(50)
    pieces = split_long_sentences([long], 12)
    assert np.array_equal(np.concatenate([p.ids for p in pieces]), long.ids)
    assert all(len(p) <= 12 and p.word_start[0] for p in pieces)
