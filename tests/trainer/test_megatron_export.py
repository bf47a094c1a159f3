"""The Megatron export read back by megatron-core's own IndexedDataset gives the shards' tokens."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trainer import megatron_export
from trainer.megatron_export import export_megatron

indexed_dataset = pytest.importorskip(
    "megatron.core.datasets.indexed_dataset", reason="megatron-core is a test dependency: pip install -e '.[test]'"
)


def _examples(shard_dir: Path) -> list[tuple[str, int, list[int]]]:
    """(doc_id, example_in_doc, tokens) of every example, in shard and row order."""
    out = []
    for path in sorted((shard_dir / "shards").glob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            offset = 0
            for doc, index, length in zip(row["doc_id"], row["example_in_doc"], row["example_len"], strict=True):
                out.append((doc, index, row["input_ids"][offset:offset + length]))
                offset += length
    return out


def test_megatron_core_reads_back_one_sequence_per_example(tmp_path: Path) -> None:
    from shard_factory import write_shard_set

    directory = write_shard_set(tmp_path / "packed", shards=2, rows_per_shard=16, examples_per_row=3)
    sequences, documents = export_megatron(directory, tmp_path / "out" / "erlangshen_text_document")
    dataset = indexed_dataset.IndexedDataset(str(tmp_path / "out" / "erlangshen_text_document"))
    examples = _examples(directory)  # a row's three examples are one document's, in order
    assert sequences == len(dataset) == len(examples) == 2 * 16 * 3
    for index, (_, _, tokens) in enumerate(examples):
        assert dataset[index].dtype == np.uint16 and dataset[index].tolist() == tokens
    starts = dataset.document_indices
    assert documents == len(starts) - 1 == 2 * 16
    for begin, end in zip(starts[:-1], starts[1:]):
        assert len({examples[i][0] for i in range(begin, end)}) == 1


def _set_documents(path: Path, doc_ids: list[list[str]], in_doc: list[list[int]]) -> None:
    table = pq.read_table(path)
    for name, values, kind in (("doc_id", doc_ids, pa.string()), ("example_in_doc", in_doc, pa.uint32())):
        column = pa.array(values + table.column(name).to_pylist()[len(values):], type=pa.list_(kind))
        table = table.set_column(table.schema.get_field_index(name), name, column)
    pq.write_table(table, path)


def test_a_documents_examples_packed_apart_come_back_together_in_order(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Packing fills rows from a window of examples, so one document's examples may sit in several rows,
    out of order; Megatron wants a document's sequences contiguous. Gathered two examples at a time
    here, so the chunked gather that bounds a full shard's memory is crossed too."""
    from shard_factory import write_shard_set

    monkeypatch.setattr(megatron_export, "_GATHER_EXAMPLES", 2)
    directory = write_shard_set(tmp_path / "s", shards=1, rows_per_shard=3, examples_per_row=3)
    path = directory / "shards" / "part-00000-0000.parquet"
    _set_documents(path, [["a", "b", "a"], ["c", "c", "c"], ["a", "b", "d"]], [[2, 0, 0], [0, 1, 2], [1, 1, 0]])
    by_place = {(doc, index): tokens for doc, index, tokens in _examples(directory)}
    _, documents = export_megatron(directory, tmp_path / "m")
    dataset = indexed_dataset.IndexedDataset(str(tmp_path / "m"))
    order = [("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1), ("c", 0), ("c", 1), ("c", 2), ("d", 0)]
    assert [dataset[i].tolist() for i in range(len(dataset))] == [by_place[key] for key in order]
    assert documents == 4 and dataset.document_indices.tolist() == [0, 3, 5, 8, 9]


def test_a_document_running_over_a_shard_boundary_is_one_megatron_document(tmp_path: Path) -> None:
    from shard_factory import write_shard_set

    directory = write_shard_set(tmp_path / "s", shards=2, rows_per_shard=2)
    _set_documents(directory / "shards" / "part-00000-0000.parquet", [["a"], ["b"]], [[0], [0]])
    _set_documents(directory / "shards" / "part-00001-0000.parquet", [["b"], ["c"]], [[1], [0]])
    _, documents = export_megatron(directory, tmp_path / "m")
    dataset = indexed_dataset.IndexedDataset(str(tmp_path / "m"))
    assert documents == 3 and dataset.document_indices.tolist() == [0, 1, 3, 4]
