"""The Beam edge of deduplication: corpus-wide decisions from digests, band keys and signatures alone.

Both dedups run in rounds, so that what most documents ship is 4 bytes a key. Exact: the prefixes of
all text digests find the prefixes two documents share (a side input, small); then only the documents
under those prefixes ship (digest, doc_id, position), grouped by digest bucket, and every entry whose
digest a smaller node also holds is a duplicate. Near: the prefixes of all band keys find the keys two
documents may share; then each file's spilled signatures under those keys travel to be verified, and the verified links are joined into components on one
worker (a global combine over the edges, which number at most the duplicates). Exact duplicates stay
out of the near graph, so a cluster is judged on its distinct texts. Both decisions come back as parts
keyed by input file, which the shard pass reads as a side input: a file's worker looks up its own.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from pipeline.beam import spill
from pipeline.beam.layout import METRICS_NAMESPACE, SHUFFLED_STAT, OutputPlan
from pipeline.beam.stages import STATS, shuffled_size
from pipeline.config import DedupConfig
from pipeline.dedup import (
    Components, DuplicatePart, Node, SharedPrefixes, bucket_links, candidate_groups, candidate_parts,
    cluster_sizes, dropped_positions, exact_duplicates, exact_key_parts, repeated_prefixes,
)

EXACT_DUPLICATE = "duplicate_exact"
NEAR_DUPLICATE = "duplicate_near"


def candidate_buckets(buckets: int) -> int:
    """Buckets for the near-dedup candidates: a document ships its signature once per bucket its
    candidate band keys fall in, and candidates are a small part of the corpus, so they get one bucket
    per 64 key buckets (one per ~4 GB of input)."""
    return -(-buckets // 64)


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


class RepeatedPrefixes(beam.DoFn):
    """A bucket's key prefixes in; those that two or more keys hold out (one part per bucket)."""

    def process(self, element):
        bucket, parts = element
        repeated = repeated_prefixes(bucket, parts)
        if repeated is not None:
            yield repeated


def _keyed_batches(plan: OutputPlan, index: int, shared: SharedPrefixes):
    """The file's keys spill, batch by batch, or nothing when no prefix is repeated anywhere."""
    return spill.read_batches(plan.spill(index, "keys")) if shared else ()


class ExactCandidates(beam.DoFn):
    """(file index, path) in; the (digest, doc_id, position) entries of its documents whose digest
    prefix is repeated out, by bucket, read from the keys its first pass spilled."""

    def __init__(self, plan: OutputPlan) -> None:
        self._plan = plan

    def start_bundle(self) -> None:
        self._shared = None  # the side input is fixed within a bundle: index it once

    def process(self, element: tuple[int, str], repeated):
        if self._shared is None:
            self._shared = SharedPrefixes(repeated, self._plan.dedup_buckets)
        index, _ = element
        shuffled: Counter = Counter()
        for batch in _keyed_batches(self._plan, index, self._shared):
            digests = spill.digests_of(batch)
            chosen = np.flatnonzero(self._shared.holds(np.ascontiguousarray(digests[:, 0])))
            if not chosen.size:
                continue
            positions = batch.column(spill.POSITION).to_numpy()[chosen]
            doc_ids = batch.column(spill.DOC_ID).take(chosen).to_pylist()
            for part in exact_key_parts(index, positions, digests[chosen], doc_ids, self._plan.dedup_buckets):
                shuffled[f"{SHUFFLED_STAT}exact_candidates"] += shuffled_size(part)
                yield part
        yield beam.pvalue.TaggedOutput(STATS, shuffled)


class ExactDuplicates(beam.DoFn):
    """A digest bucket's candidates in; the bucket's exact duplicates out, by file."""

    def process(self, element):
        _, parts = element
        yield from by_file(exact_duplicates(parts), EXACT_DUPLICATE)


