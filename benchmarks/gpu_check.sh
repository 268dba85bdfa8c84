#!/usr/bin/env bash
# Issue 25: the GPU check, in one go. Run from anywhere; it works in the repository root.
#
#   OUT=/path/to/results bash benchmarks/gpu_check.sh     # default OUT: ./gpu_results
#
# Steps, in order, each under its own time limit and all under one overall budget (a step that
# fails or times out does not stop the next):
#   0 env        GPUs, python/torch/triton versions; installs ./.whl/*.whl (polars: the GPU
#                image lacks it) into /tmp/site, which goes first on PYTHONPATH
#   1 gpu_tests  pytest -m gpu tests/kernels tests/models (real shapes on CUDA; the model's
#                fused path against its math path)
#   2 kernels    benchmarks/kernels.py, T = 512 ... 8192, forward and forward + backward, bf16
#   3 study      studies/bos_protection.toml on CUDA at a GPU-sized model (bf16 autocast, the
#                fused Triton kernel: kernel_backend = "triton"), then harness compare and a
#                per-run table of wall time, tokens/s and peak memory
#   4 coordcheck harness coordcheck --device cuda (muP must PASS, SP FAIL) and its GPU tests
#   5 kernel_tests  the rest of tests/kernels (small shapes, opcheck, torch.compile), which on
#                a CUDA machine run the compiled kernels: only with the budget left over
# Every step's output goes to its own log in $OUT and to stdout; $OUT/summary.txt ends with one
# PASS / FAIL / TIMEOUT / SKIP line per step. At most 8 files are written to $OUT.
#
# Settings (environment): PY (python; default python3, else /opt/torch/.venv/bin/python3),
# GPU_CHECK_BUDGET_S (overall budget, default 420), STUDY_DEVICE (default cuda; cpu with tiny
# STUDY_* sizes and TRITON_INTERPRET=1 checks the study command on a CPU machine), STUDY_LAYERS,
# STUDY_HEADS, STUDY_EMBD, STUDY_BLOCK, STUDY_BATCH, STUDY_STEPS, STUDY_SEEDS, STUDY_VAL,
# STUDY_KERNEL, STUDY_JOBS (runs at once, default 1), KERNEL_REPEAT_MS, GPU_CHECK_STEPS (which
# steps run, default all: "env gpu_tests kernels study coordcheck kernel_tests").

set -u -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
OUT=${OUT:-$REPO/gpu_results}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

PY=${PY:-python3}
if ! "$PY" -c 'import torch' >/dev/null 2>&1 && [ -x /opt/torch/.venv/bin/python3 ]; then
    PY=/opt/torch/.venv/bin/python3
fi
BUDGET_S=${GPU_CHECK_BUDGET_S:-420}
RESERVE_S=5  # kept back for the summary
STARTED=$(date +%s)

SITE=/tmp/site
export PYTHONPATH="$SITE:$REPO${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 MPLBACKEND=Agg WANDB_MODE=disabled
export TRITON_CACHE_DIR=${TRITON_CACHE_DIR:-/tmp/triton_cache}  # shared by every step

GPU_CHECK_STEPS=${GPU_CHECK_STEPS:-env gpu_tests kernels study coordcheck kernel_tests}
STUDY_JOBS=${STUDY_JOBS:-1}       # runs at once on the one GPU
STUDY_DEVICE=${STUDY_DEVICE:-cuda}
STUDY_LAYERS=${STUDY_LAYERS:-6}
STUDY_HEADS=${STUDY_HEADS:-8}
STUDY_EMBD=${STUDY_EMBD:-512}    # head size 64: the benchmark's shape
STUDY_BLOCK=${STUDY_BLOCK:-1024}
STUDY_BATCH=${STUDY_BATCH:-16}
STUDY_STEPS=${STUDY_STEPS:-100}
STUDY_SEEDS=${STUDY_SEEDS:-2}
STUDY_VAL=${STUDY_VAL:-128}
STUDY_KERNEL=${STUDY_KERNEL:-triton}  # the fused kernel, never a silent fallback
KERNEL_REPEAT_MS=${KERNEL_REPEAT_MS:-100}
RUNS=/tmp/gpu_runs

SUMMARY=()

