"""Masking throughput per core at seq 512: `mask_batch` alone and the whole collate (Arrow -> tensors).

    python bench/masking_speed.py [--batch 256] [--repeats 20]

Pins torch and numpy's BLAS to one thread (masking itself is single-threaded numpy), so the figure
is per core; the issue's bar is 20,000 examples/s. Rows are synthetic but shaped like WuDao's: 510
tokens of Chinese words of 1-4 characters, an entity span every ~40 tokens, SOP pairs.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import torch  # noqa: E402

from schemas.manifest import SpecialTokens  # noqa: E402
from schemas.shard import SHARD_SCHEMA  # noqa: E402
from trainer.config import MaskingConfig  # noqa: E402
from trainer.data import PretrainingBatches  # noqa: E402
from trainer.examples import ExampleLayout  # noqa: E402
from trainer.masking import example_keys, mask_batch  # noqa: E402

SPECIALS = SpecialTokens(pad=0, unk=100, cls=101, sep=102, mask=103)


def synthetic_rows(count: int, seq: int, rng: np.random.Generator) -> pa.Table:
    rows = []
    for i in range(count):
        body = rng.integers(672, 21128, seq - 3)
        cut = int(rng.integers(seq // 4, 3 * seq // 4))
        ids = [SPECIALS.cls, *body[:cut], SPECIALS.sep, *body[cut:], SPECIALS.sep]
        starts = rng.random(seq) < 0.6
        starts[[0, cut + 1, cut + 2, seq - 1]] = True
        entity_start = np.arange(5, seq - 10, 40) + rng.integers(0, 10)
        entity_start = entity_start[entity_start + 4 < seq - 1]
        rows.append({"input_ids": ids, "word_start": starts.tolist(), "entity_start": entity_start.tolist(),
                     "entity_end": (entity_start + 3).tolist(), "entity_type": [0] * len(entity_start),
                     "example_len": [seq], "len_a": [cut + 2], "sop_label": [int(rng.integers(2))],
                     "doc_id": [f"d{i}"], "example_in_doc": [0]})
    return pa.Table.from_pylist(rows, schema=SHARD_SCHEMA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    table = synthetic_rows(args.batch, args.seq, rng)
    batches = PretrainingBatches([], SPECIALS, 21128, micro_batch_size=args.batch, seed=1, epoch=0,
                                 pad_to_multiple_of=64, max_len=args.seq)
    row_ids = np.arange(args.batch, dtype=np.uint64)
    collated = batches.collate(table, row_ids)

    ids = collated["input_ids"].numpy()
    ids.reshape(-1)[collated["mlm_positions"].numpy()] = collated["mlm_labels"].numpy()  # undo the masking
    special = ~collated["attention_mask"].numpy() | np.isin(ids, [SPECIALS.cls, SPECIALS.sep])
    word_start = np.zeros(ids.shape, dtype=bool)
    word_start[collated["attention_mask"].numpy()] = np.concatenate(table.column("word_start").to_pylist())
    starts = table.column("entity_start").combine_chunks()
    entity_row = np.repeat(np.arange(args.batch), starts.value_lengths().to_numpy())
    entity_start = starts.flatten().to_numpy().astype(np.int64)
    entity_end = table.column("entity_end").combine_chunks().flatten().to_numpy().astype(np.int64)
    examples = ExampleLayout.from_lengths(np.full(args.batch, args.seq), np.ones(args.batch, dtype=np.int64), ids.shape[1])
    keys = example_keys([f"d{i}" for i in range(args.batch)], np.zeros(args.batch, dtype=np.int64))

    def time_it(step) -> float:
        step(0)
        began = time.perf_counter()
        for epoch in range(args.repeats):
            step(epoch)
        return args.batch * args.repeats / (time.perf_counter() - began)

    mask_only = time_it(lambda epoch: mask_batch(
        ids, word_start, special, entity_row, entity_start, entity_end, examples, keys, seed=1, epoch=epoch,
        mask_id=SPECIALS.mask, random_ids=batches.replacement_ids, config=MaskingConfig()))
    whole = time_it(lambda epoch: batches.collate(table, row_ids))
    masked = collated["mlm_positions"].numel() / int((~special).sum())
    print(f"seq {args.seq}, batch {args.batch}, one thread: mask_batch {mask_only:,.0f} examples/s; "
          f"collate (Arrow -> padded, masked tensors) {whole:,.0f} examples/s; masked share {masked:.3f}")


if __name__ == "__main__":
    main()
