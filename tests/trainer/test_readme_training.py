"""The README's training and export commands run as written on what `bash tasks.sh sample` produces
(`prepare --output out/sample`), only shortened to a few steps."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from erlangshen_data.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"


def _section_commands(title: str) -> list[list[str]]:
    """The `erlangshen-data ...` lines of the first bash block under `## title`, continuations joined."""
    section = README.read_text(encoding="utf-8").split(f"## {title}", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1).replace("\\\n", " ")
    return [shlex.split(line.split("#", 1)[0])[1:] for line in block.splitlines()
            if line.startswith("erlangshen-data ")]


@pytest.fixture(scope="module")
def sample_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("readme") / "out-sample"
    assert main(["prepare", "--output", str(out), "--overwrite"]) == 0  # what `bash tasks.sh sample` runs
    return out


def _in(tmp: Path, sample: Path, argv: list[str]) -> list[str]:
    places = {"out/sample": str(sample), "runs/sample": str(tmp / "runs-sample"), "hf/sample": str(tmp / "hf"),
              "data/erlangshen": str(tmp / "data" / "erlangshen")}
    return [places.get(arg, arg) for arg in argv]


def test_the_training_example_and_the_exports_run_on_the_sample_output(sample_output: Path, tmp_path: Path) -> None:
    train = [argv for argv in _section_commands("Training") if "out/sample" in argv]
    assert len(train) == 1 and train[0][0] == "train"
    # As written, then shortened: argparse keeps the last of a repeated option.
    assert main(_in(tmp_path, sample_output, train[0]) + ["--max-steps", "3", "--save-every", "2",
                                                          "--no-progress"]) == 0
    exports = _section_commands("Export")
    assert [argv[:2] for argv in exports] == [["export", "hf"], ["export", "megatron"]]
    for argv in exports:
        assert main(_in(tmp_path, sample_output, argv)) == 0
    assert (tmp_path / "hf" / "model.safetensors").is_file() and (tmp_path / "data" / "erlangshen.idx").is_file()
