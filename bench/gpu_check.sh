#!/usr/bin/env bash
# One short device check of the trainer on a GPU: correctness on CUDA, then speed against the bench goals.
#
#   bash bench/gpu_check.sh               # on the GPU box; results under $OUT (default /tmp/gpucheck)
#   bash bench/gpu_check.sh --cpu-smoke   # here, tiny configs on the CPU: checks this script itself
#
# Runs inside GPU_CHECK_BUDGET_S seconds (default 340): each part has its own `timeout`, cut to what is
# left, and a part that no longer fits is skipped (and says so). Order of the parts:
#   1. env       versions, the GPU, which packages import (a missing one skips what needs it)
#   2. parity    bench/gpu_parity.py: ours vs transformers on CUDA, fp32 and bf16, small/base/1.3b
#      train     bench/gpu_train.py: `erlangshen-data train`/`export hf` on CUDA (learn, compile+resume, export)
#      pytest    tests/trainer on the GPU box (train() picks CUDA there)
#      (these three run side by side: none of them is timed against a goal)
#   3. speed     bench/train_speed.py --config 1.3b --batch 16 --compile, alone on the GPU
#   4. eager     the same without --compile, ours only, if time is left
#   5. packing   with PACKED_SHARDS and UNPACKED_SHARDS set (`prepare` and `prepare --no-pack` outputs of
#                one input, carried to the box): packed vs unpacked rows, non-pad tokens/s and MFU from
#                real tokens, 1.3b bf16 --compile (tiny on --cpu-smoke), if time is left
# Files under $OUT (8): summary.txt, parity.json, parity.log, train.json, train.log, pytest.log,
# speed.json, speed.log.
set -u
export PYTHONUNBUFFERED=1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1  # the GPU box has no network: never wait on one
cd "$(dirname "$0")/.." || exit 2
REPO=$PWD
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"  # the repo is not installed on the GPU box

SMOKE=0
if [ "${1:-}" = "--cpu-smoke" ]; then SMOKE=1; fi
if [ -z "${PYTHON:-}" ]; then
    if [ "$SMOKE" = 1 ] && [ -x "$REPO/.venv/bin/python" ]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
fi
OUT=${OUT:-/tmp/gpucheck}
mkdir -p "$OUT"
BUDGET=${GPU_CHECK_BUDGET_S:-340}
BEGIN=$SECONDS
WORK=$(mktemp -d /tmp/gpucheck.XXXXXX)
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"

note() { echo "$*" | tee -a "$SUMMARY"; }
left() { echo $((BUDGET - (SECONDS - BEGIN))); }
# limit WANTED MINIMUM: the seconds a part may take now, or nothing when fewer than MINIMUM are left.
limit() {
    local remaining
    remaining=$(($(left) - 5))
    if [ "$remaining" -lt "$2" ]; then echo ""; elif [ "$remaining" -lt "$1" ]; then echo "$remaining"; else echo "$1"; fi
}
verdict() {  # NAME RC SECONDS [LIMIT]
    local status=PASS
    if [ "$2" = 124 ] || [ "$2" = 137 ]; then status="TIMEOUT(${4:-?}s)"; elif [ "$2" != 0 ]; then status="FAIL(rc=$2)"; fi
    note "[$(date -u +%H:%M:%S)] $1: $status in ${3}s"
}

note "== gpu_check $(date -u +%FT%TZ) smoke=$SMOKE budget=${BUDGET}s repo=$REPO commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"

# ---- 1. env -------------------------------------------------------------------------------------
{
    echo "-- host: $(uname -srm), $(nproc) cores, python: $(command -v "$PYTHON")"
    if command -v nvidia-smi >/dev/null; then
        timeout 20 nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader 2>&1
    else
        echo "nvidia-smi: not found"
    fi
} | tee -a "$SUMMARY"
timeout 90 "$PYTHON" - <<'EOF' 2>&1 | tee "$WORK/env.txt" | tee -a "$SUMMARY"
import importlib, sys, warnings
warnings.filterwarnings("ignore")
print("python", sys.version.split()[0])
missing = []
# The trainer needs the first four, the parity and speed parts transformers, the test part pytest;
# the pipeline's packages only tell which tests/trainer cases will skip.
for name in ("torch", "numpy", "pyarrow", "safetensors", "transformers", "pytest", "apache_beam", "jieba",
             "megatron.core"):
    try:
        module = importlib.import_module(name)
        print(f"import {name}: {getattr(module, '__version__', 'ok')}")
    except Exception as error:  # noqa: BLE001
        print(f"import {name}: MISSING ({type(error).__name__}: {str(error)[:100]})")
        missing.append(name)
