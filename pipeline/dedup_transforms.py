"""The Beam edge of near-deduplication: signatures -> band keys -> buckets -> edges -> components.

Documents travel in batches (lists), and each shuffle carries one columnar part per batch and bucket,
not one element per document and band: Beam's per-element cost (tens of µs a step) would otherwise
outweigh the MinHash itself. Two rounds: the band keys alone find the keys two documents share (a
side input, small: LSH candidates are rare), then only the entries of those keys travel with their
signatures to be verified; shipping every signature once per band was 16x the corpus in bytes. The
components are joined on one worker (a global combine over the edges, which number at most the
duplicates) and come back to the batches as a side input holding the duplicates alone.
"""
from __future__ import annotations

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from pipeline.beam_coders import CleanBatch
from pipeline.config import DedupConfig
from pipeline.dedup import (
    MIN_BUCKETS, Components, SharedKeys, band_key_parts, bucket_links, candidate_groups, candidate_parts,
    cluster_sizes, minhash_signatures, shared_band_keys,
)
from pipeline.documents import Rejection
from pipeline.examples import CleanDocument

REJECTED = "rejected"
NEAR_DUPLICATE = "duplicate_near"
SIGNATURES = "signatures"
_NAMESPACE = "erlangshen"


def _node(doc: CleanDocument) -> tuple[str, str]:
    """A document's identity in the graph; its order (doc_id, then source) decides which one is kept."""
    return doc.doc_id, doc.source


class BandKeys(beam.DoFn):
    """A batch of documents in; one (bucket, band keys) per bucket its keys fall in out, and the
    batch's (nodes, signatures) to SIGNATURES."""

    def __init__(self, config: DedupConfig, buckets: int) -> None:
        self._config = config
        self._buckets = buckets

    def process(self, docs: CleanBatch):
        signatures = minhash_signatures([d.text for d in docs], self._config)
        yield from band_key_parts(signatures, self._config.bands, self._buckets)
        yield beam.pvalue.TaggedOutput(SIGNATURES, ([_node(d) for d in docs], signatures.tobytes()))


class SharedBandKeys(beam.DoFn):
    def process(self, element):
        shared = shared_band_keys(element[1])
        if shared is not None:
            yield shared


class CandidateParts(beam.DoFn):
    """A batch's (nodes, signatures) in, its entries under shared band keys out, by bucket."""

    def __init__(self, config: DedupConfig, buckets: int) -> None:
        self._config = config
        self._buckets = buckets

    def start_bundle(self) -> None:
        self._shared = None  # the side input is fixed within a bundle: index it once

    def process(self, element, shared):
        if self._shared is None:
            self._shared = SharedKeys(shared)
        nodes, signature_bytes = element
        signatures = np.frombuffer(signature_bytes, dtype=np.uint32).reshape(len(nodes), -1)
        yield from candidate_parts(nodes, signatures, self._config.bands, self._buckets, self._shared)


class LinkBucket(beam.DoFn):
    """A bucket's parts in, the verified links among its band-key groups out (one list per bucket)."""

    def __init__(self, config: DedupConfig) -> None:
        self._config = config

    def process(self, element):
        _, parts = element
        sizes = Metrics.distribution(_NAMESPACE, "near_dedup.bucket_size")
        edges = []
        for members in candidate_groups(parts):
            sizes.update(len(members))
            edges.extend(bucket_links(members, self._config.threshold, self._config.max_pairwise))
        if edges:
            yield edges


class ConnectedComponents(beam.CombineFn):
    """Lists of edges in, {duplicate node: kept node} out."""

    def create_accumulator(self) -> Components:
        return Components()

    def add_input(self, accumulator: Components, edges) -> Components:
        return accumulator.add_edges(edges)

    def merge_accumulators(self, accumulators) -> Components:
        merged = Components()
        for accumulator in accumulators:
            merged.add_edges(accumulator.parent.items())
        return merged

    def extract_output(self, accumulator: Components) -> dict:
        return accumulator.representatives()


class DropNearDuplicates(beam.DoFn):
    """A batch in, its documents that no kept document duplicates out (as one batch)."""

    def __init__(self, ledger_text: bool) -> None:
        self._ledger_text = ledger_text

    def process(self, docs: CleanBatch, duplicates: list[dict]):
        """`duplicates`: the one {duplicate node: kept node} dict, or none when no document has a near
        duplicate."""
        representatives = duplicates[0] if duplicates else {}
        kept = CleanBatch()
        for doc in docs:
            representative = representatives.get(_node(doc))
            if representative is None:
                kept.append(doc)
                continue
            Metrics.counter(_NAMESPACE, f"rejected.{NEAR_DUPLICATE}").inc()
            text = doc.text if self._ledger_text else ""
            yield beam.pvalue.TaggedOutput(
                REJECTED, Rejection(doc.doc_id, doc.source, NEAR_DUPLICATE, representative[0], text))
        if kept:
            yield kept


class NearDeduplicateBatches(beam.PTransform):
    """Batches (lists) of CleanDocuments in; a dict out: "kept" batches, "rejected" near-duplicates
    (detail = the kept doc_id) and "cluster_sizes" (one {cluster size: clusters} element, for the
    report; none when no document has a near duplicate). `buckets` (see `pipeline.dedup.bucket_count`)
    never changes the result."""

    def __init__(self, config: DedupConfig, ledger_text: bool = False, buckets: int = MIN_BUCKETS) -> None:
        super().__init__()
        self._config, self._ledger_text, self._buckets = config, ledger_text, buckets

    def expand(self, batches):
        if not self._config.near:
            return {"kept": batches, REJECTED: batches | "no_near_duplicates" >> beam.Filter(lambda _: False),
                    "cluster_sizes": batches.pipeline | "no_clusters" >> beam.Create([{}], reshuffle=False)}
        keys = batches | "band_keys" >> beam.ParDo(BandKeys(self._config, self._buckets)).with_outputs(
            SIGNATURES, main="keys")
        shared = (keys.keys | "group_band_keys" >> beam.GroupByKey()
                  | "shared_band_keys" >> beam.ParDo(SharedBandKeys()))
        duplicates = (
            keys[SIGNATURES]
            | "candidates" >> beam.ParDo(CandidateParts(self._config, self._buckets),
                                         shared=beam.pvalue.AsList(shared))
            | "group_candidates" >> beam.GroupByKey()
            | "link_buckets" >> beam.ParDo(LinkBucket(self._config))
            # no default value for an empty input: it would take three more ParDos and a stage
            | "connected_components" >> beam.CombineGlobally(ConnectedComponents()).without_defaults()
        )
        result = batches | "drop_near_duplicates" >> beam.ParDo(
            DropNearDuplicates(self._ledger_text), duplicates=beam.pvalue.AsList(duplicates),
        ).with_output_types(CleanBatch).with_outputs(REJECTED, main="kept")
        sizes = duplicates | "cluster_sizes" >> beam.Map(cluster_sizes)
        return {"kept": result.kept, REJECTED: result[REJECTED], "cluster_sizes": sizes}