class NearCandidates(beam.DoFn):
    """(file index, path) in; the file's entries whose band-key prefix is repeated out, with their
    signatures, by bucket, read from the keys its first pass spilled. The file's exact duplicates stay
    out."""

    def __init__(self, config: DedupConfig, plan: OutputPlan) -> None:
        self._config = config
        self._plan = plan

    def start_bundle(self) -> None:
        self._shared = None

    def process(self, element: tuple[int, str], repeated, exact):
        if self._shared is None:
            self._shared = SharedPrefixes(repeated, self._plan.dedup_buckets)
        index, _ = element
        shuffled: Counter = Counter()
        excluded = dropped_positions(exact[index]) if self._shared else {}
        for batch in _keyed_batches(self._plan, index, self._shared):
            positions = batch.column(spill.POSITION).to_pylist()
            keep = [i for i, position in enumerate(positions) if position not in excluded]
            signatures = spill.signatures_of(batch)[keep]
            doc_ids = batch.column(spill.DOC_ID).to_pylist()
            nodes = [(doc_ids[i], index, positions[i]) for i in keep]
            for part in candidate_parts(nodes, signatures, self._config.bands,
                                        candidate_buckets(self._plan.dedup_buckets), self._shared):
                shuffled[f"{SHUFFLED_STAT}near_candidates"] += shuffled_size(part)
                yield part
        yield beam.pvalue.TaggedOutput(STATS, shuffled)


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
    (file index, DuplicatePart) of every duplicate, "cluster_sizes", one {cluster size: clusters}
    element for the report (none when no document has a near duplicate), and "stats", counts of what
    the candidate step shuffled."""

    def __init__(self, config: DedupConfig, plan: OutputPlan) -> None:
        super().__init__()
        self._config, self._plan = config, plan

    def expand(self, inputs):
        digest_prefixes, band_prefixes, input_files = inputs
        repeated_digests = (digest_prefixes
                            | "group_digest_prefixes" >> beam.GroupByKey()
                            | "repeated_digest_prefixes" >> beam.ParDo(RepeatedPrefixes()))
        exact_candidates = input_files | "exact_candidates" >> beam.ParDo(
            ExactCandidates(self._plan), repeated=beam.pvalue.AsList(repeated_digests)).with_outputs(
            STATS, main="parts")
        exact = (exact_candidates.parts
                 | "group_exact_candidates" >> beam.GroupByKey()
                 | "exact_duplicates" >> beam.ParDo(ExactDuplicates()))
        if not self._config.near:
            return {"by_file": exact, STATS: exact_candidates[STATS],
                    "cluster_sizes": input_files.pipeline | "no_clusters" >> beam.Create([{}])}
        repeated_bands = (band_prefixes
                          | "group_band_prefixes" >> beam.GroupByKey()
                          | "repeated_band_prefixes" >> beam.ParDo(RepeatedPrefixes()))
        near_candidates = input_files | "near_candidates" >> beam.ParDo(
            NearCandidates(self._config, self._plan), repeated=beam.pvalue.AsList(repeated_bands),
            exact=beam.pvalue.AsMultiMap(exact)).with_outputs(STATS, main="parts")
        near = (
            near_candidates.parts
            | "group_near_candidates" >> beam.GroupByKey()
            | "link_buckets" >> beam.ParDo(LinkBucket(self._config))
            # no default value for an empty input: it would take three more ParDos and a stage
            | "connected_components" >> beam.CombineGlobally(ConnectedComponents()).without_defaults()
        )
        near_by_file = near | "near_by_file" >> beam.FlatMap(lambda pairs: by_file(pairs.items(), NEAR_DUPLICATE))
        return {
            "by_file": (exact, near_by_file) | "all_duplicates" >> beam.Flatten(),
            "cluster_sizes": near | "cluster_sizes" >> beam.Map(cluster_sizes),
            STATS: (exact_candidates[STATS], near_candidates[STATS]) | "candidate_stats" >> beam.Flatten(),
        }
