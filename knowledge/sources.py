"""Lexicon sources: which file format a `--lexicon` spec names, and how each format's lines become
(surface, type, weight) entries.

A spec is `[FORMAT:[TYPE:]]PATH`. The formats, and the type each entry gets:
- `tsv:PATH`          `surface<TAB>type[<TAB>weight]`, type per line
- `thuocl:PATH`       THUOCL `word<TAB>freq`; type from the file name (THUOCL_diming -> place)
- `jieba:PATH`        jieba dictionary `word [freq] [tag]`; type from the POS tag, non-entity tags skipped
- `words:TYPE:PATH`   one surface per line
- `dbpedia:PATH`      CN-DBpedia-style `mention<TAB>entity[<TAB>entity...]`; the mention and the entity's
                      name without its （disambiguation） both become surfaces; type `entity`
`thuocl`, `jieba` and `dbpedia` take an optional TYPE that overrides theirs. Without a prefix the
format comes from the file name: `THUOCL_*` -> thuocl, `*.tsv` -> tsv, `dict.txt`/`*.dict` -> jieba,
`mention2entity*` -> dbpedia; any other name must say its format.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from schemas.errors import UserInputError

Entry = tuple[str, str, float]  # surface, type, weight


@dataclass(frozen=True)
class Malformed:
    line: int
    text: str
    reason: str


# jieba's POS tags for proper nouns: person names (incl. transliterated), places, organisations, other.
JIEBA_ENTITY_TAGS = {"nr": "person", "nrt": "person", "nrfg": "person", "ns": "place",
                     "nt": "organization", "nz": "proper_noun"}
# The eleven THUOCL domain lists, by file-name suffix; an unknown suffix becomes its own type.
THUOCL_TYPES = {"it": "it_term", "animal": "animal", "caijing": "finance_term", "car": "car",
                "chengyu": "idiom", "diming": "place", "food": "food", "law": "law_term",
                "lishimingren": "person", "medical": "medical_term", "poem": "poem"}
_DISAMBIGUATION = re.compile(r"\s*[（(][^（()）]*[)）]$")
_URL = re.compile(r"^[a-zA-Z][\w+.-]*://")  # thuocl:gs://... has a path, not a type, after the prefix


@dataclass(frozen=True)
class LexiconSource:
    format: str
    path: str
    entity_type: str | None = None  # overrides the type the format would give

    @property
    def name(self) -> str:
        return f"{self.format}:{self.path}"


def parse_source(spec: str) -> LexiconSource:
    head, _, rest = spec.partition(":")
    if head in _READERS and rest:
        if head in _TYPED_FORMATS:
            entity_type, sep, path = rest.partition(":")
            if head == "words" and not sep:
                raise UserInputError(f"lexicon {spec!r}: a word list needs a type: words:TYPE:PATH")
            # `thuocl:PATH` has no type, `thuocl:TYPE:PATH` has one: a path with a colon needs the TYPE.
            if sep and entity_type and not _URL.match(rest):
                return LexiconSource(head, path, entity_type)
        return LexiconSource(head, rest)
    name = Path(spec).name
    lowered = name.lower()
    if lowered.startswith("thuocl_"):
        return LexiconSource("thuocl", spec)
    if lowered.endswith(".tsv"):
        return LexiconSource("tsv", spec)
    if lowered == "dict.txt" or lowered.endswith(".dict"):
        return LexiconSource("jieba", spec)
    if lowered.startswith("mention2entity"):
        return LexiconSource("dbpedia", spec)
    raise UserInputError(
        f"lexicon {spec!r}: cannot tell its format from the name; prefix it with one of "
        "tsv:, thuocl:, jieba:, words:TYPE:, dbpedia:"
    )


def read_source(source: LexiconSource, chunk_lines: int = 8192) -> Iterator[list[Entry | Malformed]]:
    """Entries in file order, a chunk of lines at a time, with a `Malformed` for each line the format
    cannot read. Line parsers append to a list instead of yielding: at a million lines, a generator
    frame per line costs seconds."""
    parse = _READERS[source.format](source)
    number = 0
    try:
        # Universal newlines: THUOCL_diming ends its lines with a lone \r; utf-8-sig drops its BOM.
        with Path(source.path).open(encoding="utf-8-sig") as lines:
            numbered = enumerate(lines, start=1)
            while chunk := list(islice(numbered, chunk_lines)):
                items: list[Entry | Malformed] = []
                for number, line in chunk:
                    line = line.rstrip("\n")
                    if line.strip() and not line.startswith("#"):
                        parse(line, number, items)
                yield items
    except UnicodeDecodeError as error:
        raise UserInputError(f"{source.path}:{number + 1}: not UTF-8 ({error.reason})") from error
    except OSError as error:
        raise UserInputError(f"cannot read lexicon {source.path}: {error.strerror or error}") from error


LineParser = Callable[[str, int, list], None]


def _weight(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _tsv(source: LexiconSource) -> LineParser:
    def parse(line: str, number: int, out: list) -> None:
        fields = line.split("\t")
        if len(fields) not in (2, 3) or not fields[0].strip() or not fields[1].strip():
            out.append(Malformed(number, line, "expected 'surface<TAB>type[<TAB>weight]'"))
            return
        weight = _weight(fields[2]) if len(fields) == 3 else 1.0
        if weight is None:
            out.append(Malformed(number, line, f"weight {fields[2]!r} is not a number"))
        else:
            out.append((fields[0], fields[1].strip(), weight))
    return parse


def thuocl_type(path: str) -> str:
    stem = Path(path).stem
    suffix = stem.split("_", 1)[1] if "_" in stem else stem
    return THUOCL_TYPES.get(suffix.lower(), suffix.lower())


def _thuocl(source: LexiconSource) -> LineParser:
    entity_type = source.entity_type or thuocl_type(source.path)

    def parse(line: str, number: int, out: list) -> None:
        fields = line.split("\t")
        weight = _weight(fields[1]) if len(fields) == 2 else None
        if weight is None or not fields[0].strip():
            out.append(Malformed(number, line, "expected 'word<TAB>frequency'"))
        else:
            out.append((fields[0], entity_type, weight))
    return parse


def _jieba(source: LexiconSource) -> LineParser:
    def parse(line: str, number: int, out: list) -> None:
        fields = line.split()
        weight = _weight(fields[1]) if len(fields) >= 2 else 1.0
        if len(fields) > 3 or weight is None:
            out.append(Malformed(number, line, "expected 'word [frequency] [tag]'"))
            return
        entity_type = source.entity_type or JIEBA_ENTITY_TAGS.get(fields[2] if len(fields) == 3 else "")
        if entity_type:  # a common word (tag n, v, ...) is no entity
            out.append((fields[0], entity_type, weight))
    return parse


def _words(source: LexiconSource) -> LineParser:
    def parse(line: str, number: int, out: list) -> None:
        if "\t" in line:
            out.append(Malformed(number, line, "a word list has one surface per line, without tabs"))
        else:
            out.append((line, source.entity_type, 1.0))
    return parse


def _dbpedia(source: LexiconSource) -> LineParser:
    entity_type = source.entity_type or "entity"

    def parse(line: str, number: int, out: list) -> None:
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) < 2 or not all(fields):
            out.append(Malformed(number, line, "expected 'mention<TAB>entity[<TAB>entity...]'"))
            return
        out.append((fields[0], entity_type, 1.0))
        for entity in fields[1:]:
            name = _DISAMBIGUATION.sub("", entity)
            if name and name != fields[0]:
                out.append((name, entity_type, 1.0))
    return parse


_READERS: dict[str, Callable[[LexiconSource], LineParser]] = {
    "tsv": _tsv, "thuocl": _thuocl, "jieba": _jieba, "words": _words, "dbpedia": _dbpedia,
}
_TYPED_FORMATS = {"thuocl", "jieba", "words", "dbpedia"}
