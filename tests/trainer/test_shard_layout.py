"""What the trainer refuses to read: shards of another layout, and rows whose examples do not add up."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.errors import UserInputError
from schemas.manifest import MANIFEST_NAME
from trainer.data import PretrainingBatches, open_shards

from shard_factory import SPECIALS, VOCAB_SIZE, write_shard_set


def test_shards_of_layout_2_are_refused_with_the_command_that_rewrites_them(tmp_path: Path) -> None:
    """2.0 held one example a row with scalar per-example columns; read as 3.0 it would mis-shape every batch."""
    directory = write_shard_set(tmp_path, shards=2, rows_per_shard=8)
    manifest = json.loads((directory / MANIFEST_NAME).read_text())
    (directory / MANIFEST_NAME).write_text(json.dumps({**manifest, "schema_version": "2.0"}))
    with pytest.raises(UserInputError, match=r"layout 2\.0.*prepare"):
        open_shards(directory)


def test_a_row_whose_example_lengths_do_not_add_up_is_refused(tmp_path: Path) -> None:
    """The layout of every example comes from `example_len`: a row it does not cover would shift masks,
    positions and SOP heads onto the wrong tokens without an error."""
    directory = write_shard_set(tmp_path, shards=1, rows_per_shard=8, examples_per_row=2)
    path = directory / "shards" / "part-00000-0000.parquet"
    table = pq.read_table(path)
    lengths = table.column("example_len").to_pylist()
    lengths[3] = [lengths[3][0] - 1, lengths[3][1]]
    table = table.set_column(table.schema.get_field_index("example_len"), "example_len",
                             pa.array(lengths, type=pa.list_(pa.uint16())))
    shards = open_shards(directory)
    data = PretrainingBatches(shards.train, SPECIALS, VOCAB_SIZE, micro_batch_size=8, seed=0, epoch=0)
    with pytest.raises(UserInputError, match="example_len does not add up"):
        data.collate(table, np.arange(8, dtype=np.uint64))


@pytest.mark.parametrize("outside", ["/etc/passwd", "../elsewhere/part.parquet", "shards/../../x.parquet"])
def test_a_manifest_naming_a_file_outside_the_output_is_refused_before_it_is_read(tmp_path: Path,
                                                                                  outside: str) -> None:
    """A manifest is data anyone may have written: the trainer and the Megatron export read only files
    inside the output directory, as `validate` does."""
    from trainer.megatron_export import export_megatron

    directory = write_shard_set(tmp_path / "out", shards=2, rows_per_shard=8)
    manifest = json.loads((directory / MANIFEST_NAME).read_text())
    manifest["shards"][0]["file"] = outside
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(UserInputError, match="outside"):
        open_shards(directory)
    with pytest.raises(UserInputError, match="outside"):
        export_megatron(directory, tmp_path / "mega" / "data")


def test_a_malformed_manifest_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    directory = write_shard_set(tmp_path, shards=2, rows_per_shard=8)
    manifest = json.loads((directory / MANIFEST_NAME).read_text())
    manifest["shards"][0]["rows"] = "many"
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(UserInputError, match="rows"):
        open_shards(directory)
