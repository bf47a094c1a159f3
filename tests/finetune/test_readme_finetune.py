"""The README's fine-tuning examples: one per task kind, each a valid command line; the one that starts
from the README's own `train` run runs as written (shortened), on FewCLUE from ../shared."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import torch

from erlangshen_data.cli import build_parser, main
from finetune.tasks import TASKS
from tests.conftest import BERT_VOCAB, SHARED_DATA, require_shared

README = Path(__file__).resolve().parents[2] / "README.md"


def _finetune_commands() -> list[list[str]]:
    section = README.read_text(encoding="utf-8").split("## Fine-tuning on CLUE", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1).replace("\\\n", " ")
    return [shlex.split(line.split("#", 1)[0])[1:] for line in block.splitlines()
            if line.startswith("erlangshen-data ")]


def test_the_readme_has_a_valid_example_for_each_task_kind() -> None:
    parser = build_parser(["finetune"])
    kinds = set()
    for argv in _finetune_commands():
        args = parser.parse_args(argv)
        kinds.add(TASKS[args.task].kind)
    assert kinds == {"single", "pair", "wsc"}


def test_the_readme_example_from_a_train_run_runs(tmp_path: Path) -> None:
    from trainer.checkpoint import Position, save_checkpoint
    from trainer.config import model_preset
    from trainer.model import MegatronBertForPreTraining

    # What `train --out runs/sample --model tiny` leaves: a checkpoint (untrained here; the wiring is the point).
    model = MegatronBertForPreTraining(model_preset("tiny"))
    optimizer = torch.optim.AdamW(model.parameters())
    save_checkpoint(tmp_path / "runs-sample" / "checkpoint", model, optimizer,
                    torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0), Position(), model.config)
    places = {"runs/sample": str(tmp_path / "runs-sample"), "out/sample/vocab.txt": str(require_shared(BERT_VOCAB)),
              "fewclue/eprstmt": str(require_shared(SHARED_DATA / "fewclue" / "eprstmt")),
              "ft/eprstmt": str(tmp_path / "ft")}
    [argv] = [argv for argv in _finetune_commands() if "runs/sample" in argv]
    shortened = ["--epochs", "1", "--seeds", "1", "--max-len", "32", "--batch-size", "32", "--no-progress"]
    assert main([places.get(arg, arg) for arg in argv] + shortened) == 0
    assert (tmp_path / "ft" / "seed-42" / "eprstmt_predict.json").is_file()
