"""Pre-LayerNorm MegatronBERT for pretraining (MLM + SOP), in plain PyTorch.

Module names, `state_dict` keys and math are those of Hugging Face `MegatronBertForPreTraining`, so
Erlangshen's published weights load with `load_state_dict` and our checkpoints export unchanged.
The difference is speed: attention goes through `F.scaled_dot_product_attention` (flash/efficient
kernels; transformers' MegatronBert is eager-only) and the MLM head runs on masked positions only.

Packed rows (shard layout 3.0: several SOP examples in one row) are a layout, not a model change:
`sequence_ids` names each token's example, attention stays inside it (a block-diagonal boolean mask),
`position_ids` and token types restart at each example and the SOP head reads each example's [CLS]
(`cls_positions`), so an example gives the same logits packed as alone
(tests/trainer/test_packed_equivalence.py). Why a dense mask through SDPA and not FlexAttention:
`block_diagonal_mask`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainer.config import ModelConfig


class Embeddings(nn.Module):
    """Word + position + token type; Megatron moved the LayerNorm into each layer, so none here."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor,
                position_ids: torch.Tensor | None = None) -> torch.Tensor:
        """`position_ids` restart at each example of a packed row; None: 0 .. S-1 (one example a row)."""
        if position_ids is None:
            position_ids = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        return self.dropout(x + self.position_embeddings(position_ids))


class SelfAttention(nn.Module):
    """Separate q/k/v projections keep HF's key names; SDPA picks the fastest kernel for the device."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.num_heads = config.num_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout_p = config.attention_dropout

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        batch, seq, hidden = x.shape
        shape = (batch, seq, self.num_heads, hidden // self.num_heads)
        q = self.query(x).view(shape).transpose(1, 2)
        k = self.key(x).view(shape).transpose(1, 2)
        v = self.value(x).view(shape).transpose(1, 2)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout_p if self.training else 0.0
        )
        return out.transpose(1, 2).reshape(batch, seq, hidden)


class DenseWithResidual(nn.Module):
    """`dense` + dropout + residual: HF's SelfOutput and Output share this shape."""

    def __init__(self, in_features: int, out_features: int, dropout: float) -> None:
        super().__init__()
        self.dense = nn.Linear(in_features, out_features)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return residual + self.dropout(self.dense(x))


