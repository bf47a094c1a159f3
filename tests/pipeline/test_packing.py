"""Packing whole examples into rows (layout 3.0): the packer against its plain twin, the rows against
the examples they hold, the shard contract's row checks, and the writer's windows against batching."""
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from knowledge.lexicon import load_lexicons
from knowledge.matcher import EntityMatcher
from pipeline.annotate import BatchAnnotator
from pipeline.beam import shard_writer
from pipeline.beam.layout import OutputPlan
from pipeline.beam.shard_writer import ShardWriter, window_ends
from pipeline.config import SopConfig
from pipeline.corpus_profile import ROW_TOKENS_STAT
from pipeline.packing import pack_examples, pack_lengths
from pipeline.rows import EXAMPLE_SCHEMA, CleanDocument, build_rows
from pipeline.segment import create_segmenter
from pipeline.tokenize import BertChineseTokenizer
from pipeline.vocab import load_vocab
from schemas import shard
from schemas import shard_checks as checks
from schemas.contract import ShardContract

MAX_SEQ_LEN = 256


def reference_pack(lengths: list[int], capacity: int) -> list[list[int]]:
    """Best-fit decreasing, read plainly: longest first (ties: earlier first), into the open row with the
    least room that still fits (ties: the row opened first); rows ordered by their first example."""
    rows: list[list[int]] = []
    room: list[int] = []
    for index in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        fits = [r for r in range(len(rows)) if room[r] >= lengths[index]]
        if fits:
            best = min(fits, key=lambda r: (room[r], r))
        else:
            rows.append([])
            room.append(capacity)
            best = len(rows) - 1
        rows[best].append(index)
        room[best] -= lengths[index]
    return sorted(sorted(row) for row in rows)


def _rows(order: np.ndarray, sizes: np.ndarray) -> list[list[int]]:
    return [part.tolist() for part in np.split(order, np.cumsum(sizes)[:-1])] if len(order) else []


@pytest.mark.parametrize("seed", range(6))
def test_packer_equals_its_plain_twin(seed):
    rng = np.random.default_rng(seed)
    capacity = int(rng.choice([8, 64, 512]))
    # Many ties (few distinct lengths) and many near-full examples, where tie-breaking decides the rows.
    lengths = rng.choice(np.arange(3, capacity + 1), size=int(rng.integers(1, 400))).tolist()
    if seed % 2:
        lengths = [min(capacity, 3 + length % 5) for length in lengths]
    order, sizes = pack_lengths(np.array(lengths), capacity)
    assert _rows(order, sizes) == reference_pack(lengths, capacity)
    assert sorted(order.tolist()) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in row) <= capacity for row in _rows(order, sizes))


def test_packer_refuses_an_example_longer_than_a_row():
    with pytest.raises(ValueError, match="1..8"):
        pack_lengths(np.array([3, 9]), 8)


@pytest.fixture(scope="module")
def sample_examples(bert_vocab_path, wudao_sample_dir) -> tuple[pa.Table, object]:
    """Real examples of the first 300 documents of the WuDao sample, with entities (jieba proper nouns)."""
    vocab = load_vocab(bert_vocab_path)
    annotator = BatchAnnotator(create_segmenter("jieba"), EntityMatcher(load_lexicons([])),
                               BertChineseTokenizer(vocab))
    records = json.loads((wudao_sample_dir / "part-0000.json").read_text(encoding="utf-8"))[:300]
    docs = [CleanDocument(r["uniqueKey"], "part-0000", r["content"]) for r in records if r["content"].strip()]
    built = build_rows(docs, annotator, SopConfig(max_seq_len=MAX_SEQ_LEN), vocab.special_tokens, seed=5)
    return pa.Table.from_batches([built.batch]), vocab.special_tokens


