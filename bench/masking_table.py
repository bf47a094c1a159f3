"""Masking on real rows over 3 epochs: per-token mask rates inside and outside entity spans, and how
many entities are masked in every epoch against what independent draws give.

    python bench/masking_table.py OUT [--boosts 1,2,4] [--epochs 3] [--seed 1234]

OUT is a `prepare` output (README "Masking" used `prepare` on ../shared/data/wudao-sample with the
bert-base-chinese vocab). Every training row goes through the trainer's own collate, one batch per
epoch; "independent" is the mean over entities of p**epochs, p being the probability its row gives an
entity unit (trainer/masking.py), i.e. what draws independent across epochs give.
"""
from __future__ import annotations

import argparse

import numpy as np
import pyarrow.parquet as pq

from schemas import shard as cols
from trainer.config import MaskingConfig
from trainer.data import PretrainingBatches, open_shards


def measure(out: str, boost: float, epochs: int, seed: int) -> dict[str, float]:
    shards = open_shards(out)
    specials = shards.manifest.special_tokens
    tables = [pq.read_table(s.path, columns=[cols.INPUT_IDS, cols.ENTITY_START, cols.ENTITY_END]) for s in shards.train]
    rows = [row for table in tables for row in table.to_pylist()]
    masking = MaskingConfig(entity_boost=boost)
    chosen, random_draws, bracketed = [], 0, 0
    real_ids = set(shards.replacement_ids.tolist())
    for epoch in range(epochs):
        batches = PretrainingBatches(shards.train, specials, shards.manifest.vocab.size, micro_batch_size=len(rows),
                                     seed=seed, epoch=epoch, shuffle=False, masking=masking, pad_to_multiple_of=8,
                                     replacement_ids=shards.replacement_ids)
        batch = next(iter(batches))
        mask = np.zeros(batch["input_ids"].shape, dtype=bool)
        mask.reshape(-1)[batch["mlm_positions"].numpy()] = True
        chosen.append(mask[np.argsort(batch["row_ids"].numpy())])
        after = batch["input_ids"].reshape(-1)[batch["mlm_positions"]].numpy()
        drawn = after[(after != specials.mask) & (after != batch["mlm_labels"].numpy())]
        random_draws += drawn.size
        bracketed += int(sum(i not in real_ids for i in drawn.tolist()))
    real = np.zeros(chosen[0].shape, dtype=bool)
    inside = np.zeros_like(real)
    entities, entity_p = [], []
    for i, row in enumerate(rows):
        ids = np.array(row[cols.INPUT_IDS])
        real[i, : len(ids)] = ~np.isin(ids, [specials.cls, specials.sep])
        for s, e in zip(row[cols.ENTITY_START], row[cols.ENTITY_END]):
            inside[i, s:e] = True
        n, n_entity = real[i].sum(), (inside[i] & real[i]).sum()
        p_entity = min(masking.mask_rate * n / (n - n_entity + boost * n_entity) * boost, 1.0) if n else 0.0
        entities += [(i, s) for s in row[cols.ENTITY_START]]
        entity_p += [p_entity] * len(row[cols.ENTITY_START])
    where = np.array(entities)
    masked = np.stack([c[where[:, 0], where[:, 1]] for c in chosen])  # (epochs, entities)
    return {
        "boost": boost,
        "rate": float(np.mean([c[real].mean() for c in chosen])),
        "inside": float(np.mean([c[real & inside].mean() for c in chosen])),
        "outside": float(np.mean([c[real & ~inside].mean() for c in chosen])),
        "entity_tokens": float((real & inside).sum() / real.sum()),
        "entities": len(entities),
        "per_epoch": float(masked.mean()),
        "all_epochs": float(masked.all(axis=0).mean()),
        "independent": float(np.mean(np.array(entity_p) ** epochs)),
        "bracketed_share": bracketed / max(random_draws, 1),
        "rows": len(rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="a prepare output directory")
    parser.add_argument("--boosts", default="1,2,4")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    results = [measure(args.out, float(b), args.epochs, args.seed) for b in args.boosts.split(",")]
    first = results[0]
    print(f"{first['rows']} rows, {first['entities']} entities, entity tokens {first['entity_tokens']:.1%} of "
          f"non-special tokens, {args.epochs} epochs")
    print(f"| --entity-boost | mask rate | inside entities | outside | entities masked per epoch | "
          f"in all {args.epochs} epochs | independent draws give | bracketed random draws |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['boost']:g} | {r['rate']:.2%} | {r['inside']:.2%} | {r['outside']:.2%} | {r['per_epoch']:.2%} | "
              f"{r['all_epochs']:.2%} | {r['independent']:.2%} | {r['bracketed_share']:.2%} |")


if __name__ == "__main__":
    main()
