"""Typed configs: the model presets and the knobs of one training run.

Presets keep the vocabulary at 21,248 (BERT Chinese's 21,128 padded to a multiple of 128) so a
checkpoint of any size loads Erlangshen's published weights and matmuls stay tensor-core aligned.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from schemas.errors import UserInputError

PADDED_VOCAB_SIZE = 21248
# Shards whose rows an epoch mixes at a time; why 8, and what it costs in memory: trainer/data.py.
MIX_SHARDS = 8


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int = PADDED_VOCAB_SIZE
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    # Erlangshen-MegatronBert-1.3B publishes "gelu_new" (tanh approximation) and eps 1e-12.
    hidden_act: str = "gelu_new"
    layer_norm_eps: float = 1e-12
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    initializer_range: float = 0.02
    pad_token_id: int = 0

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise UserInputError(f"hidden_size {self.hidden_size} is not a multiple of num_heads {self.num_heads}")
        if self.hidden_act not in ("gelu", "gelu_new"):
            raise UserInputError(f"hidden_act must be gelu or gelu_new, got {self.hidden_act!r}")

    def to_hf_dict(self) -> dict[str, Any]:
        """The `config.json` that `MegatronBertForPreTraining.from_pretrained` reads."""
        return {
            "architectures": ["MegatronBertForPreTraining"],
            "model_type": "megatron-bert",
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "num_hidden_layers": self.num_layers,
            "num_attention_heads": self.num_heads,
            "intermediate_size": self.intermediate_size,
            "max_position_embeddings": self.max_position_embeddings,
            "type_vocab_size": self.type_vocab_size,
            "hidden_act": self.hidden_act,
            "layer_norm_eps": self.layer_norm_eps,
            "hidden_dropout_prob": self.hidden_dropout,
            "attention_probs_dropout_prob": self.attention_dropout,
            "initializer_range": self.initializer_range,
            "pad_token_id": self.pad_token_id,
            "position_embedding_type": "absolute",
        }

    @classmethod
    def from_hf_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        return cls(
            vocab_size=int(data["vocab_size"]),
            hidden_size=int(data["hidden_size"]),
            num_layers=int(data["num_hidden_layers"]),
            num_heads=int(data["num_attention_heads"]),
            intermediate_size=int(data["intermediate_size"]),
            max_position_embeddings=int(data.get("max_position_embeddings", 512)),
            type_vocab_size=int(data.get("type_vocab_size", 2)),
            hidden_act=str(data.get("hidden_act", "gelu")),
            layer_norm_eps=float(data.get("layer_norm_eps", 1e-12)),
            hidden_dropout=float(data.get("hidden_dropout_prob", 0.1)),
            attention_dropout=float(data.get("attention_probs_dropout_prob", 0.1)),
            initializer_range=float(data.get("initializer_range", 0.02)),
            pad_token_id=int(data.get("pad_token_id", 0)),
        )


MODEL_PRESETS: dict[str, ModelConfig] = {
    # Small enough for a few hundred CPU steps in a test, same code path as the big ones.
    # Dropout stays on so that tests exercise the RNG a resume must restore.
    "tiny": ModelConfig(hidden_size=64, num_layers=2, num_heads=4, intermediate_size=256),
    "base": ModelConfig(),
    # Erlangshen-MegatronBert-1.3B's published config.json: 8 heads of 256 (not 16 or 32).
    "1.3b": ModelConfig(hidden_size=2048, num_layers=24, num_heads=8, intermediate_size=8192),
}


def model_preset(name: str) -> ModelConfig:
    if name not in MODEL_PRESETS:
        raise UserInputError(f"unknown model config {name!r}; choose one of {', '.join(MODEL_PRESETS)}")
    return MODEL_PRESETS[name]


@dataclass(frozen=True)
class MaskingConfig:
    mask_rate: float = 0.15  # expected share of an example's non-special tokens that are masked
    # How much likelier an entity unit (KDM) is chosen than a word unit (WWM); 1: entities are plain
    # whole-word units. 2: `prepare` already makes every entity one segmenter word, so at 1 KDM would
    # mask exactly as WWM does; at 2 entity tokens are masked about twice as often as others and still
    # seen as context in most epochs (README "Masking" has the table).
    entity_boost: float = 2.0
    mask_token_prob: float = 0.8
    random_token_prob: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 < self.mask_rate <= 1.0:
            raise UserInputError(f"mask_rate must lie in (0, 1], got {self.mask_rate}")
        if not self.entity_boost > 0.0:
            raise UserInputError(f"entity_boost must be positive, got {self.entity_boost}")
        if min(self.mask_token_prob, self.random_token_prob) < 0 or self.mask_token_prob + self.random_token_prob > 1:
            raise UserInputError("mask_token_prob and random_token_prob must be non-negative and sum to at most 1")


@dataclass(frozen=True)
class TrainConfig:
    data_dir: str
    out_dir: str
    model: str = "tiny"
    init_from: str | None = None  # a Hugging Face MegatronBert directory (e.g. Erlangshen's weights)
    eval_shards: int = 0  # the last N shards of the manifest are held out for evaluation
    mix_shards: int = MIX_SHARDS  # rows are shuffled across this many shards at a time (1: shard by shard)
    seed: int = 1234
    micro_batch_size: int = 8
    grad_accum_steps: int = 1
    max_steps: int = 1000
    stop_after_steps: int | None = None  # end this call early (a time-boxed job); the schedule keeps max_steps
    lr: float = 1e-4
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    decay: str = "linear"  # linear | cosine
    weight_decay: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.999
    grad_clip: float = 1.0
    log_every: int = 10
    eval_every: int = 0
    eval_batches: int = 20
    save_every: int = 0
    num_workers: int = 0
    pad_to_multiple_of: int = 64
    compile: bool = False
    fsdp: bool = False
    progress: bool = True
    masking: MaskingConfig = field(default_factory=MaskingConfig)

    def __post_init__(self) -> None:
        if self.decay not in ("linear", "cosine"):
            raise UserInputError(f"decay must be linear or cosine, got {self.decay!r}")
        for name in ("micro_batch_size", "grad_accum_steps", "max_steps", "mix_shards"):
            if getattr(self, name) < 1:
                raise UserInputError(f"{name} must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_updates(self, **changes: Any) -> "TrainConfig":
        return replace(self, **changes)
