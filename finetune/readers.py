"""CLUE task files (one JSON object a line) as examples, every unusable line named by its reason.

What a bad line costs depends on the split:
- train and dev: the line is counted under its reason and skipped, as `prepare` counts a rejected
  document; `strict=True` turns the first one into a one-line error naming `file:line`.
- test (the file predictions are written for): CLUE scores a submission line by line against its
  test file, so a line that cannot be read would shift every prediction after it. It is always a
  one-line error. Its label is optional (CLUE's test files have none): lines without a known label
  are predicted and not scored.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finetune.tasks import PAIR, SPAN1_MARKS, SPAN2_MARKS, WSC, TaskSpec
from schemas.errors import UserInputError

TRAIN, DEV, TEST = "train", "dev", "test"
KEYWORD_SEPARATOR = "，"


@dataclass(frozen=True)
class TaskExample:
    line: int  # 1-based line number in its file
    uid: Any  # the id a submission line echoes (the task's id field, else the line's index from 0)
    text_a: str
    text_b: str | None
    label: int | None  # index into the task's labels; None: none given, or not one of them (test only)


@dataclass
class TaskFile:
    path: Path
    split: str
    examples: list[TaskExample] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)  # reason -> lines

    @property
    def labelled(self) -> int:
        return sum(example.label is not None for example in self.examples)


class BadLine(ValueError):
    """Why one line cannot be used; the reader counts it or reports it with its place."""


def read_task_file(path: str | Path, spec: TaskSpec, split: str, strict: bool = False) -> TaskFile:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserInputError(f"{spec.name} {split} file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserInputError(f"cannot read {spec.name} {split} file {path}: {error}") from error
    result = TaskFile(path, split)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            result.examples.append(parse_line(line, number, len(result.examples), spec, label_required=split != TEST))
        except BadLine as bad:
            if strict or split == TEST:
                why = " (a submission must keep every test line)" if split == TEST else ""
                raise UserInputError(f"{path}:{number}: {bad}{why}") from None
            result.skipped[str(bad)] += 1
    if not result.examples:
        found = "; ".join(f"{reason}: {count}" for reason, count in result.skipped.most_common()) or "no lines"
        raise UserInputError(f"{spec.name} {split} file {path} holds no usable example ({found})")
    return result


def parse_line(line: str, number: int, index: int, spec: TaskSpec, label_required: bool = True) -> TaskExample:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        raise BadLine("broken JSON") from None
    if not isinstance(record, dict):
        raise BadLine("not a JSON object")
    texts = [_text(record, name) for name in spec.text_fields]
    if spec.kind == WSC:
        texts = [mark_spans(texts[0], record.get("target"))]
    label = _label(record, spec, label_required)
    uid = next((record[name] for name in spec.id_fields if name in record), index)
    return TaskExample(number, uid, texts[0], texts[1] if spec.kind == PAIR else None, label)


def _text(record: dict, name: str) -> str:
    if name not in record:
        raise BadLine(f"missing field {name}")
    value = record[name]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        value = KEYWORD_SEPARATOR.join(value)
    if not isinstance(value, str):
        raise BadLine(f"field {name} is not text")
    if not value.strip():
        raise BadLine(f"field {name} is empty")
    return value


def _label(record: dict, spec: TaskSpec, required: bool) -> int | None:
    value = record.get("label")
    if value is None:
        if required:
            raise BadLine("missing field label")
        return None
    if isinstance(value, bool):  # JSON true/false for wsc
        value = "true" if value else "false"
    spelled = str(value).strip()
    if spelled in spec.labels:
        return spec.labels.index(spelled)
    if required:
        # The reason names the label, so a file's skips read e.g. "unknown label '-': 85" (OCNLI's
        # lines without a gold label), cut short so one odd file cannot flood the report.
        raise BadLine(f"unknown label {spelled[:20]!r}")
    return None


def mark_spans(text: str, target: Any) -> str:
    """The text with span1 in `_..._` and span2 in `[...]` (finetune.tasks says why these marks).

    A span is looked for at its index; where the text there differs (a few CLUE lines are off by
    some characters) the occurrence nearest the index is taken."""
    if not isinstance(target, dict):
        raise BadLine("missing field target")
    spans = []
    for n, marks in ((1, SPAN1_MARKS), (2, SPAN2_MARKS)):
        span, index = target.get(f"span{n}_text"), target.get(f"span{n}_index")
        if not isinstance(span, str) or not span or not isinstance(index, int) or isinstance(index, bool):
            raise BadLine(f"target lacks span{n}_text or span{n}_index")
        start = _nearest(text, span, index)
        if start is None:
            raise BadLine(f"span{n}_text not in text")
        spans.append((start, start + len(span), marks))
    (s1, e1, _), (s2, e2, _) = spans
    if s1 < e2 and s2 < e1:
        raise BadLine("spans overlap")
    for start, end, (opening, closing) in sorted(spans, reverse=True):  # the later span first: indices hold
        text = text[:start] + opening + text[start:end] + closing + text[end:]
    return text


def _nearest(text: str, span: str, index: int) -> int | None:
    if text[index:index + len(span)] == span:
        return index
    starts, at = [], text.find(span)
    while at >= 0:
        starts.append(at)
        at = text.find(span, at + 1)
    return min(starts, key=lambda start: abs(start - index), default=None)


TRAIN_NAMES = ("train.json", "train_few_all.json")
DEV_NAMES = ("dev.json", "dev_few_all.json")
TEST_NAMES = ("test.json", "test_public.json")


def find_split(directory: str | Path, names: tuple[str, ...]) -> Path | None:
    """The first of CLUE's (train.json) or FewCLUE's (train_few_all.json) names present in `directory`."""
    return next((Path(directory) / name for name in names if (Path(directory) / name).is_file()), None)
