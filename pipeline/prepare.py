"""Driver of `prepare`: checks the request, fixes the output plan, runs `PrepareCorpus` on a runner.

Everything that can be wrong with the request (inputs, vocab, lexicon, output directory) fails here,
as one clear error, before any worker starts.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from knowledge.lexicon import load_lexicons
from pipeline import beam_io
from pipeline.clean import normalize_text
from pipeline.config import PrepareConfig
from pipeline.transforms import LEDGER_DIR, STAGING_DIR, SUMMARY_NAME, OutputPlan, PrepareCorpus
from pipeline.vocab import Vocab, build_default_vocab, load_vocab
from schemas.errors import UserInputError
from schemas.manifest import MANIFEST_NAME, SHARDS_DIR, VOCAB_NAME, VocabInfo


def prepare_output_dir(output_dir: str, overwrite: bool) -> None:
    """Refuses to mix runs: an earlier run's files are kept unless the user says --overwrite."""
    previous = [name for name in (MANIFEST_NAME, SHARDS_DIR, LEDGER_DIR, SUMMARY_NAME, STAGING_DIR)
                if FileSystems.exists(FileSystems.join(output_dir, name))]
    if previous and not overwrite:
        state = "a finished run" if MANIFEST_NAME in previous else "an unfinished (interrupted) run"
        raise UserInputError(
            f"{output_dir} already holds {state} ({', '.join(previous)}); pass --overwrite to replace it"
        )
    if previous:
        FileSystems.delete([FileSystems.join(output_dir, name) for name in previous])
    if not FileSystems.exists(output_dir):
        FileSystems.mkdirs(output_dir)


def shard_count(config: PrepareConfig, input_bytes: int) -> int:
    if config.num_shards:
        return config.num_shards
    return max(1, math.ceil(input_bytes / config.shard_input_bytes))


def run_prepare(
    inputs: Sequence[str],
    output_dir: str,
    config: PrepareConfig,
    vocab_path: str | None = None,
    lexicon_paths: Sequence[str] = (),
    overwrite: bool = False,
    options: PipelineOptions | None = None,
) -> dict:
    """Runs the pipeline to completion and returns the run summary (also written to the output)."""
    config.validate()
    files = beam_io.expand_inputs(list(inputs))
    vocab: Vocab = load_vocab(vocab_path) if vocab_path else build_default_vocab()
    lexicon = load_lexicons(lexicon_paths, lambda t: normalize_text(t, config.clean.to_simplified))
    prepare_output_dir(output_dir, overwrite)
    vocab_file = FileSystems.join(output_dir, VOCAB_NAME)
    beam_io.write_atomically(vocab_file, vocab.to_text().encode("utf-8"))

    plan = OutputPlan(
        output_dir=output_dir,
        num_shards=shard_count(config, sum(size for _, size in files)),
        vocab_file=vocab_file,
        lexicon_paths=tuple(lexicon_paths),
        entity_types=lexicon.types,
    )
    vocab_info = VocabInfo(file=VOCAB_NAME, sha256=vocab.sha256, size=len(vocab.tokens))
    with beam.Pipeline(options=options or PipelineOptions([])) as pipeline:
        _ = pipeline | "prepare_corpus" >> PrepareCorpus(
            [path for path, _ in files], config, plan, vocab_info, vocab.special_tokens
        )
    return json.loads(beam_io.read_text(FileSystems.join(output_dir, SUMMARY_NAME)))
