"""Near-duplicate detection: MinHash over character shingles, LSH banding, connected components.

Pure numpy; the Beam edge (pipeline/beam/dedup.py) shuffles digests, band keys and edges between these
functions, never texts. Read the meaning first: `text_digests` and `exact_duplicates`; `minhash_signatures`,
`band_keys`, `bucket_links` and `Components` (the one union-find). The prefix rounds (`key_prefix_parts`,
`repeated_prefixes`, `SharedPrefixes`, `candidate_parts`, `candidate_groups`, `exact_key_parts`) only cut
what crosses a shuffle; tests/pipeline/test_dedup_near.py runs the whole path on one machine
(`test_the_pure_path_finds_the_same_clusters_with_one_bucket_or_many`). Every choice here is a function of the documents alone (their ids and texts), never of the
order they arrive in, so the kept document of each cluster is the same on any runner and worker count.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Hashable, Iterable, Iterator, Sequence
from functools import lru_cache

import numpy as np

from pipeline.arrays import blake2b_64, code_points
from pipeline.config import DedupConfig

_P = np.uint64(1_000_003)
MIN_BUCKETS = 16
BUCKET_INPUT_BYTES = 64 * 2**20
# shingles x permutations per step: 4 MB of uint32 stays in the CPU cache (bench/README.md, "MinHash")
# and bounds memory whatever a text's length
_CHUNK_CELLS = 1 << 20


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: the polynomial hash of a shingle has weak low bits, this spreads them."""
    x = x ^ (x >> np.uint64(30))
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) of the hash family h(x) = a*x + b mod 2**32 with a odd: multiply-add-shift, whose high bits
    are universal; the minimum over a set orders by those high bits first."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**32, size=num_perm, dtype=np.uint64).astype(np.uint32) | np.uint32(1)
    b = rng.integers(0, 2**32, size=num_perm, dtype=np.uint64).astype(np.uint32)
    return a, b