def _unpack(rows: pa.Table) -> list[dict]:
    """The examples a table of shard rows holds, read plainly row by row, in example coordinates."""
    examples = []
    for row in rows.to_pylist():
        offset = 0
        for k, length in enumerate(row[shard.EXAMPLE_LEN]):
            spans = [(s - offset, e - offset, t) for s, e, t in
                     zip(row[shard.ENTITY_START], row[shard.ENTITY_END], row[shard.ENTITY_TYPE])
                     if offset <= s < offset + length]
            examples.append({
                shard.INPUT_IDS: row[shard.INPUT_IDS][offset : offset + length],
                shard.LEN_A: row[shard.LEN_A][k],
                shard.WORD_START: row[shard.WORD_START][offset : offset + length],
                shard.ENTITY_START: [s for s, _, _ in spans],
                shard.ENTITY_END: [e for _, e, _ in spans],
                shard.ENTITY_TYPE: [t for _, _, t in spans],
                shard.SOP_LABEL: row[shard.SOP_LABEL][k],
                shard.DOC_ID: row[shard.DOC_ID][k],
                shard.EXAMPLE_IN_DOC: row[shard.EXAMPLE_IN_DOC][k],
            })
            offset += length
    return examples


@pytest.mark.parametrize("capacity", [MAX_SEQ_LEN, None])
def test_rows_hold_exactly_the_examples_and_keep_the_contract(sample_examples, capacity):
    examples, special = sample_examples
    rows = pack_examples(examples, capacity)
    assert rows.schema.equals(shard.SHARD_SCHEMA)
    by_key = {(e[shard.DOC_ID], e[shard.EXAMPLE_IN_DOC]): e for e in examples.to_pylist()}
    unpacked = _unpack(rows)
    assert len(unpacked) == len(by_key) == examples.num_rows  # every example once, named by (doc, index)
    assert all(example == by_key[(example[shard.DOC_ID], example[shard.EXAMPLE_IN_DOC])] for example in unpacked)
    assert sum(len(e[shard.ENTITY_START]) for e in unpacked) == len(pc.list_flatten(examples[shard.ENTITY_START]))
    derived = checks.derive_row_checks(rows, ShardContract(vocab_size=21128, max_seq_len=MAX_SEQ_LEN,
                                                           entity_type_count=1, pad_id=special.pad,
                                                           cls_id=special.cls, sep_id=special.sep,
                                                           mask_id=special.mask))
    rules = [checks.MISALIGNED_EXAMPLE_COLUMNS, checks.NOT_STARTING_WITH_CLS, checks.NOT_ONE_CLS,
             checks.NO_SEP_AT_LEN_A, checks.NOT_ENDING_WITH_SEP, checks.SINGLE_NOT_ONE_SEP,
             checks.PAIR_NOT_TWO_SEPS, checks.PAIR_WITHOUT_B, checks.SPANS_OUTSIDE_SEGMENT,
             checks.OVERLAPPING_SPANS, checks.UNSORTED_SPANS, checks.SPECIALS_NOT_WORD_START]
    assert (derived[rules] == 0).all().all()
    assert (derived[checks.EXAMPLE_TOKENS] == derived[checks.SEQ_LEN]).all()
    assert derived[checks.SEQ_LEN].max() <= MAX_SEQ_LEN
    if capacity is None:  # --no-pack: one example a row, in the examples' order
        assert (derived[checks.EXAMPLES] == 1).all()
        assert pc.list_flatten(rows[shard.DOC_ID]).to_pylist() == examples.column(shard.DOC_ID).to_pylist()
    else:  # packed: rows over 90% full (one example a row: about half), many holding several examples
        assert derived[checks.SEQ_LEN].sum() / (rows.num_rows * MAX_SEQ_LEN) > 0.9
        assert (derived[checks.EXAMPLES] > 1).mean() > 0.2


