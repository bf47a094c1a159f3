"""Driver of `prepare`: checks the request, fixes the output plan, runs `PrepareCorpus` on a runner.

Everything that can be wrong with the request (inputs, vocab, lexicon, output directory) fails here,
as one clear error, before any worker starts.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from knowledge.lexicon import LexiconOptions, default_sources, load_lexicons
from knowledge.sources import parse_source
from pipeline import beam_io
from pipeline.clean import normalize_text
from pipeline.config import PrepareConfig
from pipeline.report import REPORT_NAME
from pipeline.dedup import bucket_count
from pipeline.transforms import LEDGER_DIR, STAGING_DIR, SUMMARY_NAME, OutputPlan, PrepareCorpus, stage_lexicon
from pipeline.vocab import Vocab, build_default_vocab, parse_vocab
from schemas.errors import UserInputError
from schemas.manifest import MANIFEST_NAME, SHARDS_DIR, VOCAB_NAME, VocabInfo

GX_PROJECT = "gx"  # the folder Great Expectations' file context keeps under a validated output


def earlier_run_files(output_dir: str) -> dict[str, list[str]]:
    """Each output entry -> the files it holds. Object stores (gs://, s3://) have no directories: a
    folder is there only through the objects under it, so folders are listed, never `exists`-checked
    (and deleting a folder's name there would leave its files behind)."""
    found: dict[str, list[str]] = {}
    # GX_PROJECT: what `validate` wrote about the earlier run's shards is stale once they are replaced.
    for name in (MANIFEST_NAME, SHARDS_DIR, LEDGER_DIR, SUMMARY_NAME, REPORT_NAME, STAGING_DIR, GX_PROJECT):
        path = FileSystems.join(output_dir, name)
        if name in (MANIFEST_NAME, SUMMARY_NAME, REPORT_NAME):
            found[name] = [path] if FileSystems.exists(path) else []
        else:
            listed = FileSystems.match([FileSystems.join(path, "**")])[0].metadata_list
            found[name] = sorted(metadata.path for metadata in listed)
    return found


def prepare_output_dir(output_dir: str, overwrite: bool) -> None:
    """Refuses to mix runs: an earlier run's files are kept unless the user says --overwrite."""
    earlier = earlier_run_files(output_dir)
    previous = [name for name, files in earlier.items() if files]
    if previous and not overwrite:
        state = "a finished run" if MANIFEST_NAME in previous else "an unfinished (interrupted) run"
        raise UserInputError(
            f"{output_dir} already holds {state} ({', '.join(previous)}); pass --overwrite to replace it"
        )
    if previous:
        FileSystems.delete([path for files in earlier.values() for path in files])
    if not FileSystems.exists(output_dir):
        FileSystems.mkdirs(output_dir)


def shard_count(config: PrepareConfig, input_bytes: int) -> int:
    if config.num_shards:
        return config.num_shards
    return max(1, math.ceil(input_bytes / config.shard_input_bytes))


def read_vocab(path: str) -> Vocab:
    """Through FileSystems, so a gs:// vocab reads like a local one."""
    try:
        text = beam_io.read_text(path)
    except (OSError, UnicodeDecodeError) as error:  # Beam's BeamIOError is an OSError
        raise UserInputError(f"cannot read vocab {path}: {error}") from error
    return parse_vocab(text, path)


def lexicon_file(path: str) -> str:
    """A local path for the lexicon loaders (cloud objects are copied once per machine)."""
    try:
        return beam_io.local_copy(path)
    except OSError as error:
        raise UserInputError(f"cannot read lexicon: {error}") from error


def lexicon_provenance(specs: Sequence[str]) -> tuple[dict[str, str], ...]:
    """Each lexicon source with the sha256 of its bytes, so a manifest says which entities it used.
    The default lexicon is named, not pathed: its path depends on where jieba is installed."""
    if not specs:
        source = default_sources()[0]
        return ({"source": "default:jieba-proper-nouns", "type": "", "sha256": _sha256_file(source.path)},)
    provenance = []
    for spec in specs:
        source = parse_source(str(spec))
        provenance.append({"source": str(spec), "type": source.entity_type or "",
                           "sha256": _sha256_file(lexicon_file(source.path))})
    return tuple(provenance)


def _sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def build_prepare(
    pipeline: beam.Pipeline,
    inputs: Sequence[str],
    output_dir: str,
    config: PrepareConfig,
    vocab_path: str | None = None,
    lexicon_paths: Sequence[str] = (),
    overwrite: bool = False,
    lexicon_options: LexiconOptions = LexiconOptions(),
) -> None:
    """Checks the request, stages the vocab in the output and adds `PrepareCorpus` to `pipeline`
    without running it: what a runner's graph check translates, and what `run_prepare` runs."""
    config.validate()
    files = beam_io.expand_inputs(list(inputs))
    vocab: Vocab = read_vocab(vocab_path) if vocab_path else build_default_vocab()
    lexicon = load_lexicons(lexicon_paths, lambda t: normalize_text(t, config.clean.to_simplified),
                            lexicon_options, lexicon_file)
    if lexicon.counts.get("malformed_lines"):
        logging.warning("lexicon: skipped %d malformed lines", lexicon.counts["malformed_lines"])
    prepare_output_dir(output_dir, overwrite)
    vocab_file = FileSystems.join(output_dir, VOCAB_NAME)
    beam_io.write_atomically(vocab_file, vocab.to_text().encode("utf-8"))

    input_bytes = sum(size for _, size in files)
    plan = OutputPlan(
        output_dir=output_dir,
        num_shards=shard_count(config, input_bytes),
        vocab_file=vocab_file,
        entity_types=lexicon.types,
        lexicon_provenance=lexicon_provenance(lexicon_paths),
        dedup_buckets=bucket_count(input_bytes),
    )
    stage_lexicon(lexicon, plan)
    vocab_info = VocabInfo(file=VOCAB_NAME, sha256=vocab.sha256, size=len(vocab.tokens))
    _ = pipeline | "prepare_corpus" >> PrepareCorpus(
        [path for path, _ in files], config, plan, vocab_info, vocab.special_tokens
    )


def run_prepare(
    inputs: Sequence[str],
    output_dir: str,
    config: PrepareConfig,
    vocab_path: str | None = None,
    lexicon_paths: Sequence[str] = (),
    overwrite: bool = False,
    options: PipelineOptions | None = None,
    lexicon_options: LexiconOptions = LexiconOptions(),
) -> dict:
    """Runs the pipeline to completion and returns the run summary (also written to the output)."""
    with beam.Pipeline(options=options or PipelineOptions([])) as pipeline:
        build_prepare(pipeline, inputs, output_dir, config, vocab_path, lexicon_paths, overwrite, lexicon_options)
    return json.loads(beam_io.read_text(FileSystems.join(output_dir, SUMMARY_NAME)))