def shingle_hashes(texts: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of every k-character shingle of each text, concatenated, and each text's count.

    A text shorter than k is one shingle (itself). Built by a few vectorised passes over the batch.
    """
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    codes = code_points("".join(texts)).astype(np.uint64)
    total = codes.size
    counts = np.maximum(lengths - k + 1, 0)
    if total >= k:
        h = np.zeros(total - k + 1, dtype=np.uint64)
        for j in range(k):
            h *= _P
            h += codes[j: total - k + 1 + j]
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        # shingle positions of each text: starts[i] .. starts[i] + counts[i], dropping those that cross a text end
        take = np.repeat(starts - np.concatenate(([0], np.cumsum(counts)[:-1])), counts) + np.arange(counts.sum())
        hashes = _mix64(h[take])
    else:
        hashes = np.empty(0, dtype=np.uint64)
    short = np.flatnonzero(counts == 0)
    if short.size:  # whole-text shingles, spliced in where those texts sit
        whole = blake2b_64([texts[i] for i in short.tolist()]).astype(np.uint64)
        positions = np.concatenate(([0], np.cumsum(counts)))[short]
        hashes = np.insert(hashes, positions, whole)
        counts = counts.copy()
        counts[short] = 1
    return (hashes >> np.uint64(32)).astype(np.uint32), counts


def minhash_signatures(texts: Sequence[str], config: DedupConfig) -> np.ndarray:
    """(len(texts), num_perm) uint32 MinHash signatures: per permutation, the least hash over shingles."""
    hashes, counts = shingle_hashes(texts, config.shingle_chars)
    a, b = _permutations(config.num_perm, config.hash_seed)
    signatures = np.full((len(texts), config.num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    owner = np.repeat(np.arange(len(texts)), counts)
    step = max(1, _CHUNK_CELLS // config.num_perm)
    for lo in range(0, hashes.size, step):
        # permutations x shingles: reducing along the contiguous axis, much cheaper than the transpose
        values = a[:, None] * hashes[None, lo: lo + step]
        values += b[:, None]
        docs = owner[lo: lo + step]
        # shingles of one text are contiguous: reduce each run, then fold runs into the signatures
        run_starts = np.flatnonzero(np.concatenate(([True], docs[1:] != docs[:-1])))
        minima = np.minimum.reduceat(values, run_starts, axis=1).T
        run_docs = docs[run_starts]
        signatures[run_docs] = np.minimum(signatures[run_docs], minima)
    return signatures


def band_keys(signatures: np.ndarray, bands: int) -> np.ndarray:
    """(n, bands) uint64: one hash per band of rows; equal keys make two documents candidates. The band's
    index seeds its hash, so keys of different bands differ and a key alone names its band."""
    n, num_perm = signatures.shape
    rows = num_perm // bands
    banded = signatures[:, : bands * rows].reshape(n, bands, rows).astype(np.uint64)
    keys = np.broadcast_to(_mix64(np.arange(1, bands + 1, dtype=np.uint64)), (n, bands))
    for j in range(rows):
        keys = _mix64(keys ^ banded[:, :, j])
    return keys


def bucket_count(input_bytes: int) -> int:
    """Shuffle buckets for the dedup keys. Each input file sends one element per bucket it touches, so
    few buckets keep Beam's per-element cost low; enough of them (one per ~64 MB of input) keep the keys
    one bucket holds in memory small whatever the corpus size."""
    return max(MIN_BUCKETS, math.ceil(input_bytes / BUCKET_INPUT_BYTES))


def key_bucket(keys: np.ndarray, buckets: int) -> np.ndarray:
    """The bucket of each uint64 key (a hash, so its low bits are uniform)."""
    return (keys % np.uint64(buckets)).astype(np.int64)


def _runs(values: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(value, positions) for each distinct value, ascending: one stable sort instead of a dict."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    for start, end in zip(starts.tolist(), [*starts[1:].tolist(), order.size]):
        yield int(ordered[start]), order[start:end]


# A document's identity in the dedup graph. Its order decides which copy is kept: the smallest doc_id,
# then the input file (files are numbered in sorted path order), then the position in the file.
Node = tuple[str, int, int]


def varint_gaps(values: np.ndarray) -> bytes:
    """uint32 values as the LEB128 varints of their gaps in ascending order: a bucket's 4-byte prefixes
    lie about 2**32 / n apart, so most gaps take 3 bytes instead of 4."""
    gaps = np.diff(np.sort(values).astype(np.uint64), prepend=np.uint64(0))
    widths = np.ones(gaps.size, dtype=np.int64)
    for k in range(1, 5):
        widths += gaps >= np.uint64(1 << (7 * k))
    starts = np.cumsum(widths) - widths
    out = np.empty(int(widths.sum()), dtype=np.uint8)
    for k in range(5):
        has = widths > k
        group = (gaps[has] >> np.uint64(7 * k)) & np.uint64(0x7F)
        out[starts[has] + k] = group.astype(np.uint8) | ((widths[has] > k + 1).astype(np.uint8) << 7)
    return out.tobytes()


def from_varint_gaps(data: bytes) -> np.ndarray:
    """The ascending uint32 values `varint_gaps` wrote."""
    raw = np.frombuffer(data, dtype=np.uint8)
    if not raw.size:
        return np.empty(0, dtype=np.uint32)
    ends = np.flatnonzero(raw < 0x80)
    starts = np.concatenate(([0], ends[:-1] + 1))
    place = np.arange(raw.size) - np.repeat(starts, ends - starts + 1)
    groups = (raw & 0x7F).astype(np.uint64) << (7 * place).astype(np.uint64)
    return np.cumsum(np.add.reduceat(groups, starts)).astype(np.uint32)


def key_prefix_parts(keys: np.ndarray, buckets: int) -> Iterator[tuple[int, bytes]]:
    """uint64 keys (any shape) as (bucket, their high 32 bits) pairs, one per bucket the keys fall in,
    the high bits as `varint_gaps`. The first round of both dedups ships these alone, about 3 bytes a
    key: a key is mostly held by one document, and what it would take to settle it (a signature, a
    doc_id) would be wasted. The bucket (the key's low bits) and the high bits together identify a key
    to about 32 + log2(buckets) bits; a prefix two unrelated keys share by chance only sends them on to
    the next round, which compares whole keys."""
    keys = keys.ravel()
    for bucket, rows in _runs(key_bucket(keys, buckets)):
        yield bucket, varint_gaps((keys[rows] >> np.uint64(32)).astype(np.uint32))


def repeated_prefixes(bucket: int, parts: Iterable[bytes]) -> bytes | None:
    """The prefixes that two or more keys of one bucket hold, as uint64 (bucket << 32 | high bits), or None."""
    columns = [from_varint_gaps(part) for part in parts]
    if not columns:
        return None
    ordered = np.sort(np.concatenate(columns))
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]]).astype(np.uint64)
    return (repeated | np.uint64(bucket) << np.uint64(32)).tobytes() if repeated.size else None


class SharedPrefixes:
    """The repeated key prefixes of the whole corpus, gathered from `repeated_prefixes` of each bucket."""

    def __init__(self, parts: Iterable[bytes], buckets: int) -> None:
        columns = [np.frombuffer(part, dtype=np.uint64) for part in parts]
        self.prefixes = np.unique(np.concatenate(columns)) if columns else np.empty(0, dtype=np.uint64)
        self.buckets = buckets

    def __bool__(self) -> bool:
        return bool(self.prefixes.size)

    def holds(self, keys: np.ndarray) -> np.ndarray:
        """Whether each uint64 key's prefix is repeated somewhere in the corpus."""
        prefixes = (keys >> np.uint64(32)) | key_bucket(keys, self.buckets).astype(np.uint64) << np.uint64(32)
        return np.isin(prefixes, self.prefixes)


# One bucket's share of a file's candidate entries, columnar so that Beam codes a few buffers, not
# objects: (band keys uint64, each entry's document as an index into the part's documents uint32, the
# documents' nodes, their signatures uint32 row-major). A document whose bands share several keys of
# the bucket ships its signature once.
BandPart = tuple[bytes, bytes, list, bytes]


def candidate_parts(nodes: Sequence[Node], signatures: np.ndarray, bands: int, buckets: int,
                    shared: SharedPrefixes) -> Iterator[tuple[int, BandPart]]:
    """The second round: the entries whose band key's prefix is repeated, with their nodes and
    signatures, as (bucket, part) pairs."""
    if not shared or not len(nodes):
        return
    keys = band_keys(signatures, bands).ravel()
    hits = np.flatnonzero(shared.holds(keys))
    if not hits.size:
        return
    keys, owner = keys[hits], hits // bands
    for bucket, rows in _runs(key_bucket(keys, buckets)):
        docs, entry_doc = np.unique(owner[rows], return_inverse=True)
        yield bucket, (keys[rows].tobytes(), entry_doc.astype(np.uint32).tobytes(),
                       [nodes[i] for i in docs.tolist()], np.ascontiguousarray(signatures[docs]).tobytes())


def _repeated(keys: np.ndarray) -> np.ndarray:
    """The keys that two or more entries hold, once each, ascending."""
    ordered = np.sort(keys)
    return np.unique(ordered[1:][ordered[1:] == ordered[:-1]])


def candidate_groups(parts: Iterable[BandPart]) -> list[list[tuple[Node, np.ndarray]]]:
    """The members (node, signature) of each band key that two or more entries of one bucket share, in
    key order. Two passes over `parts` (a GroupByKey's values may be iterated again): the first holds
    only the bucket's keys, the second keeps the signatures of the candidates alone."""
    columns = [np.frombuffer(keys, dtype=np.uint64) for keys, _, _, _ in parts]
    if not columns:
        return []
    shared = _repeated(np.concatenate(columns))
    if not shared.size:
        return []
    groups: dict[int, list[tuple[Node, np.ndarray]]] = {}
    for keys_bytes, entry_doc_bytes, nodes, signature_bytes in parts:
        part_keys = np.frombuffer(keys_bytes, dtype=np.uint64)
        hits = np.flatnonzero(np.isin(part_keys, shared))
        if not hits.size:
            continue
        entry_doc = np.frombuffer(entry_doc_bytes, dtype=np.uint32)
        signatures = np.frombuffer(signature_bytes, dtype=np.uint32).reshape(len(nodes), -1)
        for key, doc in zip(part_keys[hits].tolist(), entry_doc[hits].tolist()):
            groups.setdefault(key, []).append((nodes[doc], signatures[doc]))
    return [groups[key] for key in sorted(groups)]


def text_digests(texts: Sequence[str]) -> np.ndarray:
    """(n, 2) uint64: a 128-bit identity of each cleaned text for exact dedup."""
    joined = b"".join(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
                      for text in texts)
    return np.frombuffer(joined, dtype="<u8").reshape(len(texts), 2)


# One bucket's share of a file's exact-dedup candidates: (file index, positions uint32, digests
# 2 x uint64, doc_ids). Tens of bytes a document, for the few whose digest prefix is repeated.
ExactPart = tuple[int, bytes, bytes, list]


def exact_key_parts(file_index: int, positions: np.ndarray, digests: np.ndarray, doc_ids: Sequence[str],
                    buckets: int) -> Iterator[tuple[int, ExactPart]]:
    """(position, digest, doc_id) entries of a file as (bucket, part) pairs, by their digest's bucket:
    the second round of exact dedup, for the documents whose digest prefix is repeated."""
    for bucket, rows in _runs(key_bucket(np.ascontiguousarray(digests[:, 0]), buckets)):
        yield bucket, (file_index, positions[rows].astype(np.uint32).tobytes(),
                       np.ascontiguousarray(digests[rows]).tobytes(), [doc_ids[i] for i in rows.tolist()])


def exact_duplicates(parts: Iterable[ExactPart]) -> list[tuple[Node, Node]]:
    """(duplicate, kept) for every entry whose digest an entry of a smaller node also holds; the order
    the parts come in does not matter."""
    parts = list(parts)
    if not parts:
        return []
    digests = np.concatenate([np.frombuffer(p[2], dtype="<u8").reshape(-1, 2) for p in parts])
    order = np.lexsort((digests[:, 1], digests[:, 0]))
    ordered = digests[order]
    same = (ordered[1:] == ordered[:-1]).all(axis=1)
    if not same.any():
        return []
    nodes: list[Node] = [(doc_id, file_index, position) for file_index, positions, _, doc_ids in parts
                         for doc_id, position in zip(doc_ids, np.frombuffer(positions, dtype=np.uint32).tolist())]
    run_start = np.flatnonzero(np.concatenate(([True], ~same)))
    run_end = np.concatenate((run_start[1:], [order.size]))
    pairs = []
    for start, end in zip(run_start.tolist(), run_end.tolist()):
        if end - start > 1:
            members = sorted(nodes[i] for i in order[start:end].tolist())
            pairs.extend((node, members[0]) for node in members[1:])
    return pairs


# A file's duplicates, as the dedup steps decide them: (positions uint32, kept doc_ids, reason).
DuplicatePart = tuple[bytes, list, str]


def dropped_positions(parts: Iterable[DuplicatePart]) -> dict[int, tuple[str, str]]:
    """Position in the file -> (reason, kept doc_id) of each duplicate the file holds."""
    dropped: dict[int, tuple[str, str]] = {}
    for positions, kept_ids, reason in parts:
        for position, kept in zip(np.frombuffer(positions, dtype=np.uint32).tolist(), kept_ids):
            dropped.setdefault(position, (reason, kept))  # an exact duplicate is never also near
    return dropped


def bucket_links(members: Sequence[tuple[Node, np.ndarray]], threshold: float,
                 max_pairwise: int) -> list[tuple[Node, Node]]:
    """Links (document, representative) among the members of one LSH bucket whose signatures agree on at
    least `threshold` of their rows: a spanning forest of the verified pairs, the smallest node as each
    tree's root. Buckets larger than `max_pairwise` compare every member with the smallest only.
    """
    ordered = sorted(members, key=lambda m: m[0])
    if len(ordered) < 2:
        return []
    nodes = [node for node, _ in ordered]
    matrix = np.stack([signature for _, signature in ordered])
    components = Components()
    sources = range(len(nodes)) if len(nodes) <= max_pairwise else range(1)
    for i in sources:
        agree = (matrix[i + 1:] == matrix[i]).mean(axis=1)
        for j in (np.flatnonzero(agree >= threshold) + i + 1).tolist():
            components.union(nodes[i], nodes[j])
    return list(components.representatives().items())


class Components:
    """Union-find over document nodes; each component's root is its smallest node, so the result does
    not depend on the order edges arrive in."""

    def __init__(self) -> None:
        self.parent: dict[Hashable, Hashable] = {}

    def find(self, node: Hashable) -> Hashable:
        parent = self.parent
        root = node
        while parent.get(root, root) != root:
            root = parent[root]
        while node != root:  # path compression
            parent[node], node = root, parent[node]
        return root

    def union(self, a: Hashable, b: Hashable) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            low, high = (ra, rb) if ra < rb else (rb, ra)
            self.parent[high] = low

    def add_edges(self, edges: Iterable[tuple[Hashable, Hashable]]) -> "Components":
        for a, b in edges:
            self.union(a, b)
        return self

    def representatives(self) -> dict[Hashable, Hashable]:
        """Every non-root node mapped to its component's root (the document kept)."""
        return {node: root for node in list(self.parent) if (root := self.find(node)) != node}


def cluster_sizes(representatives: dict[Hashable, Hashable]) -> dict[int, int]:
    """How many duplicate clusters there are of each size (kept document included)."""
    sizes: dict[Hashable, int] = {}
    for root in representatives.values():
        sizes[root] = sizes.get(root, 1) + 1
    histogram: dict[int, int] = {}
    for size in sizes.values():
        histogram[size] = histogram.get(size, 0) + 1
    return dict(sorted(histogram.items()))