class Attention(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.self = SelfAttention(config)
        self.output = DenseWithResidual(config.hidden_size, config.hidden_size, config.hidden_dropout)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        return self.output(self.self(self.ln(x), attn_mask), x)


class Intermediate(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.approximate = "tanh" if config.hidden_act == "gelu_new" else "none"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(x), approximate=self.approximate)


class Layer(nn.Module):
    """Pre-LN block: x + Attn(LN(x)), then x + FFN(LN(x))."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.attention = Attention(config)
        self.ln = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.intermediate = Intermediate(config)
        self.output = DenseWithResidual(config.intermediate_size, config.hidden_size, config.hidden_dropout)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        x = self.attention(x, attn_mask)
        return self.output(self.intermediate(self.ln(x)), x)


class Encoder(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(Layer(config) for _ in range(config.num_layers))
        self.ln = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)  # Pre-LN needs a final one

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        for layer in self.layer:
            x = layer(x, attn_mask)
        return self.ln(x)


class Pooler(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, cls_hidden: torch.Tensor) -> torch.Tensor:
        """`cls_hidden`: (N, H), the final states of the [CLS] tokens it pools."""
        return torch.tanh(self.dense(cls_hidden))


def block_diagonal_mask(sequence_ids: torch.Tensor) -> torch.Tensor:
    """(B, 1, S, S) boolean: query i may attend to key j when both belong to the same example.

    Padding carries its own id (-1 from the collator), so a padded query attends to the padding and no
    softmax row is empty (an all-False row makes SDPA return NaN, which would poison the backward).
    A dense boolean mask runs on every SDPA backend that takes a mask (CPU, CUDA's memory-efficient
    kernel) and keeps attention dropout, which FlexAttention's document masks cannot apply (it has no
    dropout, and Erlangshen's configs train with 0.1); its cost is S*S bytes per row, 256 KiB at 512.
    Not yet measured on CUDA against FlexAttention (no device was lent when this was written).
    """
    return (sequence_ids[:, None, :, None] == sequence_ids[:, None, None, :])


class Bert(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.embeddings = Embeddings(config)
        self.encoder = Encoder(config)
        self.pooler = Pooler(config)

    def forward(
        self,
        input_ids: torch.Tensor,
        token_type_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        sequence_ids: torch.Tensor | None = None,
        cls_positions: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One example a row: `attention_mask` (B, S) marks real tokens, None when nothing is padded
        (SDPA's fastest path), and the pooler reads each row's first token.

        Packed rows: `sequence_ids` (B, S) is each token's example within its row (-1 on padding) and
        replaces `attention_mask`; `cls_positions` (E,) are the flat (B*S) indices of the examples'
        [CLS], so the pooler returns (E, H), one state per example.
        """
        if sequence_ids is not None:
            attn_mask = block_diagonal_mask(sequence_ids)
        else:
            attn_mask = None if attention_mask is None else attention_mask[:, None, None, :].bool()
        hidden = self.encoder(self.embeddings(input_ids, token_type_ids, position_ids), attn_mask)
        if cls_positions is None:
            cls_hidden = hidden[:, 0]
        else:
            cls_hidden = hidden.reshape(-1, hidden.shape[-1]).index_select(0, cls_positions)
        return hidden, self.pooler(cls_hidden)


class PredictionHeadTransform(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.approximate = "tanh" if config.hidden_act == "gelu_new" else "none"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(F.gelu(self.dense(x), approximate=self.approximate))


class LMPredictionHead(nn.Module):
    """`decoder.weight` is the word embedding and `decoder.bias` is `bias`: tied as in HF."""

    def __init__(self, config: ModelConfig, word_embeddings: nn.Embedding) -> None:
        super().__init__()
        self.transform = PredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.decoder.weight = word_embeddings.weight
        self.decoder.bias = self.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(x))


class PreTrainingHeads(nn.Module):
    def __init__(self, config: ModelConfig, word_embeddings: nn.Embedding) -> None:
        super().__init__()
        self.predictions = LMPredictionHead(config, word_embeddings)
        self.seq_relationship = nn.Linear(config.hidden_size, 2)


@dataclass
class PretrainingLoss:
    """Loss and the counts behind the accuracies, kept as tensors so no step forces a device sync."""

    loss: torch.Tensor  # summed MLM and SOP cross-entropies over their normalisers: what backward takes
    mlm_loss: torch.Tensor  # mean over this batch's masked tokens
    sop_loss: torch.Tensor  # mean over this batch's two-segment examples
    mlm_loss_sum: torch.Tensor  # the sums behind them, for means over several batches
    sop_loss_sum: torch.Tensor
    mlm_correct: torch.Tensor
    mlm_count: torch.Tensor
    sop_correct: torch.Tensor
    sop_count: torch.Tensor


class MegatronBertForPreTraining(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.bert = Bert(config)
        self.cls = PreTrainingHeads(config, self.bert.embeddings.word_embeddings)
        self.apply(self._init_weights)
        # Megatron/GPT-2: scale the projections that write into the residual stream by 1/sqrt(2L),
        # which keeps a deep Pre-LN stack's residual variance from growing with depth.
        for name, parameter in self.named_parameters():
            if name.endswith(("attention.output.dense.weight", "output.dense.weight")):
                nn.init.normal_(parameter, std=config.initializer_range / math.sqrt(2 * config.num_layers))
        # The tied decoder is a Linear visited after the embedding, so its init overwrote the zeroed
        # [PAD] row; zero it again, as transformers ends up with (it ties after initialising).
        with torch.no_grad():
            self.bert.embeddings.word_embeddings.weight[config.pad_token_id].zero_()

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=std)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=std)
            if module.padding_idx is not None:
                nn.init.zeros_(module.weight[module.padding_idx])
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def forward(
        self,
        input_ids: torch.Tensor,
        token_type_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        mlm_positions: torch.Tensor | None = None,
        mlm_labels: torch.Tensor | None = None,
        sop_labels: torch.Tensor | None = None,
        mlm_normalizer: torch.Tensor | float | None = None,
        sop_normalizer: torch.Tensor | float | None = None,
        position_ids: torch.Tensor | None = None,
        sequence_ids: torch.Tensor | None = None,
        cls_positions: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor] | PretrainingLoss:
        """Without targets: full (B, S, V) MLM logits and SOP logits, (B, 2) or, packed, (E, 2) one
        per example; for parity checks and inference.

        With targets: MLM cross-entropy over masked tokens plus SOP cross-entropy over examples with
        `sop_labels` >= 0 (one label per row, or per example of packed rows: `Bert.forward` says how
        packed rows are described). `mlm_positions` index the flattened (B*S) tokens the collator
        masked: the head runs on those ~15% only (transformers materialises (B, S, 21248) logits)
        and no `nonzero` on the device forces a host sync. The loss goes through `forward` so that
        DDP's and FSDP's hooks see it.

        `loss` divides the summed cross-entropies by `mlm_normalizer` and `sop_normalizer`, by default
        this batch's masked tokens and two-segment examples (a mean). The training loop passes the
        counts of its whole step, so that a masked token weighs the same whichever micro-batch holds it.
        """
        hidden, pooled = self.bert(input_ids, token_type_ids, attention_mask, position_ids, sequence_ids,
                                   cls_positions)
        if mlm_positions is None or mlm_labels is None or sop_labels is None:
            return self.cls.predictions(hidden), self.cls.seq_relationship(pooled)
        masked_hidden = hidden.reshape(-1, hidden.shape[-1]).index_select(0, mlm_positions)
        mlm_logits = self.cls.predictions(masked_hidden).float()
        mlm_count = mlm_labels.numel()
        mlm_sum = F.cross_entropy(mlm_logits, mlm_labels, reduction="sum")

        sop_logits = self.cls.seq_relationship(pooled).float()
        sop_valid = sop_labels >= 0
        sop_count = sop_valid.sum()
        sop_sum = (F.cross_entropy(sop_logits, sop_labels.clamp(min=0), reduction="none") * sop_valid).sum()
        mlm_mean = mlm_sum / max(mlm_count, 1)
        sop_mean = sop_sum / sop_count.clamp(min=1)
        loss = (mlm_mean if mlm_normalizer is None else mlm_sum / mlm_normalizer) + (
            sop_mean if sop_normalizer is None else sop_sum / sop_normalizer)
        return PretrainingLoss(
            loss=loss,
            mlm_loss=mlm_mean.detach(),
            sop_loss=sop_mean.detach(),
            mlm_loss_sum=mlm_sum.detach(),
            sop_loss_sum=sop_sum.detach(),
            mlm_correct=(mlm_logits.argmax(-1) == mlm_labels).sum(),
            mlm_count=torch.tensor(mlm_count, device=mlm_labels.device),
            sop_correct=((sop_logits.argmax(-1) == sop_labels) & sop_valid).sum(),
            sop_count=sop_count,
        )

    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        total = sum(p.numel() for p in self.parameters())
        if exclude_embeddings:
            total -= sum(p.numel() for p in self.bert.embeddings.parameters())
        return total

    def flops_per_token(self, seq_len: int, mlm_fraction: float = 0.15) -> float:
        """Training FLOPs (forward + backward = 3x forward) per token of an example of `seq_len` tokens.

        Counts the matmuls: 24h^2 + 4sh per layer and token (projections, FFN at 4h, scores and
        values), and the MLM head (2h^2 + 2hV) on the masked fraction only, since that is
        the work done; embeddings and norms are negligible.
        """
        c = self.config
        layer = 2 * (4 * c.hidden_size**2 + 2 * c.hidden_size * c.intermediate_size) + 4 * seq_len * c.hidden_size
        head = 2 * (c.hidden_size**2 + c.hidden_size * c.vocab_size)
        return 3 * (c.num_layers * layer + mlm_fraction * head)

    def example_flops(self, example_lengths: Sequence[int] | np.ndarray) -> float:
        """The model FLOPs of training on these examples, real tokens only: what MFU counts, so that
        neither padding nor the attention a packed row masks out (between its examples) counts as work.
        An example of n tokens costs n * flops_per_token(n), linear in n per token."""
        n = np.asarray(example_lengths, dtype=np.float64)
        base = self.flops_per_token(0)
        return float(base * n.sum() + (self.flops_per_token(1) - base) * (n * n).sum())
