"""Issue 24, the CLI and run-control items: misuse of `erlangshen-data` as an adversary would try it.

Each test names its item. Through the real CLI (`main()` in-process, or a subprocess where a signal, a
second process or a full disk is the point), on the embedded sample corpus or a few generated documents.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from erlangshen_data.cli import COMMANDS, build_parser, interrupted, main
from pipeline.beam.prepare import prepare_output_dir
from pipeline.vocab import build_default_vocab
from schemas.errors import UserInputError
from tests.conftest import REPO, SAMPLE_CORPUS
from tests.run_outputs import output_files

CLI = [sys.executable, "-m", "erlangshen_data.cli"]
GOOD = "北京大学是中国著名的高等学府，创建于一八九八年。它位于北京市海淀区，校园风景优美。"


def one_line_error(code: int, err: str, *expected: str) -> None:
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for text in expected:
        assert text in err, err


def prepare(capsys, *args: str) -> tuple[int, str]:
    code = main(["prepare", "--workers", "1", "--no-report", *args])
    return code, capsys.readouterr().err


def write_corpus(directory: Path, documents: int) -> Path:
    """Distinct documents (none a near-duplicate of another), so the run has shards to write."""
    directory.mkdir(parents=True, exist_ok=True)
    records = [{"uniqueKey": f"d{i}", "content": f"第{i}号文档。{GOOD[i % 7:]}{i * 7919}号。" * 3}
               for i in range(documents)]
    path = directory / "corpus.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def wait_for(path: Path, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if process.poll() is not None:
        pytest.fail(f"the run ended before {path.name} appeared: {process.communicate()[1][-2000:]}")


# 2 -----------------------------------------------------------------------------------------------
def test_2_output_that_is_a_file_or_lies_under_one_is_one_line(tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    one_line_error(*prepare(capsys, "--output", str(a_file)), "is a file, not a directory")
    one_line_error(*prepare(capsys, "--output", str(a_file / "out")), "cannot create output directory")
    assert a_file.read_text() == "mine"


def test_2_an_export_prefix_under_a_file_is_one_line(prepared_sample, tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    code = main(["export", "megatron", str(prepared_sample), str(a_file / "mg" / "text")])
    one_line_error(code, capsys.readouterr().err, f"{a_file}")


# 3 -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, flag", [
    (["prepare", "--output", "o", "--seed", "-1"], "--seed"),
    (["prepare", "--output", "o", "--shard-rows", "-1"], "--shard-rows"),
    (["prepare", "--output", "o", "--min-cjk-ratio", "nan"], "--min-cjk-ratio"),
    (["prepare", "--output", "o", "--min-cjk-ratio", "1.5"], "--min-cjk-ratio"),
    (["prepare", "--output", "o", "--short-seq-prob", "inf"], "--short-seq-prob"),
    (["prepare", "--output", "o", "--dedup-threshold", "0"], "--dedup-threshold"),
    (["prepare", "--output", "o", "--max-seq-len", "70000"], "--max-seq-len"),
    (["prepare", "--output", "o", "--workers", "0"], "--workers"),
    (["prepare", "--output", "o", "--min-chars", "-5"], "--min-chars"),
    (["validate", "o", "--max-reject-rate", "nan"], "--max-reject-rate"),
    (["validate", "o", "--workers", "-2"], "--workers"),
    (["train", "--data", "d", "--out", "o", "--lr", "nan"], "--lr"),
    (["train", "--data", "d", "--out", "o", "--mask-rate", "0"], "--mask-rate"),
    (["train", "--data", "d", "--out", "o", "--log-every", "0"], "--log-every"),
    (["train", "--data", "d", "--out", "o", "--seed", "-3"], "--seed"),
    (["finetune", "--task", "tnews", "--model", "m", "--out", "o", "--warmup-ratio", "inf"], "--warmup-ratio"),
    (["plan", "--input-bytes", "1GB", "--efficiency", "nan"], "--efficiency"),
    (["lexicon", "stats", "--max-docs", "-1"], "--max-docs"),
])
def test_3_a_bad_number_is_refused_while_parsing_in_one_line(argv, flag, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(argv)
    one_line_error(code, capsys.readouterr().err, f"argument {flag}:")
    assert not list(tmp_path.iterdir())  # refused before anything was written


def test_3_the_config_refuses_what_the_flags_refuse_for_api_callers():
    from pipeline.config import CleanConfig, PrepareConfig

    for config in (PrepareConfig(seed=-1), PrepareConfig(clean=CleanConfig(min_cjk_ratio=float("nan"))),
                   PrepareConfig(max_input_bytes=0), PrepareConfig(max_input_bytes=-1)):
        with pytest.raises(UserInputError):
            config.validate()


# 4 -----------------------------------------------------------------------------------------------
def test_4_a_full_disk_is_one_line_that_says_so_and_where(tmp_path):
    """A real ENOSPC: the output lies on a 100 KB tmpfs, mounted in a private mount namespace."""
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-rm", "true"], capture_output=True).returncode != 0:
        pytest.skip("no unprivileged mount namespace here: cannot make a small disk to fill")
    disk = tmp_path / "disk"
    disk.mkdir()
    lexicon = tmp_path / "lexicon.tsv"  # small, so the vocab and lexicon fit and the workers fill the disk
    lexicon.write_text("北京大学\torganization\n", encoding="utf-8")
    command = " ".join(CLI + ["prepare", "--workers", "1", "--lexicon", str(lexicon), "--output", str(disk / "out")])
    result = subprocess.run(["unshare", "-rm", "sh", "-c",
                             f"mount -t tmpfs -o size=100k tmpfs {disk} && {command}; code=$?; "
                             f"ls -A {disk / 'out'} >&2; exit $code"],
                            capture_output=True, text=True, cwd=REPO, timeout=300)
    error_line, *listing = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert error_line.startswith("erlangshen-data prepare: error: the disk is full"), result.stderr
    assert str(disk / "out") in error_line
    assert listing == [".staging"]  # nothing that looks final, and the lock released


# 5, 8 --------------------------------------------------------------------------------------------
def test_5_8_sigint_in_an_overwrite_is_one_line_exit_130_and_the_earlier_output_stays_whole(tmp_path):
    """SIGINT: one line, exit 130, no lock left and nothing new that looks final. --overwrite: the
    earlier output is untouched until the new run publishes, so a run that fails destroys nothing."""
    corpus, output = write_corpus(tmp_path / "in", 3000), tmp_path / "out"
    one = str(SAMPLE_CORPUS / "part-000.json")
    assert main(["prepare", "--workers", "1", "--no-report", "--input", one, "--output", str(output)]) == 0
    before = output_files(output)
    rerun = subprocess.Popen(CLI + ["prepare", "--workers", "1", "--input", str(corpus), "--output", str(output),
                                    "--overwrite"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO)
    wait_for(output / ".staging" / "lexicon.bin", rerun)
    time.sleep(0.5)
    rerun.send_signal(signal.SIGINT)
    err = rerun.communicate(timeout=120)[1]
    assert rerun.returncode == 130, err
    assert err.strip() == "erlangshen-data prepare: interrupted"
    after = output_files(output)
    assert {name: data for name, data in after.items() if not name.startswith(".staging/")} == before


def _raises_in_a_beam_step(error: BaseException) -> BaseException:
    import apache_beam as beam

    def step(_):
        raise error

    with pytest.raises(BaseException) as caught:
        with beam.Pipeline() as pipeline:
            pipeline | beam.Create([1]) | beam.Map(step)
    return caught.value


def test_5_ctrl_c_inside_a_beam_step_is_an_interruption_whatever_beam_wraps_it_in():
    """Where SIGINT lands decides what reaches `main`: in Beam's own code a KeyboardInterrupt, inside a
    step the RuntimeError Beam re-raises it as; both are one line and exit 130 (the subprocess test
    above hits one or the other by timing)."""
    wrapped = _raises_in_a_beam_step(KeyboardInterrupt())
    assert not isinstance(wrapped, KeyboardInterrupt) and interrupted(wrapped)
    assert not interrupted(_raises_in_a_beam_step(ValueError("a bug")))


def test_8_an_overwrite_that_publishes_leaves_nothing_of_the_earlier_run(tmp_path, capsys):
    output = tmp_path / "out"
    assert main(["prepare", "--workers", "1", "--no-report", "--output", str(output)]) == 0  # 4 input files
    (output / "gx").mkdir()
    (output / "gx" / "stale.json").write_text("{}")
    one = str(SAMPLE_CORPUS / "part-000.json")
    assert main(["prepare", "--workers", "1", "--no-report", "--input", one, "--output", str(output),
                 "--overwrite"]) == 0
    manifest = json.loads((output / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(os.listdir(output / "shards")) == sorted(Path(s["file"]).name for s in manifest["shards"])
    assert sorted(os.listdir(output / "rejects")) == ["part-00000.jsonl"]
    assert sorted(os.listdir(output)) == ["manifest.json", "rejects", "shards", "summary.json", "vocab.txt"]


def test_8_9_on_an_object_store_overwrite_retires_the_earlier_run_only_when_publishing():
    from pipeline.beam import run_lock
    from pipeline.beam.publish import retire_earlier_run
    from tests.runners import object_store

    object_store.clear()
    try:
        earlier = ["memstore://old/manifest.json", "memstore://old/shards/part-00000-0000.parquet",
                   "memstore://old/rejects/part-00000.jsonl"]
        for path in earlier:
            object_store.put(path, b"x")
        object_store.put("memstore://old/notes.txt", b"the user's own file")
        object_store.put("memstore://old/.staging/spill/00000.cleaned.arrows", b"an interrupted run's")
        run_id = prepare_output_dir("memstore://old", overwrite=True)
        assert [key for key in object_store.keys("memstore://old/") if key != "memstore://old/.lock"] == \
            ["memstore://old/manifest.json", "memstore://old/notes.txt", "memstore://old/rejects/part-00000.jsonl",
             "memstore://old/shards/part-00000-0000.parquet"]  # the earlier run whole, its staging gone
        run_lock.check_still_held("memstore://old", run_id)
        retire_earlier_run("memstore://old")
        assert object_store.keys("memstore://old/") == ["memstore://old/.lock", "memstore://old/notes.txt"]
        # A second run that started later took the prefix over: the first must not publish.
        object_store.put("memstore://old/.lock", json.dumps(
            {"run_id": "later", "pid": 1, "host": "elsewhere", "started_at": "now"}).encode())
        with pytest.raises(UserInputError, match="no longer holds this run's lock"):
            run_lock.check_still_held("memstore://old", run_id)
    finally:
        object_store.clear()


# 9 -----------------------------------------------------------------------------------------------
def test_9_a_second_run_into_a_busy_output_is_refused_and_the_first_finishes(tmp_path, capsys):
    corpus, output = write_corpus(tmp_path / "in", 1500), tmp_path / "out"
    first = subprocess.Popen(CLI + ["prepare", "--workers", "1", "--no-report", "--input", str(corpus),
                                    "--output", str(output)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, cwd=REPO)
    wait_for(output / ".lock", first)
    one_line_error(*prepare(capsys, "--output", str(output), "--overwrite"),
                   f"is in use by another prepare run (pid {first.pid} on host", str(output / ".lock"))
    err = first.communicate(timeout=300)[1]
    assert first.returncode == 0, err
    assert (output / "manifest.json").exists() and not (output / ".lock").exists()


def test_9_a_stale_lock_is_an_unfinished_run_and_overwrite_takes_it_over(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    output = tmp_path / "out"
    output.mkdir()
    holder = {"run_id": "dead", "pid": int(gone.stdout), "host": os.uname().nodename, "started_at": "earlier"}
    (output / ".lock").write_text(json.dumps(holder))
    with pytest.raises(UserInputError, match=r"unfinished \(interrupted\) run \(\.lock\); pass --overwrite"):
        prepare_output_dir(str(output), overwrite=False)
    run_id = prepare_output_dir(str(output), overwrite=True)
    assert json.loads((output / ".lock").read_text())["run_id"] == run_id != "dead"
    (output / ".lock").write_text(json.dumps({**holder, "host": "another-machine"}))
    with pytest.raises(UserInputError, match="on host another-machine.*delete .*\\.lock"):
        prepare_output_dir(str(output), overwrite=True)


# 10 ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("pattern", ["{corpus}", "{corpus}/**", "{corpus}/*/*.txt"])
def test_10_an_output_where_the_inputs_are_read_is_refused(tmp_path, capsys, pattern):
    """Before the first run (a directory or `**` would read what it writes) and at a rerun (a glob
    that matches an earlier run's vocab.txt)."""
    corpus = tmp_path / "corpus"
    (corpus / "earlier").mkdir(parents=True)
    shutil.copy(SAMPLE_CORPUS / "part-000.json", corpus)
    (corpus / "earlier" / "vocab.txt").write_text("[PAD]\n")
    for output in (corpus / "out", corpus / "earlier"):
        if pattern.endswith(".txt") and output.name == "out":
            continue  # that glob reads no file of a new output
        code, err = prepare(capsys, "--input", pattern.format(corpus=corpus), "--output", str(output))
        one_line_error(code, err, f"output directory {output}", "choose an output outside the inputs")
    assert not (corpus / "out").exists()


# 11, 12 ------------------------------------------------------------------------------------------
def test_11_a_crlf_vocab_without_final_newline_is_hashed_as_written(tmp_path, capsys):
    vocab = tmp_path / "vocab.txt"
    vocab.write_bytes(build_default_vocab().to_text().rstrip("\n").replace("\n", "\r\n").encode("utf-8"))
    output = tmp_path / "out"
    assert prepare(capsys, "--vocab", str(vocab), "--input", str(SAMPLE_CORPUS / "part-000.json"),
                   "--output", str(output))[0] == 0
    manifest = json.loads((output / "manifest.json").read_text(encoding="utf-8"))
    written = (output / "vocab.txt").read_bytes()
    assert manifest["vocab"]["sha256"] == hashlib.sha256(written).hexdigest()
    assert b"\r" not in written and written.endswith(b"\n")


def test_12_a_repeated_special_token_is_refused_naming_both_lines(tmp_path, capsys):
    tokens = build_default_vocab().tokens
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("".join(f"{t}\n" for t in tokens) + "[CLS]\n", encoding="utf-8")
    code, err = prepare(capsys, "--vocab", str(vocab), "--output", str(tmp_path / "out"))
    first = tokens.index("[CLS]") + 1
    one_line_error(code, err, f"{vocab}:{len(tokens) + 1}: special token [CLS] repeats line {first}")


# 21, 22, 23 --------------------------------------------------------------------------------------
def test_21_version_and_a_top_level_help_that_imports_no_command(capsys):
    from importlib.metadata import version

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"erlangshen-data {version('erlangshen-data')}"
    probe = ("import sys\nfrom erlangshen_data.cli import main\nmain(['--help'])\n"
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'apache_beam', 'torch', 'great_expectations', "
             "'pipeline', 'trainer', 'jieba', 'pyarrow'}))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO)
    assert result.stdout.splitlines()[-1] == "[]"
    assert all(name in result.stdout for name in COMMANDS)


def _parsers(parser: argparse.ArgumentParser, prog: str = "erlangshen-data"):
    yield prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{prog} {name}")


def test_22_every_option_of_every_command_has_help_and_shows_its_default():
    missing, hidden_defaults = [], []
    for prog, parser in _parsers(build_parser()):
        shown = " ".join(parser.format_help().split())
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
                continue
            name = f"{prog} {'/'.join(action.option_strings) or action.dest}"
            if not action.help:
                missing.append(name)
            elif action.option_strings and action.default not in (None, False, []) and "default" not in action.help:
                if f"(default: {action.default})" not in shown:
                    hidden_defaults.append(name)
    assert not missing, missing
    assert not hidden_defaults, hidden_defaults


def test_22_pii_flags_exclude_each_other_and_arguments_name_the_output_dir(capsys):
    one_line_error(main(["prepare", "--output", "o", "--pii", "drop", "--keep-pii"]), capsys.readouterr().err,
                   "not allowed with argument")
    for argv in (["validate", "--help"], ["export", "megatron", "--help"]):
        assert main(argv) == 0
        assert "OUTPUT_DIR" in capsys.readouterr().out


def test_23_a_usage_error_is_one_line_for_every_command(capsys):
    for name in COMMANDS:
        one_line_error(main([name, "--no-such-flag"]), capsys.readouterr().err)
    one_line_error(main(["no-such-command"]), capsys.readouterr().err, "invalid choice")
