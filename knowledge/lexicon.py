"""Entity lexicons: normalised surface -> entity type, merged from several sources with one type table.

With no source given, the lexicon is the proper nouns of the dictionary jieba ships, so a fresh
install has a real lexicon without a download.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import chain, islice
from pathlib import Path

from knowledge.sources import JIEBA_ENTITY_TAGS, Entry, LexiconSource, Malformed, parse_source, read_source
from schemas.errors import UserInputError

Normalizer = Callable[[str], str]
MIN_ENTITY_CHARS = 2
DEFAULT_STOP_WORDS = 1000
_BATCH = 8192


@dataclass(frozen=True)
class LexiconOptions:
    min_chars: int = MIN_ENTITY_CHARS
    # None: the most common words of jieba's dictionary (see `default_stop_words`).
    stop_words: frozenset[str] | None = None
    max_per_type: int = 0  # 0: no cap; otherwise the heaviest entries of each type are kept
    skip_malformed: bool = False  # count and skip a malformed line instead of stopping at it


@dataclass(frozen=True)
class Lexicon:
    """`entries` maps a normalised surface to its index in the sorted type table `types`.

    Weights only decide between duplicates and the per-type cap, so they are not kept: at a million
    entries, a small-int value per surface is what keeps the worker's memory in budget.
    """

    types: tuple[str, ...]
    entries: dict[str, int]
    counts: dict[str, int] = field(default_factory=dict, compare=False)  # what loading read and dropped

    def __len__(self) -> int:
        return len(self.entries)

    def entries_by_type(self) -> dict[str, int]:
        counts = Counter(self.entries.values())
        return {name: counts[i] for i, name in enumerate(self.types)}


@lru_cache(maxsize=1)
def jieba_dictionary() -> Path:
    import jieba

    return Path(jieba.__file__).with_name("dict.txt")


@lru_cache(maxsize=1)
def default_stop_words() -> frozenset[str]:
    """The 1,000 most frequent words of two or more characters in jieba's dictionary that are not
    proper nouns (一个, 发展, 公司, 医院 ...): domain lists such as THUOCL_caijing open with exactly
    these, and masking them as entities would only duplicate whole-word masking."""
    rows = []
    for line in jieba_dictionary().read_text(encoding="utf-8").splitlines():
        word, freq, tag = line.split(" ")
        if tag not in JIEBA_ENTITY_TAGS and len(word) >= 2:
            rows.append((-int(freq), word))
    return frozenset(word for _, word in sorted(rows)[:DEFAULT_STOP_WORDS])


def normalize_many(surfaces: Sequence[str], normalize: Normalizer) -> list[str]:
    """`[normalize(s) for s in surfaces]`, about 4x faster on lexicon entries (a million of them take
    6 s one by one): lines are normalised as one text, which is exact for a normaliser that works
    line by line. Markup (`<`, `&`) can span lines, so such entries, and any batch whose line count
    changes, are done one by one."""
    plain = [i for i, s in enumerate(surfaces) if s.strip() and "<" not in s and "&" not in s and "\n" not in s]
    out = list(surfaces)
    if plain:
        joined = normalize("\n".join(surfaces[i] for i in plain)).split("\n")
        if len(joined) == len(plain):
            for i, text in zip(plain, joined):
                out[i] = text
        else:
            plain = []
    done = set(plain)
    for i, surface in enumerate(surfaces):
        if i not in done:
            out[i] = normalize(surface)
    return out


def build_lexicon(
    entries: Iterable[Entry],
    normalize: Normalizer | None = None,
    options: LexiconOptions = LexiconOptions(),
    counts: Counter | None = None,
) -> Lexicon:
    """A surface listed twice keeps its heaviest type (ties: the smaller type name). Surfaces and stop
    words are normalised alike, so a traditional or full-width entry matches cleaned text."""
    counts = Counter() if counts is None else counts
    stop = default_stop_words() if options.stop_words is None else options.stop_words
    if normalize:
        stop = frozenset(normalize_many(sorted(stop), normalize))
    best: dict[str, tuple[float, str]] = {}
    setdefault = best.setdefault
    dropped: Counter = Counter()
    min_chars = max(1, options.min_chars)
    iterator = iter(entries)
    while batch := list(islice(iterator, _BATCH)):
        counts["entries_read"] += len(batch)
        surfaces = [s for s, _, _ in batch]
        keys = normalize_many(surfaces, normalize) if normalize else [s.strip() for s in surfaces]
        for key, (_, entity_type, weight) in zip(keys, batch):
            if len(key) < min_chars or "\n" in key or key in stop:
                dropped["too_short" if len(key) < min_chars else "stop_word" if key in stop else "multiline"] += 1
                continue
            value = (weight, entity_type)
            current = setdefault(key, value)
            if current is not value:
                dropped["duplicate"] += 1
                if weight > current[0] or (weight == current[0] and entity_type < current[1]):
                    best[key] = value
    counts.update({f"dropped.{reason}": n for reason, n in dropped.items()})
    if options.max_per_type:
        best = _cap_per_type(best, options.max_per_type, counts)
    types = tuple(sorted({entity_type for _, entity_type in best.values()}))
    index = {name: i for i, name in enumerate(types)}
    entries: dict = best  # rewritten in place: a second million-entry dict would raise the peak
    for key, (_, entity_type) in best.items():
        entries[key] = index[entity_type]
    counts["entries"] = len(entries)
    return Lexicon(types, entries, counts)


def _cap_per_type(best: dict[str, tuple[float, str]], cap: int, counts: Counter) -> dict[str, tuple[float, str]]:
    by_type: dict[str, list[tuple[float, str]]] = {}
    for key, (weight, entity_type) in best.items():
        by_type.setdefault(entity_type, []).append((-weight, key))
    kept: dict[str, tuple[float, str]] = {}
    for entity_type, items in by_type.items():
        items.sort()
        counts["dropped.over_type_cap"] += max(0, len(items) - cap)
        for negative_weight, key in items[:cap]:
            kept[key] = (-negative_weight, entity_type)
    return kept


def read_entries(sources: Iterable[LexiconSource], skip_malformed: bool, counts: Counter) -> Iterator[Entry]:
    """Every source's entries in turn; a malformed line stops the load with its file and line, or is
    counted and skipped."""
    return chain.from_iterable(_checked_chunks(sources, skip_malformed, counts))


def _checked_chunks(sources: Iterable[LexiconSource], skip_malformed: bool, counts: Counter) -> Iterator[list[Entry]]:
    for source in sources:
        for items in read_source(source):
            malformed = [item for item in items if isinstance(item, Malformed)]
            if malformed and not skip_malformed:
                item = malformed[0]
                raise UserInputError(
                    f"{source.path}:{item.line}: {item.reason}, got {item.text!r} "
                    "(--lexicon-skip-malformed skips such lines)"
                )
            if malformed:
                counts["malformed_lines"] += len(malformed)
                counts[f"malformed_lines.{source.name}"] += len(malformed)
                items = [item for item in items if not isinstance(item, Malformed)]
            yield items  # type: ignore[misc]  # Malformed items are gone


def default_sources() -> list[LexiconSource]:
    return [LexiconSource("jieba", str(jieba_dictionary()))]


def load_lexicons(
    specs: Iterable[str | Path],
    normalize: Normalizer | None = None,
    options: LexiconOptions = LexiconOptions(),
    localize: Callable[[str], str] | None = None,
) -> Lexicon:
    """Lexicons named by `--lexicon` specs (see `knowledge.sources`), merged; none: jieba's proper nouns.
    `localize` turns a path into one `open` can read (the caller's way to fetch gs:// objects)."""
    sources = [parse_source(str(spec)) for spec in specs] or default_sources()
    if localize:
        sources = [replace(source, path=localize(source.path)) for source in sources]
    counts: Counter = Counter()
    return build_lexicon(read_entries(sources, options.skip_malformed, counts), normalize, options, counts)


def read_stop_words(path: str | Path) -> frozenset[str]:
    """One word per line; an empty file turns the stop list off."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise UserInputError(f"cannot read stop list {path}: {error}") from error
    return frozenset(line.strip() for line in text.splitlines() if line.strip())
