"""The CLUE and FewCLUE classification tasks: their fields, labels and submission file names.

Labels keep CLUE's own spelling (tnews "108", eprstmt "Positive", ocnli "neutral", wsc "true"): a
class index is a position in `labels`, and a prediction is written back in that spelling. FewCLUE
files have CLUE's layout (tnews even stores its labels as numbers there), so one spec serves both.
"""
from __future__ import annotations

from dataclasses import dataclass

from schemas.errors import UserInputError

SINGLE, PAIR, WSC = "single", "pair", "wsc"

# How wsc marks its two spans in the text (the CLUE baseline's marks): the candidate referent
# (span1) between underscores, the pronoun (span2) in square brackets, e.g. "_舌头_ ... [它]".
# Both are plain vocabulary characters, so the marks keep pretrained embeddings.
SPAN1_MARKS = ("_", "_")
SPAN2_MARKS = ("[", "]")


@dataclass(frozen=True)
class TaskSpec:
    name: str
    kind: str  # SINGLE, PAIR or WSC
    labels: tuple[str, ...]
    text_fields: tuple[str, ...]  # one field (single, wsc) or two (pair); a list of strings is joined
    max_len: int = 128  # tokens, [CLS] and [SEP]s included; --max-len overrides it
    id_fields: tuple[str, ...] = ("id",)  # the first one present is the id a submission line echoes

    @property
    def submission_file(self) -> str:
        """CLUE's `<task>_predict.json` (CLUE 1.1 renamed two: tnews11_, cluewsc11_; see --submission-name)."""
        return f"{self.name}_predict.json"


_BINARY = ("0", "1")
_NLI = ("contradiction", "entailment", "neutral")
# tnews' 15 classes: 105, 111 were never used.
_TNEWS = tuple(str(code) for code in (100, 101, 102, 103, 104, 106, 107, 108, 109, 110, 112, 113, 114, 115, 116))

TASKS: dict[str, TaskSpec] = {spec.name: spec for spec in (
    TaskSpec("tnews", SINGLE, _TNEWS, ("sentence",)),
    TaskSpec("iflytek", SINGLE, tuple(str(i) for i in range(119)), ("sentence",), max_len=256),
    TaskSpec("eprstmt", SINGLE, ("Negative", "Positive"), ("sentence",), max_len=256),
    TaskSpec("afqmc", PAIR, _BINARY, ("sentence1", "sentence2")),
    TaskSpec("bustm", PAIR, _BINARY, ("sentence1", "sentence2")),
    TaskSpec("ocnli", PAIR, _NLI, ("sentence1", "sentence2")),
    TaskSpec("cmnli", PAIR, _NLI, ("sentence1", "sentence2")),
    # Are these keywords (a list, joined with "，") the paper's own? Keywords first: they are short.
    TaskSpec("csl", PAIR, _BINARY, ("keyword", "abst"), max_len=256),
    # CLUE's file has "id"; FewCLUE's cluewsc has "idx".
    TaskSpec("cluewsc", WSC, ("false", "true"), ("text",), max_len=256, id_fields=("id", "idx")),
)}
TASKS["wsc"] = TaskSpec("wsc", WSC, ("false", "true"), ("text",), max_len=256, id_fields=("id", "idx"))


def task_spec(name: str) -> TaskSpec:
    if name not in TASKS:
        raise UserInputError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
    return TASKS[name]
