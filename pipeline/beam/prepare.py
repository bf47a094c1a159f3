"""Driver of `prepare`: checks the request, fixes the output plan, runs `PrepareCorpus` on a runner.

Everything that can be wrong with the request (inputs, vocab, lexicon, output directory) fails here,
as one clear error, before any worker starts.
"""
from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.io.filesystem import FileSystem
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from knowledge.lexicon import LexiconOptions, default_sources, load_lexicons
from knowledge.sources import parse_source
from pipeline.beam import files, run_lock
from pipeline.beam.corpus import PrepareCorpus
from pipeline.beam.layout import STAGING_DIR, SUMMARY_NAME, OutputPlan, delete_entry, earlier_run_files, join
from pipeline.clean import normalize_text
from pipeline.config import PrepareConfig
from pipeline.dedup import bucket_count
from pipeline.vocab import Vocab, build_default_vocab, parse_vocab
from schemas.errors import UserInputError
from schemas.manifest import MANIFEST_NAME, VOCAB_NAME, VocabInfo
from schemas.provenance import hash_stream, utc_timestamp


def prepare_output_dir(output_dir: str, overwrite: bool) -> str:
    """Makes `output_dir` ready for this run and locks it; returns the run id. Refuses to mix runs: an
    earlier run is kept unless the user says --overwrite, and even then it stays whole until this run
    publishes (`PublishRun` retires it); only an interrupted run's staging area goes now."""
    _make_directory(output_dir)
    holder = run_lock.read_holder(output_dir)
    if holder is not None and not holder.is_stale():
        raise run_lock.in_use(output_dir, holder)
    earlier = earlier_run_files(output_dir)
    previous = [name for name, found in earlier.items() if found] + ([run_lock.LOCK_NAME] if holder else [])
    if previous and not overwrite:
        state = "a finished run" if MANIFEST_NAME in previous else "an unfinished (interrupted) run"
        raise UserInputError(
            f"{output_dir} already holds {state} ({', '.join(previous)}); pass --overwrite to replace it"
        )
    run_id = run_lock.acquire(output_dir)
    delete_entry(output_dir, STAGING_DIR, earlier[STAGING_DIR])
    return run_id


def _make_directory(output_dir: str) -> None:
    if run_lock.is_local(output_dir) and os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise UserInputError(f"output {output_dir} is a file, not a directory")
    try:
        if not FileSystems.exists(output_dir):
            FileSystems.mkdirs(output_dir)
    except OSError as error:  # under a file, no permission...; Beam wraps os errors in a plain OSError
        raise UserInputError(f"cannot create output directory {output_dir}: {error}") from None


def check_output_outside_inputs(patterns: Sequence[str], found: Sequence[str], output_dir: str) -> None:
    """A rerun must not read its own outputs (vocab.txt, ledgers, shards) as documents: the output may
    not lie where an input pattern reads, even before its first run has written anything."""
    output = _absolute(output_dir)
    for path in found:
        if _absolute(path).startswith(output + "/"):
            raise UserInputError(f"input {path} lies in the output directory {output_dir}: choose an output "
                                 "outside the inputs")
    future = [_absolute(join(output_dir, name)) for name in
              (VOCAB_NAME, MANIFEST_NAME, OutputPlan.shard_name(0, 0), OutputPlan.ledger_name(0))]
    for pattern in patterns:
        absolute = _absolute(pattern).rstrip("/")  # a directory reads every file under it
        reads = re.compile(FileSystem.translate_pattern(absolute))
        for path in future:
            if path.startswith(absolute + "/") or reads.fullmatch(path):
                raise UserInputError(f"input {pattern} would read the output directory {output_dir} "
                                     f"({path}): choose an output outside the inputs")


def _absolute(path: str) -> str:
    return os.path.realpath(path) if run_lock.is_local(path) else path


def read_vocab(path: str) -> Vocab:
    """Through FileSystems, so a gs:// vocab reads like a local one."""
    try:
        text = files.read_text(path)
    except (OSError, UnicodeDecodeError) as error:  # Beam's BeamIOError is an OSError
        raise UserInputError(f"cannot read vocab {path}: {error}") from error
    vocab = parse_vocab(text, path)
    repeats = len(vocab.tokens) - len(vocab.token_to_id)
    if repeats:
        logging.warning("vocab %s: %d tokens repeat an earlier line; each takes its last line's id, as in "
                        "BERT's own loader", path, repeats)
    return vocab


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


def build_prepare(pipeline: beam.Pipeline, request: PrepareRequest) -> OutputPlan:
    """Checks the request, locks the output, stages the vocab and lexicon there and adds
    `PrepareCorpus` to `pipeline` without running it: what a runner's graph check translates, and what
    `run_prepare` runs. The caller releases the lock (`run_lock.release`) once the pipeline is done.
    The output is checked before the vocab and lexicon are built (seconds): a refusal comes at once."""
    started_at = utc_timestamp()
    config = request.config
    config.validate()
    found = files.expand_inputs(list(request.inputs))
    output_dir = request.output_dir
    check_output_outside_inputs(request.inputs, [path for path, _ in found], output_dir)
    run_id = prepare_output_dir(output_dir, request.overwrite)
    try:
        vocab: Vocab = read_vocab(request.vocab_path) if request.vocab_path else build_default_vocab()
        lexicon = load_lexicons(request.lexicon_paths, lambda t: normalize_text(t, config.clean.to_simplified),
                                request.lexicon_options, lexicon_file)
        if lexicon.counts.get("malformed_lines"):
            logging.warning("lexicon: skipped %d malformed lines", lexicon.counts["malformed_lines"])
        plan = OutputPlan(
            output_dir=output_dir,
            run_id=run_id,
            entity_types=lexicon.types,
            lexicon_provenance=lexicon_provenance(request.lexicon_paths),
            dedup_buckets=bucket_count(sum(size for _, size in found)),
        )
        # What the manifest hashes is what is written: `to_text` is the canonical form (LF, final newline).
        files.write_atomically(plan.vocab_file, vocab.to_text().encode("utf-8"))
        # The driver parses the lexicon sources once (~1 s for jieba's 111k proper nouns, far more for a
        # user lexicon of millions) and stages the result for the workers, in this run's staging area.
        files.write_atomically(plan.lexicon_file, lexicon.to_bytes())
        vocab_info = VocabInfo(file=VOCAB_NAME, sha256=vocab.sha256, size=len(vocab.tokens))
        _ = pipeline | "prepare_corpus" >> PrepareCorpus(
            [path for path, _ in found], config, plan, vocab_info, vocab.special_tokens, started_at)
    except BaseException:
        run_lock.release(output_dir, run_id)
        raise
    return plan


def run_prepare(request: PrepareRequest, options: PipelineOptions | None = None) -> dict:
    """Runs the pipeline to completion and returns the run summary (also written to the output)."""
    pipeline = beam.Pipeline(options=options or PipelineOptions([]))
    plan = build_prepare(pipeline, request)
    try:
        pipeline.run().wait_until_finish()
    finally:
        run_lock.release(plan.output_dir, plan.run_id)
    return json.loads(files.read_text(FileSystems.join(request.output_dir, SUMMARY_NAME)))