print("MISSING=" + ",".join(missing))
try:
    import torch
    print(f"cuda available: {torch.cuda.is_available()}, torch cuda {torch.version.cuda}, "
          f"device: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'}")
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        print(f"sm {props.major}.{props.minor}, {props.multi_processor_count} SMs, {props.total_memory / 2**30:.1f} GiB")
        from trainer.metrics import peak_flops
        print(f"peak bf16 FLOP/s used for MFU: {peak_flops(torch.device('cuda'))}")
except Exception as error:  # noqa: BLE001
    print(f"torch check failed: {type(error).__name__}: {error}")
EOF
MISSING=$(grep '^MISSING=' "$WORK/env.txt" | cut -d= -f2)
has() { case ",$MISSING," in *",$1,"*) return 1 ;; *) return 0 ;; esac; }
CORE_OK=1
for pkg in torch numpy pyarrow safetensors; do has "$pkg" || CORE_OK=0; done
HF_OK=0; if [ "$CORE_OK" = 1 ] && has transformers; then HF_OK=1; fi
if [ "$CORE_OK" = 0 ]; then note "the trainer's own imports are missing ($MISSING): every part needs them"; fi

# ---- 2. correctness, side by side ----------------------------------------------------------------
if [ "$SMOKE" = 1 ]; then
    PARITY_ARGS=(--configs small --device cpu)
    TRAIN_ARGS=(--smoke)
    PYTEST_ARGS=(tests/trainer/test_megatron_model.py -k "state_dict_keys or 1_3b or logits_match")
else
    PARITY_ARGS=(--configs small,base,1.3b)
    TRAIN_ARGS=()
    PYTEST_ARGS=(tests/trainer)  # the two-process test hides the GPU itself (gloo on the CPU)
fi
# Three processes share the CPU cores: each gets a third of them, since OpenMP threads that outnumber
# the cores spin against each other and can stall a CPU-bound test for a minute.
THREADS=$(( $(nproc) / 3 )); if [ "$THREADS" -lt 1 ]; then THREADS=1; fi
background() {  # NAME WANTED LOG COMMAND...: runs in the background, leaves its exit code in $WORK/NAME.rc
    local name=$1 wanted=$2 log=$3 seconds
    shift 3
    seconds=$(limit "$wanted" 30)
    if [ -z "$seconds" ]; then note "$name: SKIPPED (budget spent)"; return; fi
    echo "$seconds" >"$WORK/$name.limit"
    echo "[$(date -u +%H:%M:%S)] $name: start, limit ${seconds}s, $THREADS CPU threads: $*"
    (
        began=$SECONDS
        OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS timeout -k 10 "$seconds" "$@" >"$log" 2>&1
        echo "$? $((SECONDS - began))" >"$WORK/$name.rc"
    ) &
}
if [ "$HF_OK" = 1 ]; then
    background parity 150 "$OUT/parity.log" "$PYTHON" -m bench.gpu_parity --json "$OUT/parity.json" "${PARITY_ARGS[@]}"
else
    note "parity: SKIPPED (transformers or a trainer import missing)"
fi
if [ "$CORE_OK" = 1 ]; then
    background train 150 "$OUT/train.log" "$PYTHON" -m bench.gpu_train --json "$OUT/train.json" --work "$WORK/train" "${TRAIN_ARGS[@]}"
fi
if [ "$CORE_OK" = 1 ] && has pytest; then
    background pytest 150 "$OUT/pytest.log" "$PYTHON" -m pytest -q -p no:cacheprovider --durations=10 \
        --basetemp "$WORK/pytest" "${PYTEST_ARGS[@]}"
else
    note "pytest: SKIPPED (pytest or a trainer import missing)"
fi
wait
for name in parity train pytest; do
    if [ -f "$WORK/$name.rc" ]; then
        read -r rc took <"$WORK/$name.rc"
        verdict "$name" "$rc" "$took" "$(cat "$WORK/$name.limit")"
    fi
done
grep -E '^(PASS|FAIL)' "$OUT/parity.log" 2>/dev/null | sed 's/^/  parity: /' | tee -a "$SUMMARY"
grep -E '^(PASS|FAIL) train/' "$OUT/train.log" 2>/dev/null | cut -c1-400 | sed 's/^/  /' | tee -a "$SUMMARY"
grep -E '(passed|failed|error|skipped)' "$OUT/pytest.log" 2>/dev/null | tail -n 1 | sed 's/^/  pytest: /' | tee -a "$SUMMARY"
grep -E '^(FAILED|ERROR) ' "$OUT/pytest.log" 2>/dev/null | cut -c1-300 | sed 's/^/  pytest: /' | tee -a "$SUMMARY"

