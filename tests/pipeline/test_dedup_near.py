"""Near-duplicate detection (pipeline/dedup.py, pipeline/dedup_transforms.py): recall and precision on
near-duplicates generated from the real WuDao sample, and a kept document that depends on nothing but
the documents."""
from __future__ import annotations

import json
import random
import re
from itertools import combinations
from pathlib import Path

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.util import assert_that, equal_to

from pipeline.config import DedupConfig
from pipeline.dedup import Components, band_keys, bucket_links, cluster_sizes, minhash_signatures
from pipeline.dedup_transforms import REJECTED, NearDeduplicate
from pipeline.examples import CleanDocument

CONFIG = DedupConfig()
_SENTENCE = re.compile(r"(?<=[。！？；.;!?])")


def shingles(text: str, k: int = CONFIG.shingle_chars) -> set[str]:
    return {text[i: i + k] for i in range(max(1, len(text) - k + 1))}


def jaccard(a: str, b: str) -> float:
    x, y = shingles(a), shingles(b)
    return len(x & y) / len(x | y)


def near_duplicate(text: str, donor: str, kind: str, rng: random.Random) -> str:
    """The edits a crawl produces: a few characters changed, a sentence inserted, paragraphs re-ordered."""
    if kind == "edits":  # ~1% of characters substituted or deleted
        chars = list(text)
        for _ in range(max(1, len(chars) // 100)):
            i = rng.randrange(len(chars))
            chars[i] = rng.choice("的了是在和有") if rng.random() < 0.5 else ""
        return "".join(chars)
    pieces = [p for p in _SENTENCE.split(text) if p]
    if kind == "insertion":  # a sentence of another page, ~10% of the length, at a sentence boundary
        cut = rng.randrange(len(pieces) + 1)
        extra = donor[: max(10, len(text) // 10)]
        return "".join(pieces[:cut] + [extra] + pieces[cut:])
    third = max(1, len(pieces) // 3)  # paragraphs re-ordered: the three thirds rotated
    return "".join(pieces[third:] + pieces[:third]) if len(pieces) > 1 else text[len(text) // 2:] + text[: len(text) // 2]


def find_duplicates(docs: list[tuple[str, str]], config: DedupConfig = CONFIG, batch: int = 256) -> dict:
    """The pure path of NearDeduplicate: signatures -> band buckets -> verified links -> components."""
    buckets: dict[tuple[int, int], list] = {}
    for start in range(0, len(docs), batch):
        chunk = docs[start: start + batch]
        signatures = minhash_signatures([text for _, text in chunk], config)
        for (node, _), signature, keys in zip(chunk, signatures, band_keys(signatures, config.bands)):
            for band, key in enumerate(keys.tolist()):
                buckets.setdefault((band, key), []).append((node, signature))
    components = Components()
    for members in buckets.values():
        components.add_edges(bucket_links(members, config.threshold, config.max_pairwise))
    return components.representatives()


@pytest.fixture(scope="module")
def generated(wudao_sample_dir: Path):
    """300 originals with one near-duplicate each (100 per kind) among 1,500 distinct sample documents."""
    texts = sorted({r["content"] for path in sorted(wudao_sample_dir.glob("*.json"))
                    for r in json.loads(path.read_text(encoding="utf-8")) if len(r["content"]) >= 150})
    rng = random.Random(20240527)
    rng.shuffle(texts)
    originals, distinct = texts[:300], texts[300:1800]
    docs = [(f"orig-{i:04d}", text) for i, text in enumerate(originals)]
    docs += [(f"other-{i:04d}", text) for i, text in enumerate(distinct)]
    pairs = []
    for i, text in enumerate(originals):
        kind = ("edits", "insertion", "reorder")[i % 3]
        docs.append((f"variant-{i:04d}", near_duplicate(text, distinct[i], kind, rng)))
        pairs.append((f"orig-{i:04d}", f"variant-{i:04d}", kind))
    return docs, pairs


def test_recall_and_precision_on_generated_near_duplicates(generated):
    docs, pairs = generated
    text = dict(docs)
    kept = find_duplicates(docs)
    root = lambda node: kept.get(node, node)  # noqa: E731
    found = [(a, b, kind) for a, b, kind in pairs if root(a) == root(b)]
    recall = len(found) / len(pairs)
    clusters: dict[str, list[str]] = {}
    for node, _ in docs:
        clusters.setdefault(root(node), []).append(node)
    generated_pairs = {(a, b) for a, b, _ in pairs}
    predicted = [pair for members in clusters.values() for pair in combinations(sorted(members), 2)]
    # a predicted pair is right when we generated it, or when the two texts really are that similar
    right = [p for p in predicted if p in generated_pairs or jaccard(text[p[0]], text[p[1]]) >= CONFIG.threshold]
    precision = len(right) / len(predicted)
    by_kind = {kind: sum(k == kind for *_, k in found) / 100 for kind in ("edits", "insertion", "reorder")}
    print(f"near-dedup recall {recall:.3f} {by_kind}, precision {precision:.3f} "
          f"({len(predicted)} predicted pairs, {len(pairs)} generated)")
    assert recall >= 0.90, by_kind
    assert precision >= 0.95


def test_generated_pairs_sit_above_the_threshold_and_unrelated_pages_far_below(generated):
    docs, pairs = generated
    text = dict(docs)
    similar = [jaccard(text[a], text[b]) for a, b, _ in pairs]
    assert np.median(similar) >= 0.85
    assert jaccard(text["other-0000"], text["other-0001"]) < 0.2


def test_signatures_estimate_jaccard_within_sampling_error(generated):
    docs, pairs = generated
    text = dict(docs)
    errors = []
    for a, b, _ in pairs[:150]:
        signatures = minhash_signatures([text[a], text[b]], CONFIG)
        errors.append(float(np.mean(signatures[0] == signatures[1])) - jaccard(text[a], text[b]))
    # sd of a 128-permutation estimate at J ~ 0.85 is ~0.03
    assert abs(np.mean(errors)) < 0.01
    assert np.std(errors) < 0.05


def test_the_kept_document_does_not_depend_on_order_or_batching(generated):
    docs, _ = generated
    sample = docs[:200] + docs[-300:]
    reference = find_duplicates(sample, batch=256)
    shuffled = sample[:]
    random.Random(3).shuffle(shuffled)
    assert find_duplicates(shuffled, batch=17) == reference
    assert all(kept < node for node, kept in reference.items())  # the smallest node of each cluster stays


def test_components_join_chains_and_report_cluster_sizes():
    components = Components().add_edges([("c", "b"), ("e", "d"), ("b", "a"), ("f", "d")])
    representatives = components.representatives()
    assert representatives == {"b": "a", "c": "a", "e": "d", "f": "d"}
    assert cluster_sizes(representatives) == {3: 2}


def test_short_texts_are_one_shingle_and_only_match_themselves():
    signatures = minhash_signatures(["你好", "你好", "再见", ""], CONFIG)
    assert (signatures[0] == signatures[1]).all()
    assert not (signatures[0] == signatures[2]).any()


def test_beam_transform_ledgers_near_duplicates_with_the_kept_id(generated):
    docs, pairs = generated
    text = dict(docs)
    a, b, _ = pairs[1]  # an insertion pair
    inputs = [CleanDocument("doc-b", "x.json", text[b]), CleanDocument("doc-a", "x.json", text[a]),
              CleanDocument("doc-c", "y.json", text["other-0000"])]
    with beam.Pipeline() as pipeline:
        result = pipeline | beam.Create(inputs) | NearDeduplicate(CONFIG, batch_size=2)
        assert_that(result["kept"] | "kept_ids" >> beam.Map(lambda d: d.doc_id), equal_to(["doc-a", "doc-c"]),
                    label="kept")
        assert_that(result[REJECTED] | beam.Map(lambda r: (r.doc_id, r.reason, r.detail)),
                    equal_to([("doc-b", "duplicate_near", "doc-a")]), label="rejected")
        assert_that(result["cluster_sizes"], equal_to([{2: 1}]), label="clusters")
