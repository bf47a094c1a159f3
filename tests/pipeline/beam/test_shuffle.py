"""Only keys cross a shuffle, and a finished run leaves only its published files.

Every step that touches text takes one input file and streams it; what the runner shuffles is key
prefixes, the few candidates' keys and signatures, edges and counts (see pipeline/beam/__init__.py). The
graph check pins which steps feed a GroupByKey; the run on the WuDao sample measures what they shipped
and checks that the spills of pass 1 are gone."""
from __future__ import annotations

import json
from pathlib import Path

import apache_beam as beam
import pytest

from pipeline.beam.prepare import PrepareRequest, build_prepare, run_prepare
from pipeline.config import DedupConfig, PrepareConfig
from pipeline.dedup import bucket_count
from runners.local import local_options
from tests.conftest import SAMPLE_CORPUS

GROUP_BY_KEY = "beam:transform:group_by_key:v1"
# The steps whose output a runner may shuffle: pass 1's key prefixes, the dedup rounds' candidates, the
# verified edges, the per-file counts and the list of input files. Never `build_shards` or `publish`,
# and never a step that emits texts or rows.
KEY_STEPS = {"clean_files", "find_duplicates/exact_candidates", "find_duplicates/near_candidates",
             "find_duplicates/connected_components", "sum_stats", "list_files"}
PUBLISHED = {"manifest.json", "summary.json", "report.html", "vocab.txt"}


def shuffle_feeders(pipeline: beam.Pipeline) -> dict[str, str]:
    """Each GroupByKey of `prepare_corpus` -> the step (two levels below it at most) producing its input."""
    proto = pipeline.to_runner_api()
    transforms = proto.components.transforms
    producer = {pcoll: t.unique_name for t in transforms.values() if not t.subtransforms for pcoll in t.outputs.values()}
    feeders = {}
    for t in transforms.values():
        if t.spec.urn == GROUP_BY_KEY:
            (source,) = t.inputs.values()
            parts = producer[source].split("/")
            assert parts[0] == "prepare_corpus", producer[source]
            step = "/".join(parts[1:3]) if parts[1] == "find_duplicates" else parts[1]
            feeders[t.unique_name] = step
    return feeders


@pytest.mark.parametrize("near", [True, False])
def test_only_key_steps_feed_a_shuffle(tmp_path, near):
    pipeline = beam.Pipeline(options=local_options(1))
    build_prepare(pipeline, PrepareRequest([str(SAMPLE_CORPUS / "*.json")], str(tmp_path / "out"),
                                           PrepareConfig(dedup=DedupConfig(near=near))))
    feeders = shuffle_feeders(pipeline)
    assert set(feeders.values()) <= KEY_STEPS, feeders
    assert ("find_duplicates/near_candidates" in feeders.values()) == near
    assert "clean_files" in feeders.values()  # the check sees the dedup shuffles, it is not vacuous


@pytest.fixture(scope="module")
def wudao_run(wudao_sample_dir, tmp_path_factory) -> tuple[Path, dict, int]:
    output = tmp_path_factory.mktemp("wudao") / "out"
    inputs = sorted(wudao_sample_dir.glob("*.json"))
    summary = run_prepare(PrepareRequest([str(p) for p in inputs], str(output)), local_options(1))
    return output, summary, len(inputs)


def test_a_finished_run_holds_only_its_published_files(wudao_run):
    output, summary, files = wudao_run
    found = {str(p.relative_to(output)) for p in output.rglob("*")}
    expected = (PUBLISHED | {"shards", "rejects"} | {f"rejects/part-{i:05d}.jsonl" for i in range(files)}
                | {f"shards/part-{i:05d}-0000.parquet" for i in range(files)})
    assert found == expected  # no .staging/, no spill, no staged lexicon, no .inprogress file
    assert summary["shards"] == files


def test_what_the_run_shuffled_is_keys_a_small_share_of_its_input(wudao_run):
    _, summary, files = wudao_run
    stats, read = summary["stats"], summary["documents"]["read"]
    shuffled = {key.removeprefix("shuffled_bytes."): value for key, value in stats.items()
                if key.startswith("shuffled_bytes.")}
    print(json.dumps({"input_bytes": stats["input_bytes"], "documents": read, **shuffled}))
    overhead = 8 * bucket_count(stats["input_bytes"]) * files  # one element per bucket and file
    assert 0 < shuffled["digests"] <= 4 * read + overhead  # a 4-byte prefix a document
    assert 0 < shuffled["band_keys"] <= 4 * PrepareConfig().dedup.bands * read + overhead  # and one a band
    assert sum(shuffled.values()) < 0.15 * stats["input_bytes"]