# ---- 3./4. speed, alone on the GPU ---------------------------------------------------------------
speed() {  # TAG WANTED MINIMUM ARGS...: one bench/train_speed.py run; its JSON (stdout) lands in $WORK/TAG.json
    local tag=$1 seconds began rc
    seconds=$(limit "$2" "$3")
    shift 3
    if [ -z "$seconds" ]; then note "speed/$tag: SKIPPED (budget spent: $(left)s left)"; return; fi
    echo "== speed/$tag: bench/train_speed.py $* (limit ${seconds}s)" >>"$OUT/speed.log"
    echo "[$(date -u +%H:%M:%S)] speed/$tag: start, limit ${seconds}s: $*"
    began=$SECONDS
    timeout -k 10 "$seconds" "$PYTHON" -m bench.train_speed "$@" 2>>"$OUT/speed.log" | tee "$WORK/$tag.json" >>"$OUT/speed.log"
    rc=${PIPESTATUS[0]}
    verdict "speed/$tag" "$rc" "$((SECONDS - began))" "$seconds"
    "$PYTHON" - "$WORK/$tag.json" "$OUT/speed.json" "$tag" "$*" "$rc" <<'EOF' | tee -a "$SUMMARY"
import json, sys
source, target, tag, argv, rc = sys.argv[1:]
try:
    runs = json.load(open(target))
except (OSError, ValueError):
    runs = []
try:
    result = json.load(open(source))
except (OSError, ValueError) as error:
    result = {"error": f"no JSON from the run (rc {rc}): see speed.log"}
result.update({"tag": tag, "args": argv, "rc": int(rc)})
runs.append(result)
json.dump(runs, open(target, "w"), indent=1)
ours, hf = result.get("ours") or {}, result.get("transformers_eager") or {}
def pct(x):
    return "n/a" if x is None else f"{100 * x:.1f}%"
if "packed" in result:
    packed, unpacked = result["packed"], result["unpacked"]
    print(f"  speed/{tag}: packed {packed['non_pad_tokens_per_s']:,.0f} non-pad tok/s (padding "
          f"{pct(packed['padding_share'])}, MFU {pct(packed['mfu_real_tokens'])}); unpacked "
          f"{unpacked['non_pad_tokens_per_s']:,.0f} (padding {pct(unpacked['padding_share'])}, MFU "
          f"{pct(unpacked['mfu_real_tokens'])}); {result['speedup_non_pad_tokens_per_s']:.2f}x "
          f"[goal >=1.8x: {'MET' if result['speedup_non_pad_tokens_per_s'] >= 1.8 else 'NOT MET'}] "
          f"({result.get('device')})")
    sys.exit(0)
if ours:
    line = f"  speed/{tag}: ours {ours['tokens_per_s']:,.0f} tok/s, MFU {pct(ours.get('mfu'))}"
    if hf:
        line += (f"; transformers eager {hf['tokens_per_s']:,.0f} tok/s, MFU {pct(hf.get('mfu'))}; "
                 f"speed-up {result['speedup']:.2f}x")
    goal = [] if result.get("config") != "1.3b" or ours.get("mfu") is None else [
        f"MFU goal >=50%: {'MET' if ours['mfu'] >= 0.5 else 'NOT MET'}"]
    if hf and result.get("config") == "1.3b":
        goal.append(f"speed-up goal >=1.5x: {'MET' if result['speedup'] >= 1.5 else 'NOT MET'}")
    print(line + (" [" + ", ".join(goal) + "]" if goal else "") + f" ({result.get('device')})")
else:
    print(f"  speed/{tag}: {result.get('error')}")
EOF
}
if [ "$HF_OK" = 1 ]; then
    if [ "$SMOKE" = 1 ]; then
        speed compile 120 20 --config tiny --batch 2 --steps 2 --warmup 1
        speed eager 60 20 --config tiny --batch 2 --steps 2 --warmup 1 --skip-hf
    else
        speed compile 200 90 --config 1.3b --batch 16 --compile --steps 10 --warmup 3
        speed eager 90 45 --config 1.3b --batch 16 --steps 10 --warmup 2 --skip-hf
    fi
else
    note "speed: SKIPPED (transformers or a trainer import missing)"
fi
if [ -n "${PACKED_SHARDS:-}" ] && [ -n "${UNPACKED_SHARDS:-}" ] && [ "$HF_OK" = 1 ]; then
    if [ "$SMOKE" = 1 ]; then
        speed packing 120 20 --config tiny --batch 2 --steps 2 --warmup 1 --packed "$PACKED_SHARDS" \
            --unpacked "$UNPACKED_SHARDS"
    else
        speed packing 150 60 --config 1.3b --batch 8 --compile --steps 10 --warmup 3 --packed "$PACKED_SHARDS" \
            --unpacked "$UNPACKED_SHARDS"
    fi
else
    note "speed/packing: SKIPPED (set PACKED_SHARDS and UNPACKED_SHARDS to two prepare outputs of one input)"
fi

note "== done in $((SECONDS - BEGIN))s (budget ${BUDGET}s); files: $(cd "$OUT" && ls | tr '\n' ' ')"
rm -rf "$WORK"
