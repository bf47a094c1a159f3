"""Fine-tuning end to end: the head, loss and labels are wired (a tiny model learns eprstmt), starting
points load, and `finetune` writes CLUE submissions and JSONL metrics."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from erlangshen_data.cli import main
from finetune.config import Hyperparameters
from finetune.encoding import encode_examples
from finetune.loop import fine_tune
from finetune.model import StartingPoint, build_classifier, load_starting_point, vocab_beside
from finetune.readers import DEV, TRAIN, read_task_file
from finetune.tasks import task_spec
from pipeline.tokenize import BertChineseTokenizer
from pipeline.vocab import load_vocab
from tests.conftest import SHARED_DATA, require_shared
from trainer.config import ModelConfig

FEWCLUE = SHARED_DATA / "fewclue"
# Small enough that 10 epochs of eprstmt take seconds on a CPU; the same code path as `tiny`.
SMALL = ModelConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_position_embeddings=64)


def test_a_tiny_model_beats_the_majority_class_on_eprstmt_dev(bert_vocab_path: Path) -> None:
    """From random weights, on its 160 training reviews: sentiment is in the characters, so a wired head
    learns it; shuffled labels, a head on the wrong token or a loss on the wrong targets stay at chance."""
    spec = task_spec("eprstmt")
    vocab = load_vocab(bert_vocab_path)
    tokenizer = BertChineseTokenizer(vocab)
    data = {split: encode_examples(read_task_file(require_shared(FEWCLUE / "eprstmt" / name), spec, split).examples,
                                   tokenizer, vocab.special_tokens, max_len=64)
            for split, name in ((TRAIN, "train_few_all.json"), (DEV, "dev_few_all.json"))}
    dev_labels = data[DEV].labels
    majority = np.bincount(dev_labels).max() / len(dev_labels)
    start = StartingPoint("small", "scratch", SMALL, None, None)
    result = fine_tune(start, data[TRAIN], {DEV: data[DEV]}, len(spec.labels), Hyperparameters(lr=3e-3, epochs=10),
                       seed=0, pad_id=vocab.special_tokens.pad, device=torch.device("cpu"), log=lambda record: None)
    # Two standard errors of a chance classifier's accuracy above the majority class.
    assert result.accuracy[DEV] > majority + 2 * math.sqrt(0.25 / len(dev_labels)), (result.accuracy, majority)
    assert np.bincount(result.predictions[DEV], minlength=2).min() > 0  # not one class for all


def test_finetune_writes_a_submission_per_seed_and_mean_sd_metrics(tmp_path: Path, bert_vocab_path: Path,
                                                                    capsys) -> None:
    task_dir = require_shared(FEWCLUE / "bustm")
    test_file = tmp_path / "test.json"  # CLUE's test.json has no labels; the first 300 lines, unlabelled
    records = [json.loads(line) for line in (task_dir / "test_public.json").read_text().splitlines()[:300]]
    test_file.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "label"}, ensure_ascii=False) + "\n"
                                 for r in records))
    out = tmp_path / "run"
    assert main(["finetune", "--task", "bustm", "--model", "scratch:tiny", "--vocab", str(bert_vocab_path),
                 "--data", str(task_dir), "--test", str(test_file), "--out", str(out), "--epochs", "1",
                 "--batch-size", "32", "--max-len", "32", "--lr", "1e-3", "--seeds", "2", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "bustm dev accuracy" in printed and "± " in printed and "test accuracy" not in printed

    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    kinds = [m["kind"] for m in metrics]
    assert kinds[0] == "run" and kinds[-1] == "summary" and kinds.count("seed") == 2
    data = {m["split"]: m for m in metrics if m["kind"] == "data"}
    assert (data["test"]["examples"], data["test"]["labelled"], data["dev"]["labelled"]) == (300, 0, 160)
    summary = metrics[-1]
    assert summary["seeds"] == [42, 43] and "test" not in summary and len(summary["dev"]["per_seed"]) == 2
    assert summary["dev"]["sd"] == pytest.approx(np.std(summary["dev"]["per_seed"], ddof=1))
    for seed in (42, 43):
        lines = (out / f"seed-{seed}" / "bustm_predict.json").read_text(encoding="utf-8").splitlines()
        predictions = [json.loads(line) for line in lines]
        assert [p["id"] for p in predictions] == [r["id"] for r in records]  # every line, in the file's order
        assert all(set(p) == {"id", "label"} and p["label"] in ("0", "1") for p in predictions)

    # Running again into the same directory is refused unless asked.
    argv = ["finetune", "--task", "bustm", "--model", "scratch:tiny", "--vocab", str(bert_vocab_path),
            "--data", str(task_dir), "--out", str(out), "--no-progress"]
    assert main(argv) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_a_labelled_test_file_is_scored_as_its_submission_reads(tmp_path: Path, bert_vocab_path: Path,
                                                                capsys) -> None:
    """The accuracy reported for test is the accuracy of the written labels against the file's: the label
    spelling of the submission is the one the task file uses. A broken training line is counted and skipped."""
    task_dir = require_shared(FEWCLUE / "eprstmt")
    train = tmp_path / "train.json"
    train.write_text((task_dir / "train_few_all.json").read_text() + '{"id": 160, "sentence": "没写完\n')
    out = tmp_path / "run"
    assert main(["finetune", "--task", "eprstmt", "--model", "scratch:tiny", "--vocab", str(bert_vocab_path),
                 "--train", str(train), "--test", str(task_dir / "test_public.json"),
                 "--out", str(out), "--epochs", "1", "--batch-size", "32", "--max-len", "32", "--no-progress"]) == 0
    assert "1 lines skipped (broken JSON: 1)" in capsys.readouterr().err
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train_data = next(m for m in metrics if m["kind"] == "data" and m["split"] == "train")
    assert (train_data["examples"], train_data["skipped"]) == (160, {"broken JSON": 1})
    summary = metrics[-1]
    truth = [json.loads(line)["label"] for line in (task_dir / "test_public.json").read_text().splitlines()]
    submission = out / "seed-42" / "eprstmt_predict.json"
    written = [json.loads(line)["label"] for line in submission.read_text().splitlines()]
    assert summary["test"]["mean"] == pytest.approx(np.mean(np.array(written) == np.array(truth)))


def test_bad_inputs_are_one_line_errors(tmp_path: Path, bert_vocab_path: Path, capsys) -> None:
    broken = tmp_path / "test.json"
    broken.write_text('{"id": 0, "sentence": "好"}\n{"id": 1, "sent\n')
    task_dir = require_shared(FEWCLUE / "eprstmt")
    cases = [
        (["--data", str(task_dir), "--test", str(broken), "--model", "scratch:tiny"], "test.json:2: broken JSON"),
        (["--data", str(task_dir), "--model", str(tmp_path / "absent")], "does not exist"),
        (["--data", str(tmp_path), "--model", "scratch:tiny"], "no training file"),
        (["--data", str(task_dir), "--model", "scratch:tiny", "--seeds", "0"], "argument --seeds: must lie in [1, inf), got 0"),
    ]
    for extra, message in cases:
        assert main(["finetune", "--task", "eprstmt", "--vocab", str(bert_vocab_path), "--out",
                     str(tmp_path / "out"), "--no-progress", *extra]) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith("erlangshen-data finetune: error:") and message in error and "\n" not in error


def test_hf_weights_without_a_pooler_load_and_encode_as_transformers_does(tmp_path: Path) -> None:
    """Erlangshen's published directory is a MegatronBert one; a MaskedLM save has no pooler."""
    from transformers import MegatronBertConfig, MegatronBertForMaskedLM, MegatronBertModel

    hf_config = MegatronBertConfig(**{**SMALL.to_hf_dict(), "vocab_size": 300, "hidden_dropout_prob": 0.0,
                                      "attention_probs_dropout_prob": 0.0})
    torch.manual_seed(0)
    MegatronBertForMaskedLM(hf_config).save_pretrained(tmp_path / "hf")
    (tmp_path / "hf" / "vocab.txt").write_text("[PAD]\n")
    start = load_starting_point(str(tmp_path / "hf"))
    assert (start.kind, start.has_pooler, vocab_beside(start)) == ("hf", False, tmp_path / "hf" / "vocab.txt")
    ours = build_classifier(start, num_labels=3).eval()
    reference = MegatronBertModel.from_pretrained(tmp_path / "hf").eval()
    ids = torch.randint(1, 300, (2, 12))
    types = torch.zeros_like(ids)
    types[:, 6:] = 1
    with torch.no_grad():
        hidden, _ = ours.bert(ids, types, None)
        expected = reference(input_ids=ids, token_type_ids=types).last_hidden_state
    assert torch.allclose(hidden, expected, atol=1e-5)


def test_a_train_run_directory_gives_its_checkpoint_encoder(tmp_path: Path) -> None:
    from trainer.checkpoint import Position, save_checkpoint
    from trainer.model import MegatronBertForPreTraining

    torch.manual_seed(1)
    pretrained = MegatronBertForPreTraining(SMALL)
    optimizer = torch.optim.AdamW(pretrained.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    save_checkpoint(tmp_path / "run" / "checkpoint", pretrained, optimizer, scheduler, Position(), SMALL)
    for name in (tmp_path / "run", tmp_path / "run" / "checkpoint"):
        start = load_starting_point(str(name))
        assert (start.kind, start.has_pooler, start.directory) == ("checkpoint", True, tmp_path / "run")
        classifier = build_classifier(start, num_labels=2)
        for key, value in pretrained.bert.state_dict().items():
            assert torch.equal(classifier.bert.state_dict()[key], value), key
    assert vocab_beside(start) is None
    shutil.copy(require_shared(SHARED_DATA / "vocab" / "bert-base-chinese-vocab.txt"), tmp_path / "run" / "vocab.txt")
    assert vocab_beside(start) == tmp_path / "run" / "vocab.txt"
