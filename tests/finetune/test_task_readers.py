"""CLUE task files: every FewCLUE file in ../shared reads whole; bad lines are counted or named."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from finetune.readers import DEV, TEST, TRAIN, BadLine, mark_spans, read_task_file
from finetune.tasks import TASKS, task_spec
from schemas.errors import UserInputError
from tests.conftest import SHARED_DATA, require_shared

FEWCLUE = SHARED_DATA / "fewclue"
SPLITS = {"train_few_all.json": TRAIN, "dev_few_all.json": DEV, "test_public.json": TEST}
TASK_DIRS = ("tnews", "eprstmt", "bustm", "ocnli", "cluewsc")


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("task", TASK_DIRS)
@pytest.mark.parametrize("file_name", list(SPLITS))
def test_every_fewclue_file_reads_whole_with_its_labels(task: str, file_name: str) -> None:
    path = require_shared(FEWCLUE / task / file_name)
    spec = task_spec(task)
    read = read_task_file(path, spec, SPLITS[file_name], strict=True)
    records = _lines(path)
    assert len(read.examples) == len(records) and not read.skipped
    assert [spec.labels[e.label] for e in read.examples] == [str(r["label"]) for r in records]
    assert [e.uid for e in read.examples] == [r.get("id", r.get("idx")) for r in records]
    if spec.kind == "pair":
        assert [(e.text_a, e.text_b) for e in read.examples] == [(r["sentence1"], r["sentence2"]) for r in records]
    elif spec.kind == "wsc":
        for example, record in zip(read.examples, records):
            target = record["target"]
            assert f"_{target['span1_text']}_" in example.text_a and f"[{target['span2_text']}]" in example.text_a
            assert example.text_a.replace("_", "").replace("[", "").replace("]", "") == \
                record["text"].replace("_", "").replace("[", "").replace("]", "")
    else:
        assert [e.text_a for e in read.examples] == [r["sentence"] for r in records]


def test_tnews_classes_are_those_of_its_label_file() -> None:
    labels = _lines(require_shared(FEWCLUE / "tnews" / "label_index2en2zh.json"))
    assert TASKS["tnews"].labels == tuple(entry["label"] for entry in labels)


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "task.json"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


GOOD = json.dumps({"id": 7, "sentence1": "今天天气好", "sentence2": "天气不错", "label": "entailment"}, ensure_ascii=False)
BAD_LINES = [
    '{"id": 8, "sentence1": "截断的行',  # truncated, as in some upstream FewCLUE files
    json.dumps({"id": 9, "sentence1": "只有一句", "label": "neutral"}, ensure_ascii=False),
    json.dumps({"id": 10, "sentence1": "甲", "sentence2": "乙", "label": "-"}, ensure_ascii=False),
    json.dumps({"id": 11, "sentence1": "甲", "sentence2": "乙"}, ensure_ascii=False),
    "[1, 2]",
]


def test_bad_train_lines_are_counted_by_reason_and_skipped(tmp_path: Path) -> None:
    path = _write(tmp_path, [GOOD, *BAD_LINES, "", GOOD])
    read = read_task_file(path, task_spec("ocnli"), TRAIN)
    assert [e.line for e in read.examples] == [1, 8]
    assert read.skipped == {"broken JSON": 1, "missing field sentence2": 1, "unknown label '-'": 1,
                            "missing field label": 1, "not a JSON object": 1}


def test_strict_makes_the_first_bad_line_a_one_line_error_with_its_place(tmp_path: Path) -> None:
    path = _write(tmp_path, [GOOD, *BAD_LINES])
    with pytest.raises(UserInputError, match=r"task\.json:2: broken JSON") as error:
        read_task_file(path, task_spec("ocnli"), DEV, strict=True)
    assert "\n" not in str(error.value)


def test_a_broken_test_line_is_an_error_since_a_submission_is_scored_line_by_line(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"task\.json:2: broken JSON .*every test line"):
        read_task_file(_write(tmp_path, [GOOD, BAD_LINES[0]]), task_spec("ocnli"), TEST)


def test_test_lines_without_a_known_label_are_kept_for_prediction(tmp_path: Path) -> None:
    """CLUE's test.json has no labels; OCNLI marks lines without a gold label "-"."""
    read = read_task_file(_write(tmp_path, [GOOD, BAD_LINES[3], BAD_LINES[2]]), task_spec("ocnli"), TEST)
    assert [e.uid for e in read.examples] == [7, 11, 10]
    assert [e.label for e in read.examples] == [1, None, None] and read.labelled == 1


def test_a_file_with_no_usable_line_says_why(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="no usable example.*broken JSON: 1"):
        read_task_file(_write(tmp_path, BAD_LINES[:1]), task_spec("ocnli"), TRAIN)
    with pytest.raises(UserInputError, match="does not exist"):
        read_task_file(tmp_path / "absent.json", task_spec("ocnli"), TRAIN)


def test_numeric_and_boolean_labels_read_as_clue_spells_them(tmp_path: Path) -> None:
    tnews = json.dumps({"id": 1, "sentence": "标题", "label": 108})
    assert read_task_file(_write(tmp_path, [tnews]), task_spec("tnews"), TRAIN).examples[0].label == \
        TASKS["tnews"].labels.index("108")
    wsc = {"idx": 3, "text": "小明说他饿了", "label": True,
           "target": {"span1_text": "小明", "span1_index": 0, "span2_text": "他", "span2_index": 3}}
    example = read_task_file(_write(tmp_path, [json.dumps(wsc, ensure_ascii=False)]), task_spec("cluewsc"),
                             TRAIN).examples[0]
    assert (example.uid, example.label, example.text_a) == (3, 1, "_小明_说[他]饿了")


def test_csl_keywords_are_joined_before_the_abstract(tmp_path: Path) -> None:
    line = json.dumps({"id": 2, "abst": "本文研究分词。", "keyword": ["分词", "词典"], "label": "1"}, ensure_ascii=False)
    example = read_task_file(_write(tmp_path, [line]), task_spec("csl"), TRAIN).examples[0]
    assert (example.text_a, example.text_b, example.label) == ("分词，词典", "本文研究分词。", 1)


def test_wsc_spans_are_found_near_a_wrong_index_and_overlaps_refused() -> None:
    target = {"span1_text": "猫", "span1_index": 2, "span2_text": "它", "span2_index": 4}  # span1 two off
    assert mark_spans("猫追狗，它跑了，猫累了", target) == "_猫_追狗，[它]跑了，猫累了"
    with pytest.raises(BadLine, match="overlap"):
        mark_spans("他们", {"span1_text": "他们", "span1_index": 0, "span2_text": "他", "span2_index": 0})
    with pytest.raises(BadLine, match="span2_text not in text"):
        mark_spans("猫追狗", {"span1_text": "猫", "span1_index": 0, "span2_text": "它", "span2_index": 2})


def test_finetune_imports_no_beam_and_its_help_no_torch() -> None:
    """DESIGN.md: only pipeline/beam/ imports apache_beam; `--help` of every command stays fast."""
    probe = ("import sys\nfrom erlangshen_data.cli import main\ntry:\n    main(['finetune', '--help'])\n"
             "except SystemExit:\n    pass\nheavy = {'apache_beam', 'torch'}\n"
             "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
             "import finetune.run, bench.learning_signal\n"
             "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.stdout.splitlines()[-2:] == ["[]", "['torch']"]
    assert "--seeds N" in result.stdout
