"""A classifier on the trainer's encoder, and the starting points it loads from.

The classifier is Hugging Face's `MegatronBertForSequenceClassification` in shape: the encoder
(`trainer.model.Bert`), its tanh pooler over [CLS], dropout, one linear layer. It is built from the
outside: a fresh `MegatronBertForPreTraining` gives an encoder initialised exactly as pretraining
initialises one, and its `bert` module is kept; trainer/ needs no fine-tuning hook.

Starting points, none of them downloaded:
- a `train` run directory (or its `checkpoint/` directory): the encoder of its latest checkpoint;
- a local Hugging Face MegatronBert directory (config.json + model.safetensors or pytorch_model.bin),
  such as Erlangshen's published weights, read by `trainer.export_hf`. Weights saved from
  `MegatronBertForMaskedLM` have no pooler: it starts fresh, and the run's metrics say so;
- `scratch:PRESET` (tiny, base, 1.3b): random weights, the no-pretraining baseline.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from schemas.errors import UserInputError
from schemas.manifest import VOCAB_NAME
from trainer.checkpoint import CHECKPOINT_DIR, STATE_FILE, read_checkpoint_model
from trainer.config import ModelConfig, model_preset
from trainer.export_hf import CONFIG_FILE, read_hf_config, read_hf_state_dict
from trainer.model import Bert, MegatronBertForPreTraining

SCRATCH_PREFIX = "scratch:"
_ENCODER_PREFIX = "bert."
_POOLER_PREFIX = "pooler."


@dataclass(frozen=True)
class StartingPoint:
    origin: str  # what the user named, for the metrics
    kind: str  # "checkpoint", "hf" or "scratch"
    config: ModelConfig
    encoder_state: dict[str, torch.Tensor] | None  # keys of `trainer.model.Bert`; None: random init
    directory: Path | None  # the run or Hugging Face directory, where a vocab.txt may lie

    @property
    def has_pooler(self) -> bool:
        return self.encoder_state is not None and any(k.startswith(_POOLER_PREFIX) for k in self.encoder_state)


def load_starting_point(name: str) -> StartingPoint:
    if name.startswith(SCRATCH_PREFIX) and not Path(name).exists():
        return StartingPoint(name, "scratch", model_preset(name[len(SCRATCH_PREFIX):]), None, None)
    path = Path(name)
    for checkpoint, run_dir in ((path / CHECKPOINT_DIR, path), (path, path.parent)):
        if (checkpoint / STATE_FILE).is_file():
            config, state = read_checkpoint_model(checkpoint)
            return StartingPoint(name, "checkpoint", config, encoder_weights(state, name), run_dir)
    if (path / CONFIG_FILE).is_file():
        return StartingPoint(name, "hf", read_hf_config(path), encoder_weights(read_hf_state_dict(path), name), path)
    if not path.exists():
        raise UserInputError(f"model {name} does not exist (a `train` run directory, a Hugging Face "
                             f"MegatronBert directory, or {SCRATCH_PREFIX}PRESET)")
    raise UserInputError(f"{name} holds neither {CHECKPOINT_DIR}/{STATE_FILE} (a `train` run) nor {CONFIG_FILE} "
                         "(a Hugging Face MegatronBert directory)")


def encoder_weights(state: dict[str, torch.Tensor], origin: str) -> dict[str, torch.Tensor]:
    """The encoder's tensors under `trainer.model.Bert`'s names, from a pretraining model's state
    (`bert.` keys, ours or `MegatronBertFor*`) or a bare `MegatronBertModel`'s (no prefix)."""
    if any(key.startswith(_ENCODER_PREFIX) for key in state):
        state = {k[len(_ENCODER_PREFIX):]: v for k, v in state.items() if k.startswith(_ENCODER_PREFIX)}
    else:
        state = {k: v for k, v in state.items() if k.startswith(("embeddings.", "encoder.", _POOLER_PREFIX))}
    if not state:
        raise UserInputError(f"{origin} holds no MegatronBert encoder weights")
    return state


def vocab_beside(start: StartingPoint) -> Path | None:
    """The vocab.txt a Hugging Face directory ships (Erlangshen's does), or one put in a run directory."""
    if start.directory is None:
        return None
    candidate = start.directory / VOCAB_NAME
    return candidate if candidate.is_file() else None


class SequenceClassifier(nn.Module):
    def __init__(self, config: ModelConfig, num_labels: int) -> None:
        super().__init__()
        self.config = config
        self.bert: Bert = MegatronBertForPreTraining(config).bert
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.classifier = nn.Linear(config.hidden_size, num_labels)
        nn.init.normal_(self.classifier.weight, std=config.initializer_range)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor,
                attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        _, pooled = self.bert(input_ids, token_type_ids, attention_mask)
        return self.classifier(self.dropout(pooled))


def build_classifier(start: StartingPoint, num_labels: int) -> SequenceClassifier:
    """Random weights from the global torch RNG (seed it first), then the starting point's encoder."""
    model = SequenceClassifier(start.config, num_labels)
    if start.encoder_state is not None:
        missing, unexpected = model.bert.load_state_dict(start.encoder_state, strict=False)
        missing = [key for key in missing if not key.startswith(_POOLER_PREFIX)]
        if missing or unexpected:
            raise UserInputError(f"{start.origin} does not match MegatronBert's encoder: missing {missing[:5]}, "
                                 f"unexpected {unexpected[:5]}")
    return model
