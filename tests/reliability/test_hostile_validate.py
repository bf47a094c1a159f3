"""`validate` against an adversary (issue 24, items 16-20): a real `prepare` output, then copies of it
edited as someone who wants a bad output to pass would edit them. Each case must fail validation (exit
1, naming the check that caught it) or be refused in one line (exit 2), never pass or crash."""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from erlangshen_data.cli import main
from schemas import output_checks
from schemas.accounting_suite import CHECKS
from schemas.manifest import MANIFEST_NAME, SUMMARY_NAME, VOCAB_NAME, ledger_file_name, read_manifest
from schemas.reject_ledger import count_ledger, count_lines
from schemas.shard_inspection import ShardFacts, inspect_shard
from schemas.shard import SCHEMA_VERSION
from schemas.validate import validate_output
from tests.conftest import SAMPLE_CORPUS
from tests.reliability.adversarial import TEXTS

FIRST_SHARD = "shards/part-00000-0000.parquet"
FIRST_LEDGER = ledger_file_name(0)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`prepare` on the sample corpus (its malformed file included, so the ledger has several reasons)."""
    from pipeline.beam.prepare import PrepareRequest, run_prepare
    from pipeline.config import PrepareConfig
    from runners.local import local_options

    output = tmp_path_factory.mktemp("hostile") / "out"
    run_prepare(PrepareRequest([str(SAMPLE_CORPUS / "*.json")], str(output), PrepareConfig()), local_options(1))
    return output


def _failed(output: Path, **settings) -> set[str]:
    return validate_output(output, workers=1, **settings).failed_checks


def _elsewhere(output: Path) -> Path:
    """A directory beside the output: outside it, yet a path with `..` reaches it."""
    elsewhere = output.parent / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    return elsewhere


def _move_out(output: Path, relative: str) -> Path:
    """Moves a file of the output to `elsewhere/`: the bytes are the output's own, so only the
    path gives the lie away."""
    target = _elsewhere(output) / Path(relative).name
    shutil.move(output / relative, target)
    return target


@pytest.fixture
def output(prepared: Path, tmp_path: Path) -> Path:
    """A private copy to corrupt (validation also writes OUTPUT/gx/)."""
    return Path(shutil.copytree(prepared, tmp_path / "out"))


def _edit_manifest(output: Path, edit: Callable[[dict], None]) -> None:
    data = json.loads((output / MANIFEST_NAME).read_text(encoding="utf-8"))
    edit(data)
    (output / MANIFEST_NAME).write_text(json.dumps(data), encoding="utf-8")


def _refused_in_one_line(output: Path, capsys: pytest.CaptureFixture) -> str:
    """The CLI's exit status 2 and its one stderr line, for a manifest it must refuse."""
    assert main(["validate", str(output), "--workers", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_untouched_output_passes(output: Path) -> None:
    report = validate_output(output, workers=1)
    assert report.success, report.summary()


# Item 19: a layout this code does not write is refused, with what to do about it.
def test_other_schema_version_is_refused_with_a_hint_to_rerun_prepare(output: Path, capsys) -> None:
    _edit_manifest(output, lambda m: m.update(schema_version="99.0"))
    err = _refused_in_one_line(output, capsys)
    assert "'99.0'" in err and repr(SCHEMA_VERSION) in err and "re-run `erlangshen-data prepare`" in err


# Item 20: a manifest of the wrong shape is one line and exit 2, never a traceback.
MALFORMED_MANIFESTS: dict[str, tuple[Callable[[dict], None], str]] = {
    "rows_a_string": (lambda m: m["shards"][0].update(rows="many"), "shards[0].rows must be an integer"),
    "tokens_negative": (lambda m: m["shards"][1].update(tokens=-5), "shards[1].tokens must be an integer"),
    "kept_a_float": (lambda m: m["documents"].update(kept=208.0), "documents.kept must be an integer"),
    "seed_a_boolean": (lambda m: m.update(seed=True), "seed must be an integer"),
    "rows_beyond_int64": (lambda m: m["shards"][0].update(rows=2**64), "shards[0].rows must be an integer"),
    "shards_an_object": (lambda m: m.update(shards={"file": "x"}), "shards must be an array"),
    "file_a_number": (lambda m: m["shards"][0].update(file=7), "shards[0].file must be a string"),
    "vocab_a_list": (lambda m: m.update(vocab=["vocab.txt"]), "vocab must be an object"),
    "rejected_a_list": (lambda m: m["documents"].update(rejected=[1]), "documents.rejected must be an object"),
    "entity_type_a_number": (lambda m: m["entity_types"].append(3), "entity_types[4] must be a string"),
    "packages_a_list": (lambda m: m["environment"].update(packages=["numpy"]), "environment.packages"),
    "python_a_number": (lambda m: m["environment"].update(python=3.11), "environment.python"),
    "schema_version_a_number": (lambda m: m.update(schema_version=2.0), "schema_version must be a string"),
    "no_schema_version": (lambda m: m.pop("schema_version"), "schema_version is missing"),
}


@pytest.mark.parametrize("case", MALFORMED_MANIFESTS)
def test_manifest_of_the_wrong_types_is_one_line_and_exit_2(case: str, output: Path, capsys) -> None:
    edit, message = MALFORMED_MANIFESTS[case]
    _edit_manifest(output, edit)
    assert message in _refused_in_one_line(output, capsys)


@pytest.mark.parametrize("opening", ["[", '{"a": '])
def test_manifest_nested_2000_levels_is_one_line_and_exit_2(opening: str, output: Path, capsys) -> None:
    closing = "]" if opening == "[" else "}"
    (output / MANIFEST_NAME).write_text(opening * 2000 + "1" + closing * 2000, encoding="utf-8")
    assert "nested too deeply" in _refused_in_one_line(output, capsys)


def test_manifest_that_is_not_an_object_is_one_line_and_exit_2(output: Path, capsys) -> None:
    (output / MANIFEST_NAME).write_text("[1, 2]", encoding="utf-8")
    assert "a manifest is a JSON object, not an array" in _refused_in_one_line(output, capsys)


# Item 16: every path confined to the output directory, symlinks followed, before a byte is read.
def _shard_climbing_out(output: Path) -> None:
    _move_out(output, FIRST_SHARD)
    _edit_manifest(output, lambda m: m["shards"][0].update(file="../elsewhere/part-00000-0000.parquet"))


def _shard_absolute(output: Path) -> None:
    target = _move_out(output, FIRST_SHARD)
    _edit_manifest(output, lambda m: m["shards"][0].update(file=str(target)))


def _shard_climbing_through_shards(output: Path) -> None:
    _move_out(output, FIRST_SHARD)
    _edit_manifest(output, lambda m: m["shards"][0].update(file="shards/../../elsewhere/part-00000-0000.parquet"))


def _shard_symlinked_out(output: Path) -> None:
    os.symlink(_move_out(output, FIRST_SHARD), output / FIRST_SHARD)


def _shards_dir_symlinked_out(output: Path) -> None:
    target = _elsewhere(output) / "shards"
    shutil.move(output / "shards", target)
    os.symlink(target, output / "shards")


def _vocab_climbing_out(output: Path) -> None:
    _move_out(output, VOCAB_NAME)
    _edit_manifest(output, lambda m: m["vocab"].update(file=f"../elsewhere/{VOCAB_NAME}"))


def _ledger_symlinked_out(output: Path) -> None:
    os.symlink(_move_out(output, FIRST_LEDGER), output / FIRST_LEDGER)


def _summary_symlinked_out(output: Path) -> None:
    os.symlink(_move_out(output, SUMMARY_NAME), output / SUMMARY_NAME)


def _stray_symlink_out(output: Path) -> None:
    target = _elsewhere(output) / "y.parquet"
    shutil.copyfile(output / FIRST_SHARD, target)
    os.symlink(target, output / "shards" / "part-00099-0000.parquet")


_ABSENT = {"paths_inside_output", "shard_file_present"}
ESCAPES: dict[str, tuple[Callable[[Path], None], set[str]]] = {
    "shard_climbing_out": (_shard_climbing_out, _ABSENT),
    "shard_absolute": (_shard_absolute, _ABSENT),
    "shard_climbing_through_shards": (_shard_climbing_through_shards, _ABSENT),
    "shard_symlinked_out": (_shard_symlinked_out, _ABSENT),
    "shards_dir_symlinked_out": (_shards_dir_symlinked_out, _ABSENT),
    "vocab_climbing_out": (_vocab_climbing_out, {"paths_inside_output", "vocab_sha256", "vocab_size",
                                                 "special_tokens_in_vocab"}),
    "stray_symlinked_out": (_stray_symlink_out, {"paths_inside_output", "shard_listed_in_manifest",
                                                 "shard_file_present"}),
}


@pytest.mark.parametrize("case", ESCAPES)
def test_path_leading_outside_the_output_fails_and_is_never_read(case: str, output: Path) -> None:
    escape, expected = ESCAPES[case]
    escape(output)
    report = validate_output(output, workers=1)
    # A shard outside is a valid copy: read, it would be present and pass.
    assert report.failed_checks == expected, report.summary()


def test_etc_passwd_named_as_a_shard_is_not_read(output: Path) -> None:
    _edit_manifest(output, lambda m: m["shards"][0].update(file="/etc/passwd"))
    _move_out(output, FIRST_SHARD)
    report = validate_output(output, workers=1)
    # Read, it would be an unreadable shard with a hash: shard_readable and shard_sha256 would fire.
    assert report.failed_checks == _ABSENT, report.summary()
    assert "/etc/passwd" in report.summary()


# Item 17: the reject ledger and summary.json checked against the manifest and the shards.
def _drop_ledger_line(output: Path) -> None:
    path = output / FIRST_LEDGER
    path.write_text("".join(path.read_text(encoding="utf-8").splitlines(keepends=True)[1:]), encoding="utf-8")


def _repeat_ledger_line(output: Path) -> None:
    path = output / FIRST_LEDGER
    path.write_text(path.read_text(encoding="utf-8") * 2, encoding="utf-8")


def _append(relative: str, data: bytes) -> Callable[[Path], None]:
    def corrupt(output: Path) -> None:
        with (output / relative).open("ab") as handle:
            handle.write(data)

    return corrupt


def _edit_summary(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def corrupt(output: Path) -> None:
        data = json.loads((output / SUMMARY_NAME).read_text(encoding="utf-8"))
        edit(data)
        (output / SUMMARY_NAME).write_text(json.dumps(data), encoding="utf-8")

    return corrupt


def _write(relative: str, text: str) -> Callable[[Path], None]:
    return lambda output: (output / relative).write_text(text, encoding="utf-8")


_SUMMARY = {"summary_matches_output"}
ACCOUNTING_DEFECTS: dict[str, tuple[Callable[[Path], None], set[str]]] = {
    "ledger_symlinked_out": (_ledger_symlinked_out, {"paths_inside_output", "ledger_files_match_inputs"}),
    "summary_symlinked_out": (_summary_symlinked_out, {"paths_inside_output", *_SUMMARY}),
    "ledger_file_deleted": (lambda out: (out / FIRST_LEDGER).unlink(), {"ledger_files_match_inputs"}),
    "ledger_dir_deleted": (lambda out: shutil.rmtree(out / "rejects"), {"ledger_files_match_inputs"}),
    "stray_ledger_file": (_write(ledger_file_name(9), ""), {"ledger_files_match_inputs"}),
    "ledger_line_missing": (_drop_ledger_line, {"ledger_matches_rejected", *_SUMMARY}),
    "ledger_lines_repeated": (_repeat_ledger_line, {"ledger_matches_rejected", *_SUMMARY}),
    "ledger_garbage_appended": (_append(FIRST_LEDGER, b"garbage\n"), {"ledger_lines_well_formed"}),
    "ledger_line_cut_off": (_append(FIRST_LEDGER, b'{"doc_id": "x", "reason": "too'), {"ledger_lines_well_formed"}),
    "ledger_line_nested_2000": (_append(FIRST_LEDGER, b"[" * 2000 + b"]" * 2000 + b"\n"),
                                {"ledger_lines_well_formed"}),
    "ledger_line_reason_a_number": (
        _append(FIRST_LEDGER, b'{"detail": "", "doc_id": "x", "reason": 5, "source": "s"}\n'),
        {"ledger_lines_well_formed"},
    ),
    "inputs_removed": (lambda out: _edit_manifest(out, lambda m: m.update(inputs=[])), {"ledger_files_match_inputs"}),
    "summary_deleted": (lambda out: (out / SUMMARY_NAME).unlink(), _SUMMARY),
    "summary_not_json": (_write(SUMMARY_NAME, "{"), _SUMMARY),
    "summary_nested_2000": (_write(SUMMARY_NAME, "[" * 2000 + "]" * 2000), _SUMMARY),
    "summary_kept_raised": (_edit_summary(lambda s: s["documents"].update(kept=s["documents"]["kept"] + 10)), _SUMMARY),
    "summary_read_raised": (_edit_summary(lambda s: s["documents"].update(read=s["documents"]["read"] + 1)), _SUMMARY),
    "summary_rejection_hidden": (_edit_summary(lambda s: s["documents"]["rejected"].pop("too_short")), _SUMMARY),
    "summary_kept_behind_a_dotted_key": (
        _edit_summary(lambda s: s.update({"documents.kept": s["documents"]["kept"]}, documents={**s["documents"],
                                                                                              "kept": 0})),
        _SUMMARY,
    ),
    "summary_rows_raised": (_edit_summary(lambda s: s.update(rows=s["rows"] + 1)), _SUMMARY),
    "summary_tokens_a_string": (_edit_summary(lambda s: s.update(tokens=str(s["tokens"]))), _SUMMARY),
    "summary_shards_true": (_edit_summary(lambda s: s.update(shards=True)), _SUMMARY),
    "summary_stats_changed": (_edit_summary(lambda s: s["stats"].update(entities=0)), _SUMMARY),
}


@pytest.fixture(scope="module")
def shards_read(prepared: Path) -> tuple[list[ShardFacts], list[int]]:
    """What `check_shard` finds in the untouched shards, for defects that leave the shards alone."""
    found = [inspect_shard(prepared / s.file, s.file, True) for s in read_manifest(prepared).shards]
    return [facts for facts, _ in found], [output_checks.documents_in(table) for _, table in found]


def _accounting_failures(output: Path, shards_read: tuple[list[ShardFacts], list[int]]) -> dict[str, str]:
    """The accounting suite's failing checks and what each says, without the GX run (the wiring is
    pinned end to end by `test_accounting_defects_fail_validation_each_by_its_check`)."""
    table = output_checks.accounting_table(read_manifest(output), output, *shards_read, [])
    return {check: table[column].iloc[0] for check, column in CHECKS.items() if table[column].iloc[0]}


@pytest.mark.parametrize("defect", ACCOUNTING_DEFECTS)
def test_accounting_defect_is_caught_by_its_check(defect: str, output: Path, shards_read) -> None:
    corrupt, expected = ACCOUNTING_DEFECTS[defect]
    assert _accounting_failures(output, shards_read) == {}
    corrupt(output)
    assert set(_accounting_failures(output, shards_read)) == expected


def test_accounting_defects_fail_validation_each_by_its_check(output: Path) -> None:
    rows = read_manifest(output).total_rows
    (output / ledger_file_name(1)).unlink()
    _append(ledger_file_name(2), b"garbage\n")(output)
    _edit_summary(lambda s: s.update(rows=s["rows"] + 1))(output)
    report = validate_output(output, workers=1)
    assert report.failed_checks == {"ledger_files_match_inputs", "ledger_lines_well_formed", *_SUMMARY}
    assert f"missing {ledger_file_name(1)}" in report.summary()
    assert f"{ledger_file_name(2)} line " in report.summary() and f"rows: summary {rows + 1}, output {rows}" in report.summary()


def test_ledger_failures_name_the_file_the_line_and_the_counts(output: Path, shards_read) -> None:
    lines = (output / FIRST_LEDGER).read_text(encoding="utf-8").splitlines(keepends=True)
    first_reason = json.loads(lines[0])["reason"]
    declared = read_manifest(output).documents.rejected[first_reason]
    _drop_ledger_line(output)
    _append(FIRST_LEDGER, b"garbage\n")(output)
    failures = _accounting_failures(output, shards_read)
    assert failures["ledger_lines_well_formed"] == (
        f"1 malformed lines, the first: {FIRST_LEDGER} line {len(lines)}: not JSON"
    )
    assert failures["ledger_matches_rejected"] == f"{first_reason}: manifest {declared}, ledger lines {declared - 1}"


def test_arrow_ledger_count_equals_its_plain_twin(prepared: Path, tmp_path: Path) -> None:
    ledgers = sorted((prepared / "rejects").glob("*.jsonl"))
    assert len(ledgers) == 4
    for path in ledgers:
        assert count_ledger(path) == count_lines(path) and count_ledger(path).malformed == 0
    # A line longer than Arrow's block (a rejected document kept whole by --ledger-text) is counted too.
    line = json.dumps({"detail": "", "doc_id": "x", "reason": "too_long", "source": "s", "text": "長" * (1 << 23)})
    huge = tmp_path / "huge.jsonl"
    huge.write_text(line + "\n" + line + "\n", encoding="utf-8")
    assert count_ledger(huge).reasons == {"too_long": 2} and count_ledger(huge).malformed == 0


# Item 18: read and kept checked against the ledger and the shards' documents, exactly.
def test_read_and_kept_raised_together_fail(output: Path) -> None:
    def raise_both(m: dict) -> None:
        m["documents"].update(read=m["documents"]["read"] + 10, kept=m["documents"]["kept"] + 10)

    _edit_manifest(output, raise_both)
    assert _failed(output) == {"kept_matches_shards"}
    assert _failed(output, sample_rows=5) == {"kept_matches_shards"}  # every row counted, sample or not


def test_kept_lowered_with_a_rejection_added_fails(output: Path) -> None:
    def move_one(m: dict) -> None:
        m["documents"]["kept"] -= 1
        m["documents"]["rejected"]["too_short"] += 1

    _edit_manifest(output, move_one)
    assert _failed(output) == {"kept_matches_shards", "ledger_matches_rejected"}


# Item 19: nothing under shards/ but the manifest's shards.
def test_stray_file_that_is_not_parquet_fails(output: Path) -> None:
    (output / "shards" / "notes.txt").write_text("not a shard", encoding="utf-8")
    assert _failed(output) == {"shard_listed_in_manifest", "shard_readable"}


def test_stray_directory_under_shards_fails(output: Path) -> None:
    (output / "shards" / "more").mkdir()
    assert _failed(output) == {"shard_listed_in_manifest", "shard_file_present"}


def test_documents_sharing_an_id_side_by_side_are_each_counted_kept(tmp_path: Path) -> None:
    """Duplicate uniqueKeys are all kept (issue 24, item 15): each is a document of the kept count, so
    each must open with an example of index 0, or an honest output would fail kept_matches_shards."""
    from pipeline.beam.prepare import PrepareRequest, run_prepare
    from pipeline.config import PrepareConfig
    from runners.local import local_options

    corpus, output = tmp_path / "in", tmp_path / "out"
    corpus.mkdir()
    keys = ["same", "same", "other", "same", "same"]
    records = [{"uniqueKey": key, "content": text} for key, text in zip(keys, TEXTS)]
    (corpus / "dup.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    run_prepare(PrepareRequest([str(corpus / "*.json")], str(output), PrepareConfig()), local_options(1))
    manifest = read_manifest(output)
    assert manifest.documents.kept == len(keys)
    found = [inspect_shard(output / s.file, s.file, True) for s in manifest.shards]
    shards = [facts for facts, _ in found], [output_checks.documents_in(table) for _, table in found]
    assert _accounting_failures(output, shards) == {}


def test_vocab_that_is_not_text_fails_its_checks(output: Path) -> None:
    (output / VOCAB_NAME).write_bytes(b"\xff\xfe[PAD]\n" * 100)
    assert _failed(output) == {"vocab_sha256", "vocab_size", "special_tokens_in_vocab"}
