"""The trainer on real `prepare` output: shards of the embedded sample corpus, not synthetic rows."""
from __future__ import annotations

from pathlib import Path

import pytest

from trainer.config import TrainConfig
from trainer.train import train

pipeline_prepare = pytest.importorskip("pipeline.beam.prepare", reason="the pipeline package is not importable")


@pytest.fixture(scope="module")
def sample_shards(tmp_path_factory) -> Path:
    from pipeline.config import PrepareConfig, SopConfig
    from runners.local import local_options

    output = tmp_path_factory.mktemp("sample_shards")
    corpus = Path(__file__).resolve().parents[2] / "pipeline" / "sample_corpus" / "*.json"
    config = PrepareConfig(sop=SopConfig(max_seq_len=128))  # a shard per input file; two are held out
    pipeline_prepare.run_prepare(pipeline_prepare.PrepareRequest([str(corpus)], str(output), config), local_options(1))
    return output


def test_tiny_model_loss_falls_clearly_on_shards_of_the_sample_corpus(sample_shards: Path, tmp_path: Path) -> None:
    # The last shard is the one the malformed input file yields (5 rows), too few for one micro-batch.
    config = TrainConfig(data_dir=str(sample_shards), out_dir=str(tmp_path), model="tiny", eval_shards=2,
                         micro_batch_size=16, max_steps=150, lr=3e-3, warmup_steps=15, decay="cosine",
                         log_every=10, eval_every=150, eval_batches=4, progress=False, pad_to_multiple_of=8)
    records = train(config)  # the training records, one per log_every steps
    first, last = records[0], records[-1]
    assert first["mlm_loss"] > 8.0  # about ln(vocab): nothing learnt yet
    assert last["mlm_loss"] < first["mlm_loss"] - 2.5  # measured: 9.79 -> 6.57 in 150 steps
