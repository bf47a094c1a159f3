"""Entity lexicons: surface form -> entity type, merged from several sources with a shared type table.

The embedded default is derived at load time from the dictionary jieba ships, from its proper-noun
tags, so a fresh install has a real lexicon without a download.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from schemas.errors import UserInputError

Normalizer = Callable[[str], str]

# jieba's POS tags for proper nouns: person names (incl. transliterated), places, organisations, other.
JIEBA_ENTITY_TAGS = {"nr": "person", "nrt": "person", "nrfg": "person", "ns": "place",
                     "nt": "organization", "nz": "proper_noun"}
MIN_ENTITY_CHARS = 2


@dataclass(frozen=True)
class Lexicon:
    """`entries` maps a normalised surface to (type index, weight); `types` is the sorted type table."""

    types: tuple[str, ...]
    entries: dict[str, tuple[int, float]]

    def __len__(self) -> int:
        return len(self.entries)

    def words(self) -> list[str]:
        return sorted(self.entries)


def build_lexicon(
    triples: Iterable[tuple[str, str, float]],
    normalize: Normalizer | None = None,
    min_chars: int = MIN_ENTITY_CHARS,
) -> Lexicon:
    """From (surface, type, weight); a surface listed twice keeps its heaviest type (ties: type name)."""
    best: dict[str, tuple[float, str]] = {}
    for surface, entity_type, weight in triples:
        key = normalize(surface) if normalize else surface.strip()
        if len(key) < min_chars or any(c.isspace() for c in key):
            continue
        current = best.get(key)
        if current is None or (weight, entity_type) > current:
            best[key] = (weight, entity_type)
    types = tuple(sorted({entity_type for _, entity_type in best.values()}))
    index = {name: i for i, name in enumerate(types)}
    return Lexicon(types=types, entries={k: (index[t], w) for k, (w, t) in best.items()})


def jieba_entity_triples() -> Iterable[tuple[str, str, float]]:
    import jieba

    dictionary = Path(jieba.__file__).with_name("dict.txt")
    for line in dictionary.read_text(encoding="utf-8").splitlines():
        parts = line.split(" ")
        if len(parts) == 3 and parts[2] in JIEBA_ENTITY_TAGS:
            yield parts[0], JIEBA_ENTITY_TAGS[parts[2]], float(parts[1])


def tsv_triples(path: str | Path) -> Iterable[tuple[str, str, float]]:
    """`surface<TAB>type[<TAB>weight]`; a malformed line is an error that names file and line."""
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise UserInputError(f"cannot read lexicon {path}: {error}") from error
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) not in (2, 3) or not fields[0].strip() or not fields[1].strip():
            raise UserInputError(f"{path}:{number}: expected 'surface<TAB>type[<TAB>weight]', got {line!r}")
        try:
            weight = float(fields[2]) if len(fields) == 3 else 1.0
        except ValueError:
            raise UserInputError(f"{path}:{number}: weight {fields[2]!r} is not a number") from None
        yield fields[0], fields[1].strip(), weight


def load_lexicons(paths: Iterable[str | Path], normalize: Normalizer | None = None) -> Lexicon:
    """TSV lexicons merged; with no path, the default lexicon from jieba's dictionary."""
    paths = list(paths)
    if not paths:
        return build_lexicon(jieba_entity_triples(), normalize)
    return build_lexicon((t for p in paths for t in tsv_triples(p)), normalize)
