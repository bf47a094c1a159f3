"""Driver of `prepare`: checks the request, fixes the output plan, runs `PrepareCorpus` on a runner.

Everything that can be wrong with the request (inputs, vocab, lexicon, output directory) fails here,
as one clear error, before any worker starts.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from knowledge.lexicon import LexiconOptions, default_sources, load_lexicons
from knowledge.sources import parse_source
from pipeline.beam import files
from pipeline.beam.corpus import PrepareCorpus
from pipeline.beam.layout import LEDGER_DIR, STAGING_DIR, SUMMARY_NAME, OutputPlan
from pipeline.clean import normalize_text
from pipeline.config import PrepareConfig
from pipeline.report import REPORT_NAME
from pipeline.dedup import bucket_count
from pipeline.vocab import Vocab, build_default_vocab, parse_vocab
from schemas.errors import UserInputError
from schemas.manifest import MANIFEST_NAME, SHARDS_DIR, VOCAB_NAME, VocabInfo
from schemas.provenance import hash_stream, utc_timestamp

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


def read_vocab(path: str) -> Vocab:
    """Through FileSystems, so a gs:// vocab reads like a local one."""
    try:
        text = files.read_text(path)
    except (OSError, UnicodeDecodeError) as error:  # Beam's BeamIOError is an OSError
        raise UserInputError(f"cannot read vocab {path}: {error}") from error
    return parse_vocab(text, path)


def lexicon_file(path: str) -> str:
    """A local path for the lexicon loaders (cloud objects are copied once per machine)."""
    try:
        return files.local_copy(path)
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
    with open(path, "rb") as handle:
        return hash_stream(handle)[1]


@dataclass(frozen=True)
class PrepareRequest:
    """What a user asks `prepare` for: the inputs, the output and how to make it."""

    inputs: Sequence[str]
    output_dir: str
    config: PrepareConfig = field(default_factory=PrepareConfig)
    vocab_path: str | None = None
    lexicon_paths: Sequence[str] = ()
    lexicon_options: LexiconOptions = field(default_factory=LexiconOptions)
    overwrite: bool = False


def build_prepare(pipeline: beam.Pipeline, request: PrepareRequest) -> None:
    """Checks the request, stages the vocab and lexicon in the output and adds `PrepareCorpus` to
    `pipeline` without running it: what a runner's graph check translates, and what `run_prepare` runs."""
    started_at = utc_timestamp()
    config = request.config
    config.validate()
    found = files.expand_inputs(list(request.inputs))
    vocab: Vocab = read_vocab(request.vocab_path) if request.vocab_path else build_default_vocab()
    lexicon = load_lexicons(request.lexicon_paths, lambda t: normalize_text(t, config.clean.to_simplified),
                            request.lexicon_options, lexicon_file)
    if lexicon.counts.get("malformed_lines"):
        logging.warning("lexicon: skipped %d malformed lines", lexicon.counts["malformed_lines"])
    output_dir = request.output_dir
    prepare_output_dir(output_dir, request.overwrite)
    vocab_file = FileSystems.join(output_dir, VOCAB_NAME)
    files.write_atomically(vocab_file, vocab.to_text().encode("utf-8"))
    plan = OutputPlan(
        output_dir=output_dir,
        vocab_file=vocab_file,
        entity_types=lexicon.types,
        lexicon_provenance=lexicon_provenance(request.lexicon_paths),
        dedup_buckets=bucket_count(sum(size for _, size in found)),
    )
    # The driver parses the lexicon sources once (~1 s for jieba's 111k proper nouns, far more for a
    # user lexicon of millions) and stages the result for the workers, in this run's staging area.
    files.write_atomically(plan.lexicon_file, lexicon.to_bytes())
    vocab_info = VocabInfo(file=VOCAB_NAME, sha256=vocab.sha256, size=len(vocab.tokens))
    _ = pipeline | "prepare_corpus" >> PrepareCorpus(
        [path for path, _ in found], config, plan, vocab_info, vocab.special_tokens, started_at)


def run_prepare(request: PrepareRequest, options: PipelineOptions | None = None) -> dict:
    """Runs the pipeline to completion and returns the run summary (also written to the output)."""
    with beam.Pipeline(options=options or PipelineOptions([])) as pipeline:
        build_prepare(pipeline, request)
    return json.loads(files.read_text(FileSystems.join(request.output_dir, SUMMARY_NAME)))
