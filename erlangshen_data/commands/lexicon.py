"""`erlangshen-data lexicon stats`: what a set of lexicons holds, and how much of a corpus it covers.

Coverage is measured exactly as `prepare` finds KDM units (cleaning, sentences, segmentation
boundaries, WordPiece alignment), so it predicts the entity share the trainer will see.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice

from erlangshen_data.commands.arg_types import COUNT, NON_NEGATIVE
from knowledge.lexicon import MIN_ENTITY_CHARS, Lexicon, LexiconOptions, load_lexicons, read_stop_words
from knowledge.matcher import EntityMatcher
from knowledge.sources import parse_source
from pipeline.beam import files
from pipeline.annotate import BatchAnnotator
from pipeline.clean import clean_text, normalize_text
from pipeline.config import CleanConfig, PrepareConfig
from pipeline.documents import Document
from pipeline.readers import InputFormat, parse_stream
from pipeline.segment import create_segmenter
from pipeline.tokenize import BertChineseTokenizer
from pipeline.vocab import build_default_vocab, load_vocab

LEXICON_HELP = (
    "entity lexicon as [FORMAT:[TYPE:]]PATH, FORMAT one of tsv (surface<TAB>type[<TAB>weight]), "
    "thuocl (word<TAB>freq, type from the file name), jieba (word freq tag, type from the tag), "
    "words:TYPE (one word per line), dbpedia (mention<TAB>entity); without a prefix the format comes "
    "from the file name (THUOCL_*, *.tsv, dict.txt, mention2entity*)"
)


def add_lexicon_arguments(parser: argparse.ArgumentParser, positional: bool = False) -> None:
    if positional:
        parser.add_argument("lexicon", nargs="*", metavar="LEXICON",
                            help=LEXICON_HELP + "; none: the proper nouns of jieba's dictionary")
    else:
        parser.add_argument("--lexicon", action="append", default=[], metavar="SPEC",
                            help=LEXICON_HELP + "; repeatable; default: the proper nouns of jieba's dictionary")
    parser.add_argument("--lexicon-skip-malformed", action="store_true",
                        help="skip and count malformed lexicon lines instead of stopping at the first")
    parser.add_argument("--lexicon-min-chars", type=COUNT, default=MIN_ENTITY_CHARS, metavar="N",
                        help="drop entries shorter than N characters (default: %(default)s)")
    parser.add_argument("--lexicon-stop", metavar="FILE",
                        help="words never taken as entities, one per line (an empty file: none); "
                             "default: the 1,000 most frequent common words of jieba's dictionary")
    parser.add_argument("--lexicon-max-per-type", type=NON_NEGATIVE, default=0, metavar="N",
                        help="keep the N heaviest entries of each type; 0: no cap")


def lexicon_options(args: argparse.Namespace) -> LexiconOptions:
    return LexiconOptions(
        min_chars=args.lexicon_min_chars,
        stop_words=read_stop_words(args.lexicon_stop) if args.lexicon_stop else None,
        max_per_type=args.lexicon_max_per_type,
        skip_malformed=args.lexicon_skip_malformed,
    )


def lexicon_paths(specs: list[str]) -> list[str]:
    """The files behind `--lexicon` specs (for checks that workers can reach them)."""
    return [parse_source(spec).path for spec in specs]


def register(subparsers) -> None:
    parser = subparsers.add_parser("lexicon")
    commands = parser.add_subparsers(dest="lexicon_command", required=True)
    stats = commands.add_parser("stats", help="entries by type, and coverage on a corpus")
    add_lexicon_arguments(stats, positional=True)
    stats.add_argument("--input", action="append", default=[], metavar="GLOB",
                       help="corpus files to measure coverage on (as `prepare --input`); repeatable")
    stats.add_argument("--max-docs", type=NON_NEGATIVE, default=0, metavar="N",
                       help="stop after N kept documents; 0: read every input")
    stats.add_argument("--vocab", help="BERT vocab.txt; default: the offline BERT-Chinese-style vocab")
    stats.add_argument("--keep-traditional", action="store_true", help="do not convert to simplified")
    stats.add_argument("--json", action="store_true", help="print the report as JSON")
    stats.set_defaults(func=run_stats)


@dataclass
class Coverage:
    documents: int = 0
    sentences: int = 0
    chars: int = 0
    tokens: int = 0
    entity_tokens: int = 0
    entities: Counter = field(default_factory=Counter)

    def report(self, types: tuple[str, ...]) -> dict:
        per_1000 = {t: round(1000 * self.entities[t] / self.chars, 3) if self.chars else 0.0 for t in types}
        return {
            "documents": self.documents, "sentences": self.sentences, "chars": self.chars,
            "tokens": self.tokens, "entities": sum(self.entities.values()),
            "entities_per_1000_chars": round(1000 * sum(self.entities.values()) / max(self.chars, 1), 3),
            "entities_per_1000_chars_by_type": per_1000,
            "token_share_in_entities": round(self.entity_tokens / max(self.tokens, 1), 4),
        }


def measure_coverage(lexicon: Lexicon, inputs: list[str], args: argparse.Namespace) -> Coverage:
    config = PrepareConfig(clean=CleanConfig(to_simplified=not args.keep_traditional))
    vocab = load_vocab(args.vocab) if args.vocab else build_default_vocab()
    annotator = BatchAnnotator(create_segmenter(config.segmenter, config.hmm), EntityMatcher(lexicon),
                               BertChineseTokenizer(vocab, config.lowercase))
    coverage = Coverage()
    texts = _clean_documents(inputs, config, args.max_docs)
    while batch := list(islice(texts, config.batch_size)):
        annotated = annotator.annotate(batch)
        spans = annotated.entities
        coverage.documents += len(batch)
        coverage.sentences += len(annotated.sentence_bounds) - 1
        coverage.chars += sum(map(len, batch))
        coverage.tokens += len(annotated.ids)
        coverage.entity_tokens += int((spans[:, 1] - spans[:, 0]).sum())
        coverage.entities.update(lexicon.types[t] for t in spans[:, 2].tolist())
    return coverage


def _clean_documents(inputs: list[str], config: PrepareConfig, limit: int) -> Iterator[str]:
    """Kept documents' cleaned text, as `prepare` cleans it (without its cross-document dedup)."""
    kept = 0
    for path, _ in files.expand_inputs(inputs):
        with files.InputStream(path, config.max_input_bytes) as stream:
            for record in parse_stream(stream.chunks(), path, InputFormat.detect(path), config.text_field):
                if isinstance(record, Document):
                    text, reason = clean_text(record.title, record.text, config.clean)
                    if reason is None:
                        yield text
                        kept += 1
                        if kept == limit:
                            return


