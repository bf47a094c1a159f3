"""Entity lexicons: normalised surface -> entity type, merged from several sources with one type table.

With no source given, the lexicon is the proper nouns of the dictionary jieba ships, so a fresh
install has a real lexicon without a download.
"""
from __future__ import annotations

import json
import sys
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping, Sequence, ValuesView
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib.util import find_spec
from itertools import accumulate, chain, islice
from operator import sub
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


class SurfaceTable(Mapping[str, int]):
    """A read-only `{surface: type index}` in sorted order, held as one string and two arrays.

    A dict of surfaces costs a str, an int and a hash slot of Python objects each; this costs ~2 bytes a
    character plus 6 bytes an entry, a tenth or less (bench/README.md, "Entity matcher"), so the lexicon
    does not compete with the automaton for a worker's memory while the matcher is built. Lookups bisect.
    """

    def __init__(self, surfaces: Sequence[str], types: Iterable[int]) -> None:
        """`surfaces` sorted, distinct and without newlines; `types` in the same order."""
        self._text = "\n".join(surfaces)
        self._starts = array("I", accumulate(map((1).__add__, map(len, surfaces)), initial=0))
        self._types = array("H", types)
        if len(self._types) != len(surfaces):
            raise ValueError("one type per surface")

    def to_bytes(self) -> bytes:
        """Plain data: the surfaces' text, then the types as little-endian uint16 (see `from_bytes`)."""
        text = self._text.encode("utf-8")
        types = array("H", self._types)
        if sys.byteorder != "little":
            types.byteswap()
        return len(text).to_bytes(8, "little") + text + types.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> SurfaceTable:
        size = int.from_bytes(data[:8], "little")
        text = data[8: 8 + size].decode("utf-8")
        types = array("H")
        types.frombytes(data[8 + size:])
        if sys.byteorder != "little":
            types.byteswap()
        return cls(text.split("\n") if text or len(types) else [], types)

    @classmethod
    def of(cls, entries: Mapping[str, int]) -> SurfaceTable:
        if isinstance(entries, SurfaceTable):
            return entries
        surfaces = sorted(entries)
        return cls(surfaces, (entries[s] for s in surfaces))

    def surface(self, i: int) -> str:
        return self._text[self._starts[i] : self._starts[i + 1] - 1]

    def type_index(self, i: int) -> int:
        return self._types[i]

    def max_chars(self) -> int:
        return max(map(sub, islice(self._starts, 1, None), self._starts), default=1) - 1

    def min_chars(self) -> int:
        return min(map(sub, islice(self._starts, 1, None), self._starts), default=1) - 1

    def _find(self, surface: str) -> int:
        i = bisect_left(range(len(self._types)), surface, key=self.surface)
        if i < len(self._types) and self.surface(i) == surface:
            return i
        return -1

    def __getitem__(self, surface: str) -> int:
        i = self._find(surface) if isinstance(surface, str) else -1
        if i < 0:
            raise KeyError(surface)
        return self._types[i]

    def __contains__(self, surface: object) -> bool:
        return isinstance(surface, str) and self._find(surface) >= 0

    def __len__(self) -> int:
        return len(self._types)

    def __iter__(self) -> Iterator[str]:
        text, starts = self._text, self._starts
        return (text[starts[i] : starts[i + 1] - 1] for i in range(len(self._types)))

    def values(self) -> ValuesView[int]:
        return _TypesView(self)

    def items(self) -> ItemsView[str, int]:
        return _ItemsView(self)


class _TypesView(ValuesView):
    def __iter__(self) -> Iterator[int]:
        return iter(self._mapping._types)


class _ItemsView(ItemsView):
    def __iter__(self) -> Iterator[tuple[str, int]]:
        return zip(self._mapping, self._mapping._types)


