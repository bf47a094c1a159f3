"""Hugging Face directories in and out: Erlangshen's published weights load, our checkpoints export.

Our `state_dict` keys equal `MegatronBertForPreTraining`'s, so the only work is file formats: we
write `config.json` + `model.safetensors` (without the tied duplicates, which safetensors refuses to
store twice, as transformers does), and read either safetensors or a legacy `pytorch_model.bin`.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from schemas.errors import UserInputError
from trainer.checkpoint import CHECKPOINT_DIR, read_checkpoint_model
from trainer.config import ModelConfig
from trainer.model import MegatronBertForPreTraining

CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
PYTORCH_FILE = "pytorch_model.bin"
# Tied to `bert.embeddings.word_embeddings.weight` and `cls.predictions.bias`.
TIED_KEYS = ("cls.predictions.decoder.weight", "cls.predictions.decoder.bias")


def export_hf(model: MegatronBertForPreTraining, out_dir: str | Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / CONFIG_FILE).write_text(json.dumps(model.config.to_hf_dict(), indent=2, sort_keys=True) + "\n")
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if k not in TIED_KEYS}
    partial = out / (SAFETENSORS_FILE + ".partial")
    save_file(tensors, str(partial), metadata={"format": "pt"})
    # safetensors creates its file 0600 whatever the umask; a model directory is meant to be shared
    # like the config.json beside it, so give it the mode any new file gets here.
    os.chmod(partial, 0o666 & ~_umask())
    os.replace(partial, out / SAFETENSORS_FILE)
    return out


def _umask() -> int:
    current = os.umask(0o022)  # the only portable way to read it is to set it; restored at once
    os.umask(current)
    return current


def export_checkpoint(run_dir: str | Path, out_dir: str | Path) -> Path:
    """A training run's latest checkpoint as a Hugging Face directory."""
    config, state = read_checkpoint_model(Path(run_dir) / CHECKPOINT_DIR)
    model = MegatronBertForPreTraining(config)
    model.load_state_dict(state)
    return export_hf(model, out_dir)


def read_hf_config(path: str | Path) -> ModelConfig:
    config_file = Path(path) / CONFIG_FILE
    if not config_file.is_file():
        raise UserInputError(f"{path} holds no {CONFIG_FILE}: not a Hugging Face model directory")
    return ModelConfig.from_hf_dict(json.loads(config_file.read_text()))


def read_hf_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    directory = Path(path)
    if (directory / SAFETENSORS_FILE).is_file():
        state = load_file(str(directory / SAFETENSORS_FILE))
    elif (directory / PYTORCH_FILE).is_file():
        state = torch.load(directory / PYTORCH_FILE, map_location="cpu", weights_only=True)
    else:
        raise UserInputError(f"{path} holds neither {SAFETENSORS_FILE} nor {PYTORCH_FILE}")
    # Older transformers saved the non-persistent position_ids buffer; it is derived, not learnt.
    return {k: v for k, v in state.items() if not k.endswith("position_ids")}


def load_hf(path: str | Path, config: ModelConfig | None = None) -> MegatronBertForPreTraining:
    """Builds the model from a HF directory; `config` overrides its training-only fields (dropout)."""
    model = MegatronBertForPreTraining(config or read_hf_config(path))
    state = read_hf_state_dict(path)
    for tied, source in zip(TIED_KEYS, ("bert.embeddings.word_embeddings.weight", "cls.predictions.bias")):
        state.setdefault(tied, state[source])
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise UserInputError(f"{path} does not match MegatronBertForPreTraining: missing {missing}, "
                             f"unexpected {unexpected}")
    return model
