"""Reading a reject ledger back: its lines counted by reason, each one checked for the shape `prepare`
writes (pipeline/beam/stages.py `RejectLedger`): one JSON object a line with string fields `doc_id`,
`source`, `reason`, `detail` and, with `--ledger-text`, `text`.

The ledger is the half of "nothing lost" that the shards cannot show: every document read and not kept
has its line, so `validate` holds the lines by reason against the manifest's rejected counts. A file is
streamed (with `--ledger-text` a ledger holds whole documents: gigabytes). Arrow's JSON reader counts a
well-formed file ~5 times faster than `json.loads` a line (figures in the issue 24 note); any
file it does not take whole (a malformed line, a line longer than its block) is read again by the plain
twin, `count_lines`, which says which line is wrong. `tests/reliability/test_hostile_validate.py` pins
the two to the same counts.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

_REQUIRED = ("doc_id", "source", "reason", "detail")
_ALLOWED = frozenset((*_REQUIRED, "text"))


@dataclass
class LedgerCount:
    """Well-formed lines by reason; malformed lines counted, the first one described."""

    reasons: Counter = field(default_factory=Counter)
    malformed: int = 0
    first_malformed: str | None = None  # "line 77: not a JSON object"


def _reason_of(line: bytes) -> str:
    """The line's reason; ValueError saying what is wrong with it otherwise."""
    if not line.endswith(b"\n"):
        raise ValueError("no newline at its end (cut off?)")
    try:
        record = json.loads(line)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except ValueError:
        raise ValueError("not JSON") from None
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    if not _ALLOWED.issuperset(record) or not all(isinstance(record.get(key), str) for key in _REQUIRED):
        raise ValueError(f"not a ledger line: fields {sorted(record)[:6]}")
    if "text" in record and not isinstance(record["text"], str) or not record["reason"]:
        raise ValueError("not a ledger line: empty reason or text not a string")
    return record["reason"]


def count_lines(path: Path) -> LedgerCount:
    """The plain twin: every line through `json.loads`."""
    count = LedgerCount()
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                count.reasons[_reason_of(line)] += 1
            except ValueError as problem:
                count.malformed += 1
                if count.first_malformed is None:
                    count.first_malformed = f"line {number}: {problem}"
    return count


_BLOCK = 1 << 24  # Arrow reads this much at a time; a longer line sends the file to `count_lines`
_SCHEMA = pa.schema([(name, pa.string()) for name in sorted(_ALLOWED)])


class _CountingReader:
    """The file as Arrow reads it, counting newlines on the way: Arrow skips blank lines, which a
    well-formed ledger does not have, so lines read must equal newlines seen."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.newlines = 0
        self.last = b"\n"
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size)
        if chunk:
            self.newlines += chunk.count(b"\n")
            self.last = chunk[-1:]
        return chunk


def _count_fast(path: Path) -> LedgerCount | None:
    """Counts by reason when Arrow reads the whole file as well-formed lines, None otherwise."""
    reasons: Counter = Counter()
    rows = 0
    with path.open("rb") as handle:
        source = _CountingReader(handle)
        try:
            reader = pj.open_json(
                source,
                read_options=pj.ReadOptions(use_threads=False, block_size=_BLOCK),
                parse_options=pj.ParseOptions(explicit_schema=_SCHEMA, unexpected_field_behavior="error"),
            )
            for batch in reader:
                batch.validate(full=True)  # UTF-8 of every string
                required = [batch.column(name) for name in _REQUIRED]
                if any(column.null_count for column in required):
                    return None
                reason = batch.column("reason")
                if pc.any(pc.equal(pc.utf8_length(reason), 0)).as_py():
                    return None
                for entry in pc.value_counts(reason).to_pylist():
                    reasons[entry["values"]] += entry["counts"]
                rows += batch.num_rows
        except pa.ArrowInvalid:
            return None
    if rows != source.newlines or source.last != b"\n":
        return None
    return LedgerCount(reasons)


def count_ledger(path: Path) -> LedgerCount:
    return _count_fast(path) or count_lines(path)