def test_window_ends_fall_on_document_starts_after_the_window_size(monkeypatch):
    monkeypatch.setattr(shard_writer, "WINDOW_EXAMPLES", 4)
    monkeypatch.setattr(shard_writer, "MAX_WINDOW_EXAMPLES", 9)
    #                 documents: a a a b b c c c c c c c c c c d
    example_in_doc = np.array([0, 1, 2, 0, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0])
    assert window_ends(example_in_doc, carried=0) == [5, 14]  # c starts at 5; c is cut at 5 + 9
    assert window_ends(example_in_doc[5:], carried=5) == [0, 9]  # 5 waiting: the window closes before c
    assert window_ends(example_in_doc[:3], carried=0) == []


def _write(tmp_path: Path, examples: pa.Table, batch_rows: list[int], pack_to: int | None, unk: int):
    plan = OutputPlan(output_dir=str(tmp_path), run_id="test-run", entity_types=())
    writer = ShardWriter(plan, 0, max_rows=60, pack_to=pack_to, unk_id=unk)
    start = 0
    for size in batch_rows:
        batch = examples.slice(start, size).combine_chunks().to_batches()
        writer.add(batch[0] if batch else pa.RecordBatch.from_pylist([], schema=EXAMPLE_SCHEMA), documents=1)
        start += size
    infos = writer.close()
    files = {info.file: (tmp_path / ".staging" / info.file).read_bytes() for info in infos}
    return infos, files, writer.stats


def _whole_documents(examples: pa.Table, pieces: int) -> list[int]:
    """Batch sizes that cut the examples into `pieces` batches of whole documents, as build_rows gives."""
    starts = np.flatnonzero(examples.column(shard.EXAMPLE_IN_DOC).to_numpy() == 0)
    cuts = [int(starts[i]) for i in np.linspace(0, len(starts) - 1, pieces + 1)[1:-1].astype(int)]
    return np.diff([0, *cuts, examples.num_rows]).tolist()


def test_shards_are_byte_identical_however_the_examples_are_batched(sample_examples, tmp_path, monkeypatch):
    """Windows depend on the example sequence only: one batch or many, the same shards, stats and rows."""
    examples, special = sample_examples
    monkeypatch.setattr(shard_writer, "WINDOW_EXAMPLES", 100)  # several windows in a few hundred examples
    one = _write(tmp_path / "one", examples, [examples.num_rows], MAX_SEQ_LEN, special.unk)
    many = _write(tmp_path / "many", examples, _whole_documents(examples, 23), MAX_SEQ_LEN, special.unk)
    assert len(one[1]) > 1 and one[1] == many[1] and one[0] == many[0] and one[2] == many[2]
    rows = pa.concat_tables(pq.read_table(pa.BufferReader(data)) for data in one[1].values())
    assert rows.num_rows < 0.85 * examples.num_rows  # packed (at 256 tokens most sample examples are near full)
    stats = one[2]
    assert stats["rows"] == rows.num_rows == sum(info.rows for info in one[0])
    lengths = pc.list_value_length(rows[shard.INPUT_IDS]).to_numpy()
    assert {int(k.removeprefix(ROW_TOKENS_STAT)): v for k, v in stats.items() if k.startswith(ROW_TOKENS_STAT)} \
        == {int(n): int(c) for n, c in zip(*np.unique(lengths, return_counts=True))}
    tokens = pc.list_flatten(rows[shard.INPUT_IDS]).to_numpy()
    assert stats["unk_tokens"] == int(np.count_nonzero(tokens == special.unk))


def test_unpacked_writer_writes_one_example_a_row(sample_examples, tmp_path):
    examples, special = sample_examples
    infos, files, stats = _write(tmp_path, examples, _whole_documents(examples, 7), None, special.unk)
    rows = pa.concat_tables(pq.read_table(pa.BufferReader(data)) for data in files.values())
    assert rows.num_rows == examples.num_rows == stats["rows"]
    assert (pc.list_value_length(rows[shard.EXAMPLE_LEN]).to_numpy() == 1).all()
    assert all(info.rows >= 60 for info in infos[:-1])  # a shard ends at a batch end once it holds max_rows
