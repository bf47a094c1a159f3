"""Document ids that repeat within one input file (a `uniqueKey` that is not unique).

They are counted, not changed: both documents are kept, under the id their source gave them, because
the id is their provenance. What they share is the SOP seed, drawn from (seed, doc_id), so their
segment swaps coincide; with different texts that is harmless, and identical texts go to exact dedup.
Counting is exact within a file, from 8 bytes per document; a corpus-wide count would need a shuffle
of every id (bytes per document, as much again as the dedup keys ship), for a statistic.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline.arrays import blake2b_64


def id_digests(doc_ids: Sequence[str]) -> np.ndarray:
    """64-bit digests of ids: a file's repeats are counted from these, not from the strings."""
    return blake2b_64(doc_ids)


def repeated_ids(digests: Sequence[np.ndarray]) -> int:
    """Documents whose id an earlier document of the same file already had."""
    if not digests:
        return 0
    every = np.concatenate(digests)
    return int(every.size - np.unique(every).size)
