"""The Beam edge of near-deduplication: signatures -> band keys -> buckets -> edges -> components.

Only band members travel through the shuffle with their signatures; the components are joined on one
worker (a global combine over the edges, which number at most the duplicates) and come back to the
documents as a side input holding the duplicates alone.
"""
from __future__ import annotations

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from pipeline.config import DedupConfig
from pipeline.dedup import Components, band_keys, bucket_links, cluster_sizes, minhash_signatures
from pipeline.documents import Rejection
from pipeline.examples import CleanDocument

REJECTED = "rejected"
NEAR_DUPLICATE = "duplicate_near"
_NAMESPACE = "erlangshen"


def _node(doc: CleanDocument) -> tuple[str, str]:
    """A document's identity in the graph; its order (doc_id, then source) decides which one is kept."""
    return doc.doc_id, doc.source


class BandKeys(beam.DoFn):
    """A batch of documents in, one ((band, key), (node, signature)) per document and band out."""

    def __init__(self, config: DedupConfig) -> None:
        self._config = config

    def process(self, docs: list[CleanDocument]):
        signatures = minhash_signatures([d.text for d in docs], self._config)
        keys = band_keys(signatures, self._config.bands)
        for doc, signature, doc_keys in zip(docs, signatures, keys):
            payload = (_node(doc), signature.tobytes())
            for band, key in enumerate(doc_keys.tolist()):
                yield (band, key), payload


class LinkBucket(beam.DoFn):
    def __init__(self, config: DedupConfig) -> None:
        self._config = config

    def process(self, element):
        _, members = element
        members = list(members)
        if len(members) < 2:
            return
        Metrics.distribution(_NAMESPACE, "near_dedup.bucket_size").update(len(members))
        decoded = [(node, np.frombuffer(signature, dtype=np.uint32)) for node, signature in members]
        yield from bucket_links(decoded, self._config.threshold, self._config.max_pairwise)


class ConnectedComponents(beam.CombineFn):
    """Edges in, {duplicate node: kept node} out."""

    def create_accumulator(self) -> Components:
        return Components()

    def add_input(self, accumulator: Components, edge) -> Components:
        accumulator.union(*edge)
        return accumulator

    def merge_accumulators(self, accumulators) -> Components:
        merged = Components()
        for accumulator in accumulators:
            merged.add_edges(accumulator.parent.items())
        return merged

    def extract_output(self, accumulator: Components) -> dict:
        return accumulator.representatives()


class DropNearDuplicates(beam.DoFn):
    def __init__(self, ledger_text: bool) -> None:
        self._ledger_text = ledger_text

    def process(self, doc: CleanDocument, duplicates: dict):
        kept = duplicates.get(_node(doc))
        if kept is None:
            yield doc
        else:
            Metrics.counter(_NAMESPACE, f"rejected.{NEAR_DUPLICATE}").inc()
            text = doc.text if self._ledger_text else ""
            yield beam.pvalue.TaggedOutput(REJECTED, Rejection(doc.doc_id, doc.source, NEAR_DUPLICATE, kept[0], text))


class NearDeduplicate(beam.PTransform):
    """CleanDocuments in; a dict out: "kept" documents, "rejected" near-duplicates (detail = the kept
    doc_id) and "cluster_sizes" (one {cluster size: clusters} element, for the report)."""

    def __init__(self, config: DedupConfig, batch_size: int, ledger_text: bool = False) -> None:
        super().__init__()
        self._config, self._batch_size, self._ledger_text = config, batch_size, ledger_text

    def expand(self, docs):
        if not self._config.near:
            return {"kept": docs, REJECTED: docs | "no_near_duplicates" >> beam.Filter(lambda _: False),
                    "cluster_sizes": docs.pipeline | "no_clusters" >> beam.Create([{}])}
        duplicates = (
            docs
            | "batch_for_minhash" >> beam.BatchElements(
                min_batch_size=self._batch_size, max_batch_size=max(self._batch_size, 1024))
            | "band_keys" >> beam.ParDo(BandKeys(self._config))
            | "group_bands" >> beam.GroupByKey()
            | "link_buckets" >> beam.ParDo(LinkBucket(self._config))
            | "connected_components" >> beam.CombineGlobally(ConnectedComponents())
        )
        result = docs | "drop_near_duplicates" >> beam.ParDo(
            DropNearDuplicates(self._ledger_text), duplicates=beam.pvalue.AsSingleton(duplicates)).with_outputs(REJECTED, main="kept")
        sizes = duplicates | "cluster_sizes" >> beam.Map(cluster_sizes)
        return {"kept": result.kept, REJECTED: result[REJECTED], "cluster_sizes": sizes}
