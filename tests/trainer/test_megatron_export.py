"""The Megatron export read back by megatron-core's own IndexedDataset gives the shards' tokens."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trainer.megatron_export import export_megatron

indexed_dataset = pytest.importorskip(
    "megatron.core.datasets.indexed_dataset", reason="megatron-core is a test dependency: pip install -e '.[test]'"
)


def _rows(shard_dir: Path) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in sorted((shard_dir / "shards").glob("*.parquet")))


def test_megatron_core_reads_back_the_same_tokens_and_documents(shard_dir: Path, tmp_path: Path) -> None:
    sequences, documents = export_megatron(shard_dir, tmp_path / "out" / "erlangshen_text_document")
    dataset = indexed_dataset.IndexedDataset(str(tmp_path / "out" / "erlangshen_text_document"))
    table = _rows(shard_dir)
    expected = table.column("input_ids").to_pylist()
    assert sequences == len(dataset) == len(expected)
    for index in (0, 1, len(expected) // 2, len(expected) - 1):
        assert dataset[index].dtype == np.uint16
        assert dataset[index].tolist() == expected[index]
    assert sum(len(dataset[i]) for i in range(len(dataset))) == sum(map(len, expected))
    doc_ids = table.column("doc_id").to_pylist()
    starts = dataset.document_indices
    assert documents == len(starts) - 1 == len(set(doc_ids))
    for begin, end in zip(starts[:-1], starts[1:]):
        assert len(set(doc_ids[begin:end])) == 1


def test_rows_of_one_document_form_one_megatron_document(tmp_path: Path) -> None:
    from shard_factory import write_shard_set

    directory = write_shard_set(tmp_path / "s", shards=2, rows_per_shard=4)
    table = pq.read_table(directory / "shards" / "part-00000-0000.parquet")
    doc_ids = ["a", "a", "b", "b"]
    pq.write_table(table.set_column(table.schema.get_field_index("doc_id"), "doc_id", pa.array(doc_ids)),
                   directory / "shards" / "part-00000-0000.parquet")
    _, documents = export_megatron(directory, tmp_path / "m")
    dataset = indexed_dataset.IndexedDataset(str(tmp_path / "m"))
    assert documents == 2 + 4 and dataset.document_indices.tolist()[:3] == [0, 2, 4]
