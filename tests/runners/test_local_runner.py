"""The DirectRunner as `prepare` uses it: worker count, and the same bytes whatever the count."""
from __future__ import annotations

from dataclasses import replace

from apache_beam.options.pipeline_options import DirectOptions, StandardOptions

import pytest

from pipeline.beam.prepare import PrepareRequest, run_prepare
from pipeline.report import REPORT_NAME
from runners.local import SMALL_INPUT_BYTES, available_cores, local_options
from schemas.errors import UserInputError
from tests.run_outputs import differing_files, output_files
from tests.runners.conftest import CONFIG


def test_default_is_one_worker_process_per_available_core():
    direct = local_options().view_as(DirectOptions)
    assert direct.direct_num_workers == available_cores()
    expected_mode = "in_memory" if available_cores() == 1 else "multi_processing"
    assert direct.direct_running_mode == expected_mode


def test_an_input_too_small_to_repay_a_second_worker_runs_in_process_unless_workers_are_given():
    small = local_options(input_bytes=SMALL_INPUT_BYTES - 1).view_as(DirectOptions)
    assert (small.direct_num_workers, small.direct_running_mode) == (1, "in_memory")
    assert local_options(input_bytes=SMALL_INPUT_BYTES).view_as(DirectOptions).direct_num_workers == available_cores()
    assert local_options(3, input_bytes=1).view_as(DirectOptions).direct_num_workers == 3


def test_one_worker_runs_in_process_and_more_in_processes():
    assert local_options(1).view_as(DirectOptions).direct_running_mode == "in_memory"
    many = local_options(3).view_as(DirectOptions)
    assert (many.direct_num_workers, many.direct_running_mode) == (3, "multi_processing")
    assert local_options(3).view_as(StandardOptions).runner == "DirectRunner"


def test_zero_workers_is_a_user_error():
    with pytest.raises(UserInputError, match="--workers"):
        local_options(0)


def test_extra_beam_flags_pass_through_without_overriding_the_worker_count():
    options = local_options(2, ["--direct_num_workers=7", "--max_cache_memory_usage_mb=64"])
    assert options.view_as(DirectOptions).direct_num_workers == 2
    assert options.get_all_options()["max_cache_memory_usage_mb"] == 64


def test_two_worker_processes_write_the_same_bytes_as_one_in_process(small_corpus, small_corpus_dir,
                                                                     in_process_output, tmp_path):
    summary = run_prepare(PrepareRequest([str(small_corpus_dir / "*.json")], str(tmp_path), CONFIG), local_options(2))
    produced = output_files(tmp_path)
    shards = [name for name in produced if name.startswith("shards/")]
    ledgers = [name for name in produced if name.startswith("rejects/")]
    assert summary["shards"] == len(shards) >= len(small_corpus) >= 4  # packed: one window, one part a file
    assert summary["rows"] < summary["profile"]["examples"]
    assert len(ledgers) == len(small_corpus)
    assert {"manifest.json", "summary.json", REPORT_NAME} <= set(produced)  # the report's bytes too
    assert differing_files(produced, in_process_output) == []


def test_two_worker_processes_write_the_same_parts_as_one_one_example_a_row(small_corpus, small_corpus_dir,
                                                                            tmp_path):
    """Unpacked, a file's rows fill several parts (a new one after 32 rows): their order across workers."""
    config = replace(CONFIG, pack=False)
    outputs = []
    for workers in (1, 2):
        run_prepare(PrepareRequest([str(small_corpus_dir / "*.json")], str(tmp_path / str(workers)), config),
                    local_options(workers))
        outputs.append(output_files(tmp_path / str(workers)))
    assert len([name for name in outputs[0] if name.startswith("shards/")]) > len(small_corpus)
    assert differing_files(outputs[1], outputs[0]) == []
