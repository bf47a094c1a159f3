"""The Beam edge of deduplication: corpus-wide decisions from digests, band keys and signatures alone.

Exact: each file's (digest, doc_id, position) entries are grouped by digest bucket, and every entry
whose digest a smaller node also holds is a duplicate. Near: band keys alone find the keys that two
documents share (a side input, small: LSH candidates are rare); then each file's spilled signatures
under those keys travel to be verified, and the verified links are joined into components on one
worker (a global combine over the edges, which number at most the duplicates). Exact duplicates stay
out of the near graph, so a cluster is judged on its distinct texts. Both decisions come back as parts
keyed by input file, which the shard pass reads as a side input: a file's worker looks up its own.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from pipeline.beam import spill
from pipeline.beam.layout import METRICS_NAMESPACE, OutputPlan
from pipeline.config import DedupConfig
from pipeline.dedup import (
    Components, DuplicatePart, Node, candidate_groups, candidate_parts, bucket_links, cluster_sizes, dropped_positions,
    exact_duplicates, shared_band_keys, shared_keys,
)

EXACT_DUPLICATE = "duplicate_exact"
NEAR_DUPLICATE = "duplicate_near"


def by_file(pairs: Iterable[tuple[Node, Node]], reason: str) -> Iterator[tuple[int, DuplicatePart]]:
    """(duplicate, kept) node pairs as one (file index, part) per file that holds duplicates."""
    files: dict[int, tuple[list[int], list[str]]] = {}
    for (_, file_index, position), (kept_id, _, _) in pairs:
        positions, kept = files.setdefault(file_index, ([], []))
        positions.append(position)
        kept.append(kept_id)
    for file_index in sorted(files):
        positions, kept = files[file_index]
        yield file_index, (np.array(positions, dtype=np.uint32).tobytes(), kept, reason)


class ExactDuplicates(beam.DoFn):
    """A digest bucket's parts in; the bucket's exact duplicates out, by file."""

    def process(self, element):
        _, parts = element
        yield from by_file(exact_duplicates(parts), EXACT_DUPLICATE)


class SharedBandKeys(beam.DoFn):
    def process(self, element):
        shared = shared_band_keys(element[1])
        if shared is not None:
            yield shared


class CandidateParts(beam.DoFn):
    """(file index, path) in; the file's entries under shared band keys out, by bucket, read from the
    signatures its first pass spilled. The file's exact duplicates stay out."""

    def __init__(self, config: DedupConfig, plan: OutputPlan) -> None:
        self._config = config
        self._plan = plan

    def start_bundle(self) -> None:
        self._shared = None  # the side input is fixed within a bundle: index it once

    def process(self, element: tuple[int, str], shared, exact):
        if self._shared is None:
            self._shared = shared_keys(shared)
        if not self._shared.size:
            return
        index, _ = element
        excluded = dropped_positions(exact[index])
        for batch in spill.read_batches(self._plan.spill(index, "signatures")):
            positions = batch.column(spill.POSITION).to_pylist()
            keep = [i for i, position in enumerate(positions) if position not in excluded]
            signatures = spill.signatures_of(batch)[keep]
            doc_ids = batch.column(spill.DOC_ID).to_pylist()
            nodes = [(doc_ids[i], index, positions[i]) for i in keep]
            yield from candidate_parts(nodes, signatures, self._config.bands, self._plan.dedup_buckets, self._shared)


class LinkBucket(beam.DoFn):
    """A bucket's parts in, the verified links among its band-key groups out (one list per bucket)."""

    def __init__(self, config: DedupConfig) -> None:
        self._config = config

    def process(self, element):
        _, parts = element
        sizes = Metrics.distribution(METRICS_NAMESPACE, "near_dedup.bucket_size")
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


class FindDuplicates(beam.PTransform):
    """(exact entries by bucket, band keys by bucket, input files) in; out: a dict of "by_file", the
    (file index, DuplicatePart) of every duplicate, and "cluster_sizes", one {cluster size: clusters}
    element for the report (none when no document has a near duplicate)."""

    def __init__(self, config: DedupConfig, plan: OutputPlan) -> None:
        super().__init__()
        self._config, self._plan = config, plan

    def expand(self, inputs):
        digests, band_parts, input_files = inputs
        exact = (digests
                 | "group_digests" >> beam.GroupByKey()
                 | "exact_duplicates" >> beam.ParDo(ExactDuplicates()))
        if not self._config.near:
            return {"by_file": exact, "cluster_sizes": digests.pipeline | "no_clusters" >> beam.Create([{}])}
        shared = (band_parts
                  | "group_band_keys" >> beam.GroupByKey()
                  | "shared_band_keys" >> beam.ParDo(SharedBandKeys()))
        near = (
            input_files
            | "candidates" >> beam.ParDo(CandidateParts(self._config, self._plan),
                                         shared=beam.pvalue.AsList(shared), exact=beam.pvalue.AsMultiMap(exact))
            | "group_candidates" >> beam.GroupByKey()
            | "link_buckets" >> beam.ParDo(LinkBucket(self._config))
            # no default value for an empty input: it would take three more ParDos and a stage
            | "connected_components" >> beam.CombineGlobally(ConnectedComponents()).without_defaults()
        )
        near_by_file = near | "near_by_file" >> beam.FlatMap(lambda pairs: by_file(pairs.items(), NEAR_DUPLICATE))
        return {
            "by_file": (exact, near_by_file) | "all_duplicates" >> beam.Flatten(),
            "cluster_sizes": near | "cluster_sizes" >> beam.Map(cluster_sizes),
        }
