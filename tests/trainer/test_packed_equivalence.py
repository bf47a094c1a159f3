"""Packing is a layout, not a model change: in fp32 each example's MLM logits, SOP logits and losses
are the same packed with others in a row as run alone, within 1e-5."""
from __future__ import annotations

import torch

from trainer.config import ModelConfig
from trainer.model import MegatronBertForPreTraining

CONFIG = ModelConfig(vocab_size=384, hidden_size=64, num_layers=3, num_heads=4, intermediate_size=160,
                     max_position_embeddings=64, hidden_dropout=0.0, attention_dropout=0.0)
CLS, SEP, PAD = 101, 102, 0
# (tokens of A, tokens of B or 0 for a single segment), packed into rows of at most 64 tokens.
ROWS = [[(9, 14), (4, 0), (12, 6)], [(20, 25)], [(3, 3), (7, 11)]]
SOP = [[1, -1, 0], [0], [1, 1]]


def _example(g: torch.Generator, a: int, b: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`[CLS] A [SEP] B [SEP]` ids and their token types."""
    ids = [CLS, *torch.randint(110, CONFIG.vocab_size, (a,), generator=g).tolist(), SEP]
    types = [0] * len(ids)
    if b:
        ids += [*torch.randint(110, CONFIG.vocab_size, (b,), generator=g).tolist(), SEP]
        types += [1] * (b + 1)
    return torch.tensor(ids), torch.tensor(types)


def _packed_and_alone():
    g = torch.Generator().manual_seed(0)
    examples = [[_example(g, a, b) for a, b in row] for row in ROWS]
    seq = max(sum(len(ids) for ids, _ in row) for row in examples) + 5  # every row has padding
    batch = {k: torch.full((len(ROWS), seq), fill, dtype=torch.long)
             for k, fill in (("input_ids", PAD), ("token_type_ids", 0), ("position_ids", 0), ("sequence_ids", -1))}
    cls_positions, spans = [], []
    for r, row in enumerate(examples):
        offset = 0
        for e, (ids, types) in enumerate(row):
            end = offset + len(ids)
            batch["input_ids"][r, offset:end] = ids
            batch["token_type_ids"][r, offset:end] = types
            batch["position_ids"][r, offset:end] = torch.arange(len(ids))
            batch["sequence_ids"][r, offset:end] = e
            cls_positions.append(r * seq + offset)
            spans.append((r, offset, end))
            offset = end
    batch["cls_positions"] = torch.tensor(cls_positions)
    alone = [{"input_ids": ids[None], "token_type_ids": types[None]} for row in examples for ids, types in row]
    return batch, spans, alone


def _model() -> MegatronBertForPreTraining:
    torch.manual_seed(3)
    return MegatronBertForPreTraining(CONFIG).eval()


def test_each_example_has_the_same_mlm_and_sop_logits_packed_as_alone() -> None:
    model = _model()
    batch, spans, alone = _packed_and_alone()
    with torch.no_grad():
        mlm, sop = model(**batch)
        assert sop.shape == (len(spans), 2)
        for e, ((r, start, end), inputs) in enumerate(zip(spans, alone, strict=True)):
            mlm_alone, sop_alone = model(**inputs)
            assert (mlm[r, start:end] - mlm_alone[0]).abs().max().item() < 1e-5, e
            assert (sop[e] - sop_alone[0]).abs().max().item() < 1e-5, e


def test_packed_losses_equal_the_losses_of_the_examples_run_alone() -> None:
    """MLM over masked tokens and SOP over examples (not rows): the single segment has no SOP loss."""
    model = _model()
    batch, spans, alone = _packed_and_alone()
    g = torch.Generator().manual_seed(5)
    sop_labels = torch.tensor([label for row in SOP for label in row])
    seq = batch["input_ids"].shape[1]
    positions, labels, mlm_sum, sop_sum = [], [], 0.0, 0.0
    with torch.no_grad():
        for e, ((r, start, end), inputs) in enumerate(zip(spans, alone, strict=True)):
            local = torch.randperm(end - start - 2, generator=g)[:3] + 1  # never [CLS]
            targets = torch.randint(110, CONFIG.vocab_size, (len(local),), generator=g)
            positions.append(r * seq + start + local)
            labels.append(targets)
            result = model(**inputs, mlm_positions=local, mlm_labels=targets, sop_labels=sop_labels[e:e + 1])
            mlm_sum += result.mlm_loss_sum.item()
            sop_sum += result.sop_loss_sum.item()
        packed = model(**batch, mlm_positions=torch.cat(positions), mlm_labels=torch.cat(labels),
                       sop_labels=sop_labels)
    masked, pairs = sum(len(p) for p in positions), int((sop_labels >= 0).sum())
    assert packed.sop_count.item() == pairs == 5
    assert abs(packed.mlm_loss_sum.item() - mlm_sum) < 1e-5 * masked
    assert abs(packed.sop_loss_sum.item() - sop_sum) < 1e-5 * pairs
    assert abs(packed.loss.item() - (mlm_sum / masked + sop_sum / pairs)) < 1e-5


def test_attention_never_crosses_an_example() -> None:
    """Changing one example's tokens leaves every other example of its row untouched."""
    model = _model()
    batch, spans, _ = _packed_and_alone()
    changed = {k: v.clone() for k, v in batch.items()}
    r, start, end = spans[1]  # the single segment in the middle of row 0
    changed["input_ids"][r, start + 1:end - 1] = 300
    with torch.no_grad():
        before, after = model(**batch)[0], model(**changed)[0]
    for e, (row, s, t) in enumerate(spans):
        if e != 1:
            assert torch.equal(before[row, s:t], after[row, s:t]), e
    assert not torch.equal(before[r, start:end], after[r, start:end])


def test_mfu_counts_each_example_at_its_own_length() -> None:
    """Two examples of 100 packed in a row do the work of two rows of 100, not of one example of 200:
    the attention between them is masked out, and padding is no work at all."""
    model = _model()
    two = model.example_flops([100, 100])
    assert two == 2 * model.example_flops([100]) == 200 * model.flops_per_token(100)
    assert two < model.example_flops([200])
