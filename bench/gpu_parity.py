"""Parity of our MegatronBertForPreTraining with transformers' on one device, fp32 and bf16 autocast.

    python -m bench.gpu_parity --json parity.json                        # a GPU: small, base and 1.3b
    python -m bench.gpu_parity --json p.json --configs small --device cpu  # a CPU smoke run

Same weights and inputs in both models (eval mode, so no dropout). Per config, dtype and batch kind
(padded rows: our boolean mask path; no padding: `attention_mask=None`, the path the trainer takes
for full batches, where SDPA may pick flash attention) it compares the MLM and SOP logits, the
pretraining loss and every parameter's gradient. fp32 must agree within rounding (TF32 off). In
bf16 the two models round differently, so the check is that ours strays from transformers' fp32
result no further than transformers' own bf16 run does (x2 + a small floor). On CUDA it also runs
our layers under each SDPA backend alone, since a kernel that refuses a shape (1.3b has heads of
256) silently costs speed. Packed rows (issue 19) are checked against themselves: each example's
logits packed two to a row (the block-diagonal mask, restarting positions, SOP at each [CLS]) equal
those of the example alone, fp32 within rounding and bf16 within bf16's. One JSON object per
comparison goes to --json; exit 1 if any fails.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import nullcontext

import torch
from transformers import MegatronBertConfig
from transformers import MegatronBertForPreTraining as HfMegatronBert

from trainer.config import ModelConfig, model_preset
from trainer.model import MegatronBertForPreTraining

CLS, SEP = 101, 102
SHAPES = {  # config -> (batch, seq)
    "small": (3, 20),
    "base": (4, 128),
    "1.3b": (2, 512),
}


def model_config(name: str) -> ModelConfig:
    if name == "small":  # the CPU test's shape: a quick first signal
        base = ModelConfig(vocab_size=384, hidden_size=64, num_layers=3, num_heads=4, intermediate_size=160,
                           max_position_embeddings=64)
    else:
        base = model_preset(name)
    return ModelConfig(**{**base.__dict__, "hidden_dropout": 0.0, "attention_dropout": 0.0})


def make_inputs(config: ModelConfig, batch: int, seq: int, padded: bool, device: torch.device,
                seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    low = min(672, config.vocab_size // 2)
    ids = torch.randint(low, min(config.vocab_size, 21128), (batch, seq), generator=g)
    ids[:, 0], ids[:, seq // 2], ids[:, -1] = CLS, SEP, SEP
    mask = torch.ones_like(ids)
    if padded:
        cut = seq - seq // 4
        mask[1, cut:] = 0
        ids[1, cut:] = 0
        ids[1, cut - 1] = SEP
    token_type = torch.zeros_like(ids)
    token_type[:, seq // 2 + 1:] = 1
    token_type *= mask
    maskable = (mask.bool() & (ids != CLS) & (ids != SEP)).reshape(-1)
    chosen = maskable & (torch.rand(maskable.shape, generator=g) < 0.15)
    positions = chosen.nonzero(as_tuple=True)[0]
    labels = ids.reshape(-1)[positions].clone()
    masked = ids.clone()
    masked.view(-1)[positions] = 103
    out = {"input_ids": masked, "token_type_ids": token_type, "attention_mask": mask, "mlm_positions": positions,
           "mlm_labels": labels, "sop_labels": torch.randint(0, 2, (batch,), generator=g)}
    return {k: v.to(device) for k, v in out.items()}


def run_ours(model: MegatronBertForPreTraining, inputs: dict, padded: bool, autocast) -> dict[str, torch.Tensor]:
    mask = inputs["attention_mask"] if padded else None
    model.zero_grad(set_to_none=True)
    with torch.no_grad(), autocast:
        mlm, sop = model(inputs["input_ids"], inputs["token_type_ids"], mask)
    with autocast:
        loss = model(inputs["input_ids"], inputs["token_type_ids"], mask, inputs["mlm_positions"],
                     inputs["mlm_labels"], inputs["sop_labels"]).loss
    loss.backward()
    return {"mlm": mlm.float(), "sop": sop.float(), "loss": loss.detach().float(), "grads": grads_of(model)}


def run_hf(model: HfMegatronBert, inputs: dict, autocast) -> dict[str, torch.Tensor]:
    labels = torch.full_like(inputs["input_ids"], -100)
    labels.view(-1)[inputs["mlm_positions"]] = inputs["mlm_labels"]
    kwargs = {k: inputs[k] for k in ("input_ids", "token_type_ids", "attention_mask")}
    model.zero_grad(set_to_none=True)
    with autocast:
        out = model(**kwargs, labels=labels, next_sentence_label=inputs["sop_labels"])
    out.loss.backward()
    return {"mlm": out.prediction_logits.detach().float(), "sop": out.seq_relationship_logits.detach().float(),
            "loss": out.loss.detach().float(), "grads": grads_of(model)}


def grads_of(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Takes the gradients out of the model (1.3b holds three sets at once: keep memory to that)."""
    grads = {name: p.grad.detach().float() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return grads


def distances(a: dict, b: dict, real: torch.Tensor) -> dict[str, float]:
    """Max abs logit differences on real tokens, loss difference, worst per-parameter relative grad error."""
    shared = sorted(set(a["grads"]) & set(b["grads"]))
    norms = {name: b["grads"][name].norm().item() for name in shared}
    # A floor under each denominator: some gradients are zero in exact arithmetic (the key bias: softmax
    # ignores a score shift shared by all keys), so their relative error is rounding over rounding.
    floor = 1e-2 * sum(norms.values()) / max(len(norms), 1)
    worst, worst_name = 0.0, ""
    diff_sq = ref_sq = 0.0
    for name in shared:
        ref = b["grads"][name]
        diff = (a["grads"][name] - ref).norm().item()
        diff_sq, ref_sq = diff_sq + diff**2, ref_sq + norms[name] ** 2
        rel = diff / max(norms[name], floor, 1e-30)
        if rel > worst:
            worst, worst_name = rel, name
    return {
        "mlm_max_abs": (a["mlm"][real] - b["mlm"][real]).abs().max().item(),
        "sop_max_abs": (a["sop"] - b["sop"]).abs().max().item(),
        "loss_abs": (a["loss"] - b["loss"]).abs().item(),
        "grad_max_rel": worst,
        "grad_global_rel": (diff_sq / max(ref_sq, 1e-60)) ** 0.5,
        "grad_worst_param": worst_name,
        "grad_params_compared": len(shared),
        "grad_params_unmatched": len(set(a["grads"]) ^ set(b["grads"])),
    }


def sdpa_backends(model: MegatronBertForPreTraining, inputs: dict, device: torch.device) -> dict[str, str]:
    """Which SDPA kernels take our bf16 forward + backward, unpadded (mask None) and padded."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    out = {}
    for backend in (SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.CUDNN_ATTENTION):
        for padded in (False, True):
            key = f"{backend.name.lower()}_{'padded' if padded else 'unpadded'}"
            try:
                with sdpa_kernel([backend]), torch.autocast(device.type, dtype=torch.bfloat16):
                    loss = model(inputs["input_ids"], inputs["token_type_ids"],
                                 inputs["attention_mask"] if padded else None, inputs["mlm_positions"],
                                 inputs["mlm_labels"], inputs["sop_labels"]).loss
                loss.backward()
                out[key] = "ok"
            except Exception as error:  # noqa: BLE001 - the refusal is the finding
                out[key] = f"refused: {type(error).__name__}: {str(error).splitlines()[0][:160]}"
            model.zero_grad(set_to_none=True)
    return out


def check_config(name: str, device: torch.device, dtypes: list[str]) -> list[dict]:
    config = model_config(name)
    batch, seq = SHAPES[name]
    torch.manual_seed(0)
    with device:
        ours = MegatronBertForPreTraining(config).eval()
        hf = HfMegatronBert(MegatronBertConfig(**config.to_hf_dict(), attn_implementation="eager")).eval()
    hf.load_state_dict(ours.state_dict())
    records = []
    for padded in (True, False):
        inputs = make_inputs(config, batch, seq, padded, device, seed=1 + padded)
        real = inputs["attention_mask"].bool()
        reference = run_hf(hf, inputs, nullcontext())  # transformers in fp32: the yardstick
        for dtype in dtypes:
            started = time.perf_counter()
            autocast = (torch.autocast(device.type, dtype=torch.bfloat16) if dtype == "bf16" else nullcontext())
            mine = run_ours(ours, inputs, padded, autocast)
            record = {"config": name, "batch": batch, "seq": seq, "dtype": dtype,
                      "inputs": "padded" if padded else "unpadded (mask None)",
                      "loss_ours": mine["loss"].item(), "loss_hf_fp32": reference["loss"].item()}
            if dtype == "fp32":
                d = distances(mine, reference, real)
                scale = reference["mlm"][real].abs().max().item()
                record.update({"vs_hf_fp32": d, "logit_scale": scale})
                record["ok"] = (d["mlm_max_abs"] <= 1e-4 * max(scale, 1.0) * (1 + config.num_layers / 4)
                                and d["sop_max_abs"] <= 1e-3 and d["loss_abs"] <= 1e-4 * max(reference["loss"].item(), 1)
                                and d["grad_max_rel"] <= 1e-3 and d["grad_params_unmatched"] == 0)
            else:
                theirs = run_hf(hf, inputs, autocast)
                ours_err, hf_err = distances(mine, reference, real), distances(theirs, reference, real)
                record.update({"loss_hf_bf16": theirs["loss"].item(), "ours_bf16_vs_hf_fp32": ours_err,
                               "hf_bf16_vs_hf_fp32": hf_err})
                record["ok"] = all(ours_err[k] <= 2 * hf_err[k] + floor for k, floor in
                                   (("mlm_max_abs", 2e-2), ("sop_max_abs", 2e-2), ("loss_abs", 2e-3),
                                    ("grad_max_rel", 2e-2)))
                record["ok"] = record["ok"] and ours_err["grad_params_unmatched"] == 0
            record["seconds"] = round(time.perf_counter() - started, 2)
            records.append(record)
            print(summary_line(record), flush=True)
            mine = theirs = None
        reference = None
    if device.type == "cuda":
        records.append({"config": name, "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30, "ok": True})
    del ours, hf
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    return records


def check_packed(name: str, device: torch.device, dtypes: list[str]) -> list[dict]:
    """2 x batch examples of seq/2 tokens: packed two to a row, then each alone (no mask)."""
    config = model_config(name)
    batch, seq = SHAPES[name]
    half = seq // 2
    torch.manual_seed(0)
    with device:
        ours = MegatronBertForPreTraining(config).eval()
    alone = make_inputs(config, 2 * batch, half, False, device, seed=4)
    packed = {"input_ids": alone["input_ids"].reshape(batch, seq),
              "token_type_ids": alone["token_type_ids"].reshape(batch, seq),
              "position_ids": torch.arange(half, device=device).repeat(batch, 2),
              "sequence_ids": torch.arange(2, device=device).repeat_interleave(half).repeat(batch, 1),
              "cls_positions": torch.arange(2 * batch, device=device) * half}
    records = []
    for dtype in dtypes:
        autocast = torch.autocast(device.type, dtype=torch.bfloat16) if dtype == "bf16" else nullcontext()
        with torch.no_grad(), autocast:
            mlm_alone, sop_alone = ours(alone["input_ids"], alone["token_type_ids"])
            mlm_packed, sop_packed = ours(**packed)
        mlm_diff = (mlm_packed.float().reshape(mlm_alone.shape) - mlm_alone.float()).abs().max().item()
        sop_diff = (sop_packed.float() - sop_alone.float()).abs().max().item()
        tolerance = 1e-4 * (1 + config.num_layers / 4) if dtype == "fp32" else 5e-2
        record = {"config": name, "dtype": dtype, "inputs": f"packed 2 x {half} a row vs alone",
                  "mlm_max_abs": mlm_diff, "sop_max_abs": sop_diff, "tolerance": tolerance,
                  "ok": mlm_diff <= tolerance and sop_diff <= tolerance}
        print(f"{'PASS' if record['ok'] else 'FAIL'} {name} {dtype} {record['inputs']}: |dlogit| {mlm_diff:.2e} "
              f"|dsop| {sop_diff:.2e}", flush=True)
        records.append(record)
    del ours
    return records


def check_backends(name: str, device: torch.device) -> dict:
    """A pass of its own, after every parity record is written: a kernel's refusal should stay a
    Python error, but one that broke the CUDA context would otherwise take the parity checks with it."""
    config = model_config(name)
    batch, seq = SHAPES[name]
    torch.manual_seed(0)
    with device:
        ours = MegatronBertForPreTraining(config).train()
    backends = sdpa_backends(ours, make_inputs(config, batch, seq, True, device, seed=3), device)
    print(f"sdpa {name} bf16 forward+backward: {backends}", flush=True)
    del ours
    torch.cuda.empty_cache()
    return {"config": name, "sdpa_backends_bf16_train": backends, "ok": True}


def summary_line(r: dict) -> str:
    d = r.get("vs_hf_fp32") or r.get("ours_bf16_vs_hf_fp32")
    line = (f"{'PASS' if r['ok'] else 'FAIL'} {r['config']} {r['dtype']} {r['inputs']}: "
            f"|dlogit| {d['mlm_max_abs']:.2e} |dsop| {d['sop_max_abs']:.2e} |dloss| {d['loss_abs']:.2e} "
            f"grad rel {d['grad_max_rel']:.2e}")
    if "hf_bf16_vs_hf_fp32" in r:
        h = r["hf_bf16_vs_hf_fp32"]
        line += (f" (transformers bf16 itself: {h['mlm_max_abs']:.2e} {h['sop_max_abs']:.2e} {h['loss_abs']:.2e} "
                 f"{h['grad_max_rel']:.2e})")
    return line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="small,base,1.3b")
    parser.add_argument("--dtypes", default="fp32,bf16")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", required=True, help="where the records go")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 parity means fp32 matmuls
    torch.backends.cudnn.allow_tf32 = False
    records: list[dict] = []
    failed = False
    for name in args.configs.split(","):
        try:
            records.extend(check_config(name, device, args.dtypes.split(",")))
            records.extend(check_packed(name, device, args.dtypes.split(",")))
        except Exception as error:  # noqa: BLE001 - report and go on to the next config
            import traceback

            traceback.print_exc()
            records.append({"config": name, "ok": False, "error": f"{type(error).__name__}: {error}"})
            print(f"FAIL {name}: {type(error).__name__}: {error}", flush=True)
        failed = failed or not all(r["ok"] for r in records)
        with open(args.json, "w", encoding="utf-8") as handle:  # after each config: a timeout keeps the rest
            json.dump(records, handle, indent=1)
    if device.type == "cuda" and "bf16" in args.dtypes:
        for name in args.configs.split(","):
            try:
                records.append(check_backends(name, device))
            except Exception as error:  # noqa: BLE001 - informative only
                records.append({"config": name, "ok": True, "sdpa_error": f"{type(error).__name__}: {error}"})
            with open(args.json, "w", encoding="utf-8") as handle:
                json.dump(records, handle, indent=1)
    print(f"parity: {'FAIL' if failed else 'PASS'} ({sum(r['ok'] for r in records)}/{len(records)} records ok)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
