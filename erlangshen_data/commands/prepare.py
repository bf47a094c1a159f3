"""`erlangshen-data prepare`: raw corpus in, SOP token shards + manifest + reject ledger out."""
from __future__ import annotations

import argparse
import json
import time
from importlib import resources

from erlangshen_data.commands.arg_types import COUNT, SEED, SHARE, integer, number
from erlangshen_data.commands.lexicon import add_lexicon_arguments, lexicon_options, lexicon_paths
from erlangshen_data.commands.runner_args import add_runner_arguments, check_worker_paths, runner_options
from erlangshen_data.commands.validate import validate_and_report
from pipeline.beam import files
from pipeline.clean_rules import parse_boilerplate_rules
from pipeline.config import CleanConfig, DedupConfig, PrepareConfig, SopConfig
from pipeline.beam.prepare import PrepareRequest, run_prepare
from pipeline.segment import BACKENDS, read_user_dict
from runners.local import default_workers
from schemas.errors import UserInputError


def sample_corpus_glob() -> str:
    return str(resources.files("pipeline") / "sample_corpus" / "*.json")


def register(subparsers) -> None:
    parser = subparsers.add_parser("prepare")
    parser.add_argument("--input", action="append", default=None, metavar="PATH",
                        help="a file, a directory (every file under it, hidden ones skipped) or a glob; WuDao JSON, "
                             "JSONL or text; .gz, .bz2, .xz, .zst, .deflate; local, gs:// or s3://; repeatable; "
                             "default: the embedded sample corpus")
    parser.add_argument("--output", required=True, metavar="DIR",
                        help="the output directory (manifest.json, shards/, rejects/, summary.json, vocab.txt); "
                             "it must not lie where an --input glob reads")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier run in DIR; it stays whole until this run publishes")
    parser.add_argument("--validate", action="store_true",
                        help="validate the output with Great Expectations at the end (exit 1 if it fails)")
    parser.add_argument("--vocab", metavar="FILE",
                        help="BERT vocab.txt; default: a BERT-Chinese-style vocab built offline")
    add_lexicon_arguments(parser)
    parser.add_argument("--format", choices=["auto", "wudao", "jsonl", "text"], default="auto",
                        help="input format; auto: from each file's name (.json: WuDao, .jsonl/.ndjson: JSON Lines, "
                             "others: text with blank lines between documents)")
    parser.add_argument("--text-field", default="text", metavar="NAME", help="text field of JSON Lines records")
    parser.add_argument("--max-seq-len", type=integer(8, 65535), default=SopConfig.max_seq_len, metavar="TOKENS",
                        help="tokens per row, [CLS] and [SEP]s included")
    parser.add_argument("--short-seq-prob", type=SHARE, default=SopConfig.short_seq_prob, metavar="P",
                        help="share of SOP examples cut to a random shorter length, as in BERT and Megatron-LM")
    parser.add_argument("--seed", type=SEED, default=PrepareConfig.seed,
                        help="seed of the SOP pairing, swaps and short lengths (with each document's id)")
    parser.add_argument("--min-chars", type=COUNT, default=CleanConfig.min_chars, metavar="N",
                        help="reject documents shorter than N characters after cleaning")
    parser.add_argument("--min-cjk-ratio", type=SHARE, default=CleanConfig.min_cjk_ratio, metavar="R",
                        help="reject documents whose share of CJK ideographs among non-space characters is below R")
    parser.add_argument("--keep-traditional", action="store_true", help="do not convert to simplified")
    pii = parser.add_mutually_exclusive_group()  # one policy for URLs, e-mail addresses and phone numbers
    pii.add_argument("--pii", choices=["replace", "drop"], default="replace",
                     help="URLs, e-mail addresses and phone numbers: replace each by <url>, <email> or <phone>, "
                          "or drop it (the rest of its line stays); not with --keep-pii")
    pii.add_argument("--keep-pii", action="store_true",
                     help="leave URLs, e-mail addresses and phone numbers as they are; not with --pii")
    parser.add_argument("--ledger-text", action="store_true",
                        help="keep each rejected document's text in the reject ledger, for audits")
    parser.add_argument("--max-input-mb", type=int, default=PrepareConfig.max_input_bytes // 2**20, metavar="MB",
                        help="decompressed MB read from one input file; the rest of a larger file (a "
                             "compression bomb) goes to the reject ledger as input_too_large (default: %(default)s)")
    parser.add_argument("--boilerplate-rules", metavar="FILE",
                        help="extra boilerplate-line regexes, one per line, on top of the built-in ones")
    parser.add_argument("--no-near-dedup", action="store_true", help="exact deduplication only")
    parser.add_argument("--dedup-threshold", type=number(0.0, 1.0, above_minimum=True),
                        default=DedupConfig.threshold, metavar="J",
                        help="estimated Jaccard (5-character shingles) from which documents are near-duplicates")
    parser.add_argument("--report", action=argparse.BooleanOptionalAction, default=True,
                        help="write report.html next to the manifest")
    parser.add_argument("--segmenter", choices=BACKENDS, default=PrepareConfig.segmenter,
                        help="word units for WWM: jieba (exact jieba output, fast), jieba-reference (plain "
                             "jieba), pkuseg (more accurate, slower)")
    parser.add_argument("--no-hmm", action="store_true", help="jieba without HMM for unknown words")
    parser.add_argument("--user-dict", metavar="FILE",
                        help="your own terms, jieba user-dict format (word [freq] [tag] per line)")
    parser.add_argument("--shard-rows", type=COUNT, default=PrepareConfig.shard_rows, metavar="N",
                        help="rows per shard before an input file's next part starts; "
                             "each input file has its own shards")
    parser.add_argument("--no-pack", action="store_true",
                        help="one SOP example per row instead of packing examples into rows of at most "
                             "--max-seq-len tokens")
    add_runner_arguments(parser)
    parser.set_defaults(func=run)


