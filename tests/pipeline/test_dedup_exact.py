"""Exact dedup and the key rounds both dedups share (pipeline/dedup.py), on the pure functions the Beam
edge (pipeline/beam/dedup.py) shuffles between: 4-byte key prefixes first, whole keys only for the
documents whose prefix is repeated, and the smallest (doc_id, file, position) kept."""
from __future__ import annotations

import random
from collections import defaultdict

import numpy as np

from pipeline.dedup import (
    MIN_BUCKETS, SharedPrefixes, dropped_positions, exact_duplicates, exact_key_parts, from_varint_gaps,
    key_prefix_parts, repeated_prefixes, text_digests, varint_gaps,
)


def _shared(keys: list[np.ndarray], buckets: int) -> SharedPrefixes:
    """The first round over several files' keys: prefixes by bucket, the repeated ones gathered."""
    by_bucket: dict[int, list[bytes]] = defaultdict(list)
    for file_keys in keys:
        for bucket, part in key_prefix_parts(file_keys, buckets):
            by_bucket[bucket].append(part)
    return SharedPrefixes([found for bucket in sorted(by_bucket)
                           if (found := repeated_prefixes(bucket, by_bucket[bucket])) is not None], buckets)


def _exact(files: list[list[tuple[str, str]]], buckets: int = MIN_BUCKETS) -> list[tuple]:
    """Both rounds of exact dedup over files of (doc_id, text): (duplicate node, kept node) pairs."""
    digests = [text_digests([text for _, text in docs]) for docs in files]
    shared = _shared([d[:, 0].copy() for d in digests], buckets)
    by_bucket: dict[int, list] = defaultdict(list)
    for index, (docs, file_digests) in enumerate(zip(files, digests)):
        chosen = np.flatnonzero(shared.holds(file_digests[:, 0].copy()))
        for bucket, part in exact_key_parts(index, chosen.astype(np.uint32), file_digests[chosen],
                                            [docs[i][0] for i in chosen.tolist()], buckets):
            by_bucket[bucket].append(part)
    return sorted(pair for parts in by_bucket.values() for pair in exact_duplicates(parts))


def test_digests_are_128_bit_blake2b_of_the_cleaned_text():
    import hashlib

    digests = text_digests(["中文文本", "中文文本", "另一段"])
    assert digests.shape == (3, 2) and digests.dtype == np.dtype("<u8")
    assert digests[0].tobytes() == hashlib.blake2b("中文文本".encode(), digest_size=16).digest()
    assert (digests[0] == digests[1]).all() and not (digests[0] == digests[2]).all()


def test_prefixes_travel_as_varint_gaps_and_come_back_sorted():
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.integers(0, 2**32, size=5000, dtype=np.uint64).astype(np.uint32),
                             np.array([0, 0, 127, 128, 2**14, 2**21 - 1, 2**28, 2**32 - 1, 2**32 - 1], dtype=np.uint32)])
    encoded = varint_gaps(values)
    assert np.array_equal(from_varint_gaps(encoded), np.sort(values))
    assert len(encoded) < 3.5 * values.size  # dense random prefixes: about 3 bytes each, not 4
    assert varint_gaps(np.empty(0, dtype=np.uint32)) == b"" and from_varint_gaps(b"").size == 0


def test_every_key_two_entries_share_has_a_repeated_prefix_and_few_others_do():
    rng = np.random.default_rng(5)
    unique = rng.integers(0, 2**64, size=20_000, dtype=np.uint64)
    repeated = unique[:50]
    shared = _shared([unique[:10_000], np.concatenate([unique[10_000:], repeated])], MIN_BUCKETS)
    assert shared.holds(repeated).all()
    assert shared.holds(unique[50:]).sum() <= 2  # 20,000 keys in 2**36 prefixes: a chance collision is rare


def test_no_key_is_repeated_when_every_key_is_distinct():
    keys = np.arange(1, 1000, dtype=np.uint64) << np.uint64(40)  # distinct high bits
    assert not _shared([keys], MIN_BUCKETS)


def test_a_shared_prefix_alone_does_not_make_two_documents_duplicates():
    """Two digests alike in their first 64 bits (same bucket, same prefix) but not in the rest are sent
    on to the second round, which compares whole digests."""
    digests = np.array([[7 << 32 | 3, 1], [7 << 32 | 3, 2], [7 << 32 | 3, 1]], dtype=np.uint64)
    shared = _shared([digests[:, 0].copy()], MIN_BUCKETS)
    assert shared.holds(digests[:, 0].copy()).all()
    parts = [part for _, part in exact_key_parts(0, np.arange(3, dtype=np.uint32), digests, ["x", "y", "z"],
                                                 MIN_BUCKETS)]
    assert exact_duplicates(parts) == [(("z", 0, 2), ("x", 0, 0))]


def test_the_smallest_doc_id_then_file_then_position_is_kept_whatever_the_order_of_parts():
    text, other = "完全相同的一段文字。" * 3, "另外一段不同的文字。" * 3
    files = [[("m", text), ("b", other), ("m", text)], [("a", text), ("z", "独一无二。")], [("b", other)]]
    expected = [(("b", 2, 0), ("b", 0, 1)), (("m", 0, 0), ("a", 1, 0)), (("m", 0, 2), ("a", 1, 0))]
    assert _exact(files) == expected
    assert _exact(files, buckets=1) == expected
    digests = [text_digests([t for _, t in docs]) for docs in files]
    parts = [part for index, (docs, d) in enumerate(zip(files, digests))
             for _, part in exact_key_parts(index, np.arange(len(docs), dtype=np.uint32), d,
                                            [doc_id for doc_id, _ in docs], 1)]
    for seed in range(3):
        random.Random(seed).shuffle(parts)
        assert sorted(exact_duplicates(parts)) == expected


def test_dropped_positions_give_each_file_its_duplicates_with_the_kept_id():
    parts = [(np.array([4, 9], dtype=np.uint32).tobytes(), ["a", "b"], "duplicate_exact"),
             (np.array([9, 2], dtype=np.uint32).tobytes(), ["c", "d"], "duplicate_near")]
    assert dropped_positions(parts) == {4: ("duplicate_exact", "a"), 9: ("duplicate_exact", "b"),
                                        2: ("duplicate_near", "d")}
    assert dropped_positions([]) == {}
