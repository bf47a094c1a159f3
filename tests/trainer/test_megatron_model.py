"""Parity with transformers' MegatronBertForPreTraining: same weights, same inputs, same numbers."""
from __future__ import annotations

import os
import stat

import pytest
import torch
from transformers import MegatronBertConfig
from transformers import MegatronBertForPreTraining as HfMegatronBert

from trainer.config import ModelConfig, model_preset
from trainer.export_hf import export_hf, load_hf
from trainer.model import MegatronBertForPreTraining

CONFIG = ModelConfig(vocab_size=384, hidden_size=64, num_layers=3, num_heads=4, intermediate_size=160,
                     max_position_embeddings=64, hidden_dropout=0.0, attention_dropout=0.0)


def _hf_model(config: ModelConfig) -> HfMegatronBert:
    hf = HfMegatronBert(MegatronBertConfig(**config.to_hf_dict()))
    return hf.eval()


def _batch(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, CONFIG.vocab_size, (3, 20), generator=g)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 14:] = 0  # a padded row exercises the mask path
    input_ids[1, 14:] = 0
    token_type_ids = torch.zeros_like(input_ids)
    token_type_ids[:, 9:] = 1
    return {"input_ids": input_ids, "token_type_ids": token_type_ids, "attention_mask": attention_mask}


@pytest.fixture(scope="module")
def pair() -> tuple[MegatronBertForPreTraining, HfMegatronBert]:
    torch.manual_seed(0)
    ours = MegatronBertForPreTraining(CONFIG).eval()
    hf = _hf_model(CONFIG)
    hf.load_state_dict(ours.state_dict())
    return ours, hf


def test_state_dict_keys_and_shapes_equal_transformers() -> None:
    ours = MegatronBertForPreTraining(CONFIG).state_dict()
    theirs = _hf_model(CONFIG).state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in theirs.items()}


@pytest.mark.parametrize("act", ["gelu", "gelu_new"])
def test_logits_match_transformers_within_1e_4(act: str) -> None:
    config = ModelConfig(**{**CONFIG.__dict__, "hidden_act": act})
    torch.manual_seed(1)
    ours = MegatronBertForPreTraining(config).eval()
    hf = _hf_model(config)
    hf.load_state_dict(ours.state_dict())
    batch = _batch()
    with torch.no_grad():
        mlm, sop = ours(**batch)
        out = hf(**batch)
    real = batch["attention_mask"].bool()  # padded positions are not compared: no loss reads them
    assert (mlm[real] - out.prediction_logits[real]).abs().max().item() < 1e-4
    assert (sop - out.seq_relationship_logits).abs().max().item() < 1e-4


def test_pretraining_loss_equals_transformers_loss(pair: tuple[MegatronBertForPreTraining, HfMegatronBert]) -> None:
    ours, hf = pair
    batch = _batch(1)
    labels = torch.full_like(batch["input_ids"], -100)
    labels[0, 3] = 17
    labels[1, 5] = 42
    labels[2, 11] = 300
    sop = torch.tensor([0, 1, 1])
    positions = (labels.reshape(-1) != -100).nonzero(as_tuple=True)[0]
    with torch.no_grad():
        result = ours(**batch, mlm_positions=positions, mlm_labels=labels.reshape(-1)[positions],
                                       sop_labels=sop)
        expected = hf(**batch, labels=labels, next_sentence_label=sop).loss
    assert abs(result.loss.item() - expected.item()) < 1e-5


def test_sop_loss_ignores_single_segment_rows(pair: tuple[MegatronBertForPreTraining, HfMegatronBert]) -> None:
    ours, _ = pair
    batch = _batch(2)
    positions = torch.tensor([1, 25])
    targets = torch.tensor([7, 8])
    with torch.no_grad():
        all_single = ours(**batch, mlm_positions=positions, mlm_labels=targets,
                                           sop_labels=torch.tensor([-1, -1, -1]))
        one_pair = ours(**batch, mlm_positions=positions, mlm_labels=targets,
                                         sop_labels=torch.tensor([-1, 1, -1]))
    assert all_single.sop_loss.item() == 0.0 and all_single.sop_count.item() == 0
    assert one_pair.sop_count.item() == 1 and one_pair.sop_loss.item() > 0.0


def test_export_round_trips_through_transformers_from_pretrained(tmp_path, pair) -> None:
    ours, _ = pair
    export_hf(ours, tmp_path / "hf")
    loaded = HfMegatronBert.from_pretrained(tmp_path / "hf").eval()
    batch = _batch(3)
    with torch.no_grad():
        mlm, _ = ours(**batch)
        assert (loaded(**batch).prediction_logits - mlm).abs().max().item() < 1e-5
    # ... and back: a directory written by transformers loads into ours.
    loaded.save_pretrained(tmp_path / "hf2")
    again = load_hf(tmp_path / "hf2").eval()
    with torch.no_grad():
        assert torch.equal(again(**batch)[0], mlm)


def test_1_3b_preset_follows_the_published_erlangshen_shape() -> None:
    config = model_preset("1.3b")
    assert (config.hidden_size, config.num_layers, config.num_heads, config.intermediate_size) == (2048, 24, 8, 8192)
    assert config.vocab_size == 21248 and config.vocab_size % 128 == 0 and config.hidden_act == "gelu_new"
    with torch.device("meta"):
        params = MegatronBertForPreTraining(config).num_parameters()
    assert 1.2e9 < params < 1.4e9


def test_pad_row_of_the_tied_word_embeddings_is_zero_after_init() -> None:
    """The tied decoder (a Linear, initialised after the embedding) used to overwrite the zeroed row."""
    model = MegatronBertForPreTraining(CONFIG)
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    assert torch.count_nonzero(model.bert.embeddings.word_embeddings.weight[CONFIG.pad_token_id]) == 0
    assert torch.count_nonzero(_hf_model(CONFIG).bert.embeddings.word_embeddings.weight[CONFIG.pad_token_id]) == 0


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_exported_safetensors_get_the_mode_of_any_new_file(tmp_path, umask: int) -> None:
    """safetensors creates its file 0600 whatever the umask; an exported model is shared like its config."""
    previous = os.umask(umask)
    try:
        out = export_hf(MegatronBertForPreTraining(CONFIG), tmp_path / "hf")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((out / "model.safetensors").stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((out / "config.json").stat().st_mode) == 0o666 & ~umask
    assert not list(out.glob("*.partial"))
