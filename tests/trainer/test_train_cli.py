"""`erlangshen-data train` and `export` through the CLI: arguments reach the trainer, errors are one line."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch
from transformers import MegatronBertForPreTraining as HfMegatronBert

from erlangshen_data.cli import main


def test_the_trainer_commands_import_neither_beam_nor_the_pipeline() -> None:
    """A GPU node runs `train` in every rank: Beam (pandas and all) would cost each seconds, and need
    not be installed there (DESIGN.md: the trainer imports schemas/ only)."""
    probe = ("import sys\nfrom erlangshen_data.cli import main\n"
             "for argv in (['train', '--help'], ['export', 'hf', '--help']):\n"
             "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'apache_beam', 'pipeline', 'knowledge', 'runners'}))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.stdout.splitlines()[-1] == "[]"
    assert "--max-steps" in result.stdout  # the help really was printed


def test_train_then_export_hf_and_megatron(shard_dir: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    assert main(["train", "--data", str(shard_dir), "--out", str(run), "--model", "tiny", "--eval-shards", "1",
                 "--micro-batch-size", "8", "--max-steps", "4", "--log-every", "2", "--no-progress"]) == 0
    assert "step 4" in capsys.readouterr().out
    assert main(["export", "hf", str(run), str(tmp_path / "hf")]) == 0
    hf = HfMegatronBert.from_pretrained(tmp_path / "hf")
    state = torch.load(run / "checkpoint" / "state.pt", weights_only=True)["model"]
    assert torch.equal(hf.state_dict()["bert.encoder.ln.weight"], state["bert.encoder.ln.weight"])
    assert main(["export", "megatron", str(shard_dir), str(tmp_path / "mg" / "text")]) == 0
    assert (tmp_path / "mg" / "text.bin").stat().st_size > 0


def test_a_directory_without_manifest_is_a_one_line_user_error(tmp_path: Path, capsys) -> None:
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("erlangshen-data train: error:") and "manifest.json" in error and "\n" not in error


def test_a_model_too_small_for_the_shards_vocabulary_is_refused(shard_dir: Path, tmp_path: Path, capsys) -> None:
    from transformers import MegatronBertConfig

    HfMegatronBert(MegatronBertConfig(vocab_size=1000, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                      intermediate_size=64)).save_pretrained(tmp_path / "small")
    assert main(["train", "--data", str(shard_dir), "--out", str(tmp_path / "o"), "--init-from",
                 str(tmp_path / "small"), "--eval-shards", "1", "--no-progress"]) == 2
    assert "vocabulary" in capsys.readouterr().err