def _boilerplate_rules(path: str | None) -> tuple[str, ...]:
    """The rules file is read here, once: its patterns travel in the config to every worker and into
    the manifest."""
    if not path:
        return ()
    try:
        text = files.read_text(path)
    except (OSError, UnicodeDecodeError) as error:
        raise UserInputError(f"cannot read --boilerplate-rules {path}: {error}") from None
    return parse_boilerplate_rules(text, path)


def config_from_args(args: argparse.Namespace) -> PrepareConfig:
    return PrepareConfig(
        clean=CleanConfig(min_chars=args.min_chars, min_cjk_ratio=args.min_cjk_ratio,
                          to_simplified=not args.keep_traditional, pii="keep" if args.keep_pii else args.pii,
                          boilerplate_rules=_boilerplate_rules(args.boilerplate_rules)),
        dedup=DedupConfig(near=not args.no_near_dedup, threshold=args.dedup_threshold),
        report=args.report,
        sop=SopConfig(max_seq_len=args.max_seq_len, short_seq_prob=args.short_seq_prob),
        seed=args.seed,
        segmenter=args.segmenter,
        hmm=not args.no_hmm,
        user_dict=args.user_dict,
        input_format=args.format,
        text_field=args.text_field,
        shard_rows=args.shard_rows,
        pack=not args.no_pack,
        ledger_text=args.ledger_text,
        max_input_bytes=args.max_input_mb * 2**20,
    )


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    inputs = args.input or [sample_corpus_glob()]
    check_worker_paths(args, [("input", inputs), ("output", [args.output]), ("lexicon", lexicon_paths(args.lexicon)),
                              ("user-dict", [args.user_dict] if args.user_dict else [])])
    if args.user_dict:
        read_user_dict(files.local_copy(args.user_dict))  # a bad line stops the run here, not on a worker
    input_bytes = None
    if args.runner == "local" and args.workers is None:  # the default worker count depends on the size
        input_bytes = sum(size for _, size in files.expand_inputs(inputs))
    options = runner_options(args, input_bytes)
    request = PrepareRequest(
        inputs=inputs,
        output_dir=args.output,
        config=config_from_args(args),
        vocab_path=args.vocab,
        lexicon_paths=args.lexicon or (),
        lexicon_options=lexicon_options(args),
        overwrite=args.overwrite,
    )
    summary = run_prepare(request, options)
    # The run's totals; summary.json beside the manifest (and report.html) break them down per source.
    totals = {key: summary[key] for key in ("documents", "rows", "tokens", "shards", "stats") if key in summary}
    print(json.dumps(totals, ensure_ascii=False, indent=2))
    print(f"wall time: {time.perf_counter() - started:.1f} s")
    if input_bytes is not None:
        print(f"local runner: {default_workers(input_bytes)} worker(s), the default for {input_bytes / 1e6:.1f} MB "
              "of input (--workers N to choose)")
    print(f"output: {args.output}")
    return validate_and_report(args.output) if args.validate else 0