# step NAME LIMIT_S LOG FUNCTION: run the exported bash FUNCTION under min(LIMIT_S, budget
# left) (it sees that limit as $STEP_LIMIT), tee its output into $OUT/LOG, record PASS / FAIL /
# TIMEOUT. timeout signals the whole process group, so the study's workers go with it.
step() {
    local name=$1 limit=$2 log=$3 function=$4
    local now left started rc status elapsed
    if [[ " $GPU_CHECK_STEPS " != *" $name "* ]]; then return; fi
    now=$(date +%s)
    left=$((BUDGET_S - RESERVE_S - (now - STARTED)))
    if ((left < limit)); then limit=$left; fi
    if ((limit < 10)); then
        SUMMARY+=("$(printf '%-13s %-7s %4ss  %s' "$name" SKIP 0 "no budget left")")
        echo "== $name: SKIP (no budget left)" | tee -a "$OUT/$log"
        return
    fi
    echo "== $name (limit ${limit}s, $(date -u +%FT%TZ))" | tee -a "$OUT/$log"
    started=$(date +%s)
    STEP_LIMIT=$limit timeout --kill-after=10 "$limit" bash -c "$function" 2>&1 \
        | tee -a "$OUT/$log"
    rc=${PIPESTATUS[0]}
    elapsed=$(($(date +%s) - started))
    case $rc in
        0) status=PASS ;;
        124 | 137) status=TIMEOUT ;;
        *) status=FAIL ;;
    esac
    echo "== $name: $status (rc $rc, ${elapsed}s)" | tee -a "$OUT/$log"
    SUMMARY+=("$(printf '%-13s %-7s %4ss  rc=%-3s %s' "$name" "$status" "$elapsed" "$rc" "$log")")
}