def run_stats(args: argparse.Namespace) -> int:
    lexicon = load_lexicons(args.lexicon, lambda t: normalize_text(t, not args.keep_traditional),
                            lexicon_options(args))
    report: dict = {"entries": len(lexicon), "entries_by_type": lexicon.entries_by_type(),
                    "load": dict(sorted(lexicon.counts.items()))}
    if args.input:
        report["coverage"] = measure_coverage(lexicon, args.input, args).report(lexicon.types)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(_table(report))
    return 0


def _table(report: dict) -> str:
    lines = [f"entries: {report['entries']:,}"]
    coverage = report.get("coverage")
    header = f"  {'type':<16}{'entries':>10}"
    if coverage:
        header += f"{'per 1k chars':>14}"
    lines.append(header)
    for name, count in sorted(report["entries_by_type"].items(), key=lambda item: -item[1]):
        line = f"  {name:<16}{count:>10,}"
        if coverage:
            line += f"{coverage['entities_per_1000_chars_by_type'][name]:>14.3f}"
        lines.append(line)
    lines.append("load: " + ", ".join(f"{k}={v:,}" for k, v in report["load"].items()))
    if coverage:
        lines.append(
            f"coverage on {coverage['documents']:,} documents ({coverage['chars']:,} chars, "
            f"{coverage['tokens']:,} tokens): {coverage['entities_per_1000_chars']:.3f} entities per "
            f"1,000 chars, {100 * coverage['token_share_in_entities']:.2f}% of tokens inside entities"
        )
    return "\n".join(lines)