@dataclass(frozen=True)
class Lexicon:
    """`entries` maps a normalised surface to its index in the sorted type table `types`: a
    `SurfaceTable` when loaded, any mapping when built by hand.

    Weights only decide between duplicates and the per-type cap, so they are not kept.
    """

    types: tuple[str, ...]
    entries: Mapping[str, int]
    counts: dict[str, int] = field(default_factory=dict, compare=False)  # what loading read and dropped

    def __len__(self) -> int:
        return len(self.entries)

    def entries_by_type(self) -> dict[str, int]:
        counts = Counter(self.entries.values())
        return {name: counts[i] for i, name in enumerate(self.types)}

    def to_bytes(self) -> bytes:
        """The lexicon as plain data, for a driver to hand to its workers: reading it back runs no
        code, unlike a pickle that someone could swap in the output's staging area."""
        header = json.dumps({"types": list(self.types), "counts": self.counts}).encode("utf-8")
        return len(header).to_bytes(8, "little") + header + SurfaceTable.of(self.entries).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Lexicon:
        size = int.from_bytes(data[:8], "little")
        header = json.loads(data[8: 8 + size])
        return cls(tuple(header["types"]), SurfaceTable.from_bytes(data[8 + size:]), dict(header["counts"]))


@lru_cache(maxsize=1)
def jieba_dictionary() -> Path:
    """Found without importing jieba, whose models a process that only builds a matcher does not need."""
    spec = find_spec("jieba")
    if spec is None or spec.origin is None:
        raise UserInputError("jieba is not installed: its dictionary is the default lexicon")
    return Path(spec.origin).with_name("dict.txt")


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
    """`[normalize(s) for s in surfaces]`, several times faster on lexicon entries (bench/README.md,
    "Entity matcher"): lines are normalised as one text, which is exact for a normaliser that works
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
    # surface -> slot in the parallel arrays: a small value object per surface instead of a
    # (weight, type) tuple and a float, a third of what the dict would hold otherwise.
    slots: dict[str, int] = {}
    weights = array("d")
    type_ids = array("H")
    type_names: list[str] = []
    type_id: dict[str, int] = {}
    dropped: Counter = Counter()
    min_chars = max(1, options.min_chars)
    setdefault, add_weight, add_type = slots.setdefault, weights.append, type_ids.append
    iterator = iter(entries)
    while batch := list(islice(iterator, _BATCH)):
        counts["entries_read"] += len(batch)
        surfaces = [s for s, _, _ in batch]
        keys = normalize_many(surfaces, normalize) if normalize else [s.strip() for s in surfaces]
        del surfaces
        for key, (_, entity_type, weight) in zip(keys, batch):
            if len(key) < min_chars or "\n" in key or key in stop:
                dropped["too_short" if len(key) < min_chars else "stop_word" if key in stop else "multiline"] += 1
                continue
            tid = type_id.get(entity_type)
            if tid is None:
                tid = type_id[entity_type] = len(type_names)
                type_names.append(entity_type)
            new_slot = len(slots)
            slot = setdefault(key, new_slot)
            if slot == new_slot:
                add_weight(weight)
                add_type(tid)
                continue
            dropped["duplicate"] += 1
            current = weights[slot]
            if weight > current or (weight == current and entity_type < type_names[type_ids[slot]]):
                weights[slot] = weight
                type_ids[slot] = tid
    counts.update({f"dropped.{reason}": n for reason, n in dropped.items()})
    if options.max_per_type:
        _cap_per_type(slots, weights, type_ids, options.max_per_type, counts)
    used = sorted({type_names[type_ids[slot]] for slot in slots.values()})
    index = array("H", (used.index(name) if name in used else 0 for name in type_names))
    surfaces = sorted(slots)
    table = SurfaceTable(surfaces, map(index.__getitem__, map(type_ids.__getitem__, map(slots.__getitem__, surfaces))))
    del surfaces, slots  # before the matcher is built: these are what held the memory
    counts["entries"] = len(table)
    return Lexicon(tuple(used), table, counts)


def _cap_per_type(slots: dict[str, int], weights: array, type_ids: array, cap: int, counts: Counter) -> None:
    """Keeps the `cap` heaviest surfaces of each type (ties: the smaller surface), in place."""
    by_type: dict[int, list[tuple[float, str]]] = {}
    for key, slot in slots.items():
        by_type.setdefault(type_ids[slot], []).append((-weights[slot], key))
    for items in by_type.values():
        items.sort()
        counts["dropped.over_type_cap"] += max(0, len(items) - cap)
        for _, key in items[cap:]:
            del slots[key]


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