# --- 0: environment, and the wheels the GPU image lacks ------------------------------------
check_env() {
    local rc=0
    date -u
    uname -m
    nproc
    nvidia-smi -L || echo "nvidia-smi: none"
    nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv || true
    git rev-parse HEAD && git status --short | head -40
    "$PY" - <<'PYTHON'
import sys

import torch
import triton

print("python", sys.version.split()[0], sys.executable)
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
print("triton", triton.__version__)
if torch.cuda.is_available():
    print(torch.cuda.get_device_name(), torch.cuda.get_device_capability())
    print("free, total bytes", torch.cuda.mem_get_info())
PYTHON
    ((rc |= $?))
    if compgen -G ".whl/*.whl" >/dev/null; then
        ls -l .whl/
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target "$SITE" .whl/*.whl || {
            echo "pip failed: unpacking the wheels instead"
            mkdir -p "$SITE"
            for wheel in .whl/*.whl; do "$PY" -m zipfile -e "$wheel" "$SITE" || return 1; done
        }
    fi
    "$PY" - <<'PYTHON'
import importlib.metadata as metadata

import polars

print("polars", polars.__version__, "from", polars.__file__)
for name in ("numpy", "scipy", "statsmodels", "rich", "pyarrow", "matplotlib", "pytest",
             "hypothesis", "optuna", "wandb", "submitit"):
    try:
        print(name, metadata.version(name))
    except metadata.PackageNotFoundError:
        print(name, "(not installed)")
PYTHON
    ((rc |= $?))
    "$PY" -m harness --version || rc=1
    return "$rc"
}

# --- 1: the GPU-marked tests ------------------------------------------------------
gpu_tests() {
    # -v: one line per test as it ends, so a timeout still leaves the pass/fail list
    "$PY" -m pytest -m gpu tests/kernels tests/models -v -rfE --tb=short -p no:cacheprovider \
        --durations=10
}

# --- 2: the kernel benchmark ---------------------------------------------------------------
kernel_benchmark() {
    "$PY" benchmarks/kernels.py --lengths 512 1024 2048 4096 8192 --dtype bfloat16 \
        --repeat-ms "$KERNEL_REPEAT_MS" --json "$OUT/kernels.json"
}

# --- 3: the headline study on CUDA at a GPU-sized model ------------------------------------
headline_study() {
    local args=(
        studies/bos_protection.toml --runs-dir "$RUNS" --seeds "$STUDY_SEEDS"
        --set "base.model.n_layer=$STUDY_LAYERS" --set "base.model.n_head=$STUDY_HEADS"
        --set "base.model.n_embd=$STUDY_EMBD" --set "base.model.block_size=$STUDY_BLOCK"
        --set "base.model.kernel_backend=$STUDY_KERNEL"
        --set "base.data.val_sequences=$STUDY_VAL" --set base.train.eval_batch_size=32
        --set "base.train.steps=$STUDY_STEPS" --set "base.train.batch_size=$STUDY_BATCH"
        --set base.train.warmup_steps=10 --set base.train.lr=1e-3
    )
    echo "device $STUDY_DEVICE (bf16 autocast on CUDA is the trainer's default)," \
        "kernel_backend $STUDY_KERNEL"
    "$PY" -m harness validate "${args[@]}" >/tmp/gpu_check_validate.txt 2>&1
    local rc=$?
    head -n 2 /tmp/gpu_check_validate.txt
    if ((rc != 0)); then
        cat /tmp/gpu_check_validate.txt
        return "$rc"
    fi
    # The study's own limit leaves time for the comparison and the table of what finished.
    local begin study_rc limit=$((STEP_LIMIT - 25))
    ((limit < 10)) && limit=10
    begin=$(date +%s%N)
    timeout --kill-after=5 "$limit" "$PY" -m harness study "${args[@]}" \
        --device "$STUDY_DEVICE" --jobs "$STUDY_JOBS" --no-wandb --no-progress --fresh
    study_rc=$?
    echo "harness study: exit $study_rc, wall $((($(date +%s%N) - begin) / 1000000)) ms"
    "$PY" -m harness compare "$RUNS/bos_protection" --metric val_loss
    "$PY" benchmarks/study_throughput_table.py "$RUNS/bos_protection" --metric val_loss
    return "$study_rc"
}

# --- 4: the muP coordinate check on CUDA, where the command can -----------------------------
# The default check must PASS (exit 0) and SP must FAIL (exit 1), as on the CPU; then the
# GPU-marked coordcheck tests (a planted bug on CUDA, a --model check on CUDA).
coordcheck_cuda() {
    local rc=0 code
    "$PY" -m harness coordcheck --device cuda --no-wandb --format json --out /tmp/gpu_cc/mup
    code=$?
    echo "coordcheck muP on cuda: exit $code (expected 0)"
    ((code == 0)) || rc=1
    "$PY" -m harness coordcheck --device cuda --parametrization sp --no-wandb --format json \
        --out /tmp/gpu_cc/sp
    code=$?
    echo "coordcheck SP on cuda: exit $code (expected 1)"
    ((code == 1)) || rc=1
    "$PY" -m pytest -m gpu tests/coordcheck -v -rfE --tb=short -p no:cacheprovider || rc=1
    return "$rc"
}

# --- 5: the other kernel tests, compiled on CUDA, with what budget is left -------------------
kernel_tests() {
    "$PY" -m pytest -m "not gpu" tests/kernels -v -rfE --tb=short -p no:cacheprovider
}

export PY OUT SITE RUNS KERNEL_REPEAT_MS STUDY_JOBS STUDY_DEVICE STUDY_LAYERS STUDY_HEADS STUDY_EMBD \
    STUDY_BLOCK STUDY_BATCH STUDY_STEPS STUDY_SEEDS STUDY_VAL STUDY_KERNEL
export -f check_env gpu_tests kernel_benchmark headline_study coordcheck_cuda kernel_tests

step env 60 env.log check_env
step gpu_tests 120 gpu_tests.log gpu_tests
step kernels 130 kernels.log kernel_benchmark
step study 150 study.log headline_study
if [[ " $GPU_CHECK_STEPS " != *" coordcheck "* ]]; then
    :
elif "$PY" -m harness coordcheck --help 2>/dev/null | grep -q -- '--device'; then
    step coordcheck 120 coordcheck.log coordcheck_cuda
else
    echo "harness coordcheck has no --device option (it trains on the CPU): not run" \
        | tee "$OUT/coordcheck.log"
    SUMMARY+=("$(printf '%-13s %-7s %4ss  %s' coordcheck SKIP 0 "no --device option")")
fi
step kernel_tests 90 kernel_tests.log kernel_tests

{
    echo "gpu_check: $(date -u +%FT%TZ), $(($(date +%s) - STARTED)) s of a ${BUDGET_S} s budget"
    nvidia-smi -L 2>/dev/null || echo "(no nvidia-smi)"
    for line in "${SUMMARY[@]}"; do echo "$line"; done
} | tee "$OUT/summary.txt"
