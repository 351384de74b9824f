#!/usr/bin/env bash
# The model and pipeline benches on an NVIDIA machine, for each execution provider Vigil offers:
# cpu (the reference, measured in the same run), cuda, and tensorrt with fp16 and int8 engines.
#
#   bash bench/gpu.sh            run everything below, one report on stdout
#   BENCH_GPU_SKIP_KAFKA=1       leave out the Kafka capacity ramp (it needs Java and a broker)
#
# Prerequisites on the machine (checked first, each named when missing):
#   - an NVIDIA driver (nvidia-smi) and the CUDA 12 + cuDNN 9 runtime libraries the onnxruntime
#     GPU providers link against (and TensorRT 10 for the tensorrt rows);
#   - onnxruntime-node's GPU providers, which its install script downloads and package.json's
#     allowScripts skips: `ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install`;
#   - the project built (npm run build), ffmpeg, and the models (VIGIL_MODELS_DIR, default
#     ../shared/models), INT8 folders included if bench/int8 is to compare them.
# A provider that cannot start falls back to the CPU with a warning: the rows then say "cpu",
# and the script reports it instead of printing GPU numbers that are not.
set -uo pipefail
cd "$(dirname "$0")/.."
export VIGIL_MODELS_DIR="${VIGIL_MODELS_DIR:-../shared/models}"
export BENCH_REPEATS="${BENCH_REPEATS:-2}"

say() { printf '\n=== %s\n' "$*"; }
missing=()
command -v nvidia-smi >/dev/null || missing+=("nvidia-smi (NVIDIA driver)")
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
[ -d dist/apps ] || missing+=("dist/ (npm run build)")
ort_bin=$(ls -d node_modules/onnxruntime-node/bin/napi-v*/linux/x64 2>/dev/null | head -n 1)
[ -n "$ort_bin" ] && ls "$ort_bin"/libonnxruntime_providers_cuda.so >/dev/null 2>&1 ||
  missing+=("onnxruntime-node GPU providers (ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install)")
if [ ${#missing[@]} -gt 0 ]; then
  printf 'gpu.sh: cannot run here; missing:\n' >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 2
fi

say "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
nproc
node -p '"node " + process.version + ", onnxruntime-node " + require("onnxruntime-node/package.json").version'

# Whole pipeline on the 139 s video with audio: decode, inference alone, everything (ratios).
for provider in cpu cuda tensorrt:fp16 tensorrt:int8; do
  name=${provider%%:*}
  precision=${provider#*:}
  [ "$precision" = "$provider" ] && precision=fp16
  say "bench:pipeline provider=$provider"
  VIGIL_EXECUTION_PROVIDER=$name VIGIL_TENSORRT_PRECISION=$precision \
    VIGIL_TENSORRT_CACHE_DIR="${TMPDIR:-/tmp}/vigil-trt-cache" npm run -s bench:pipeline 2>&1 |
    grep -v '^npm warn' | tail -n 25
done

# Detector frames batched across streams against one run per frame (yolox-nano-batch, made by
# npm run quantize), per provider: on the CPU a batch buys nothing (see README), a GPU may differ.
if [ -d .cache/models-int8/yolox-nano-batch ]; then
  for provider in cpu cuda tensorrt; do
    say "bench:batch provider=$provider"
    VIGIL_EXECUTION_PROVIDER=$provider VIGIL_TENSORRT_CACHE_DIR="${TMPDIR:-/tmp}/vigil-trt-cache" \
      npm run -s bench:batch 2>&1 | grep -v '^npm warn' | tail -n 10
  done
fi

# INT8 against FP32 per model, where the INT8 bench and models are there.
if npm run -s 2>/dev/null | grep -q 'bench:int8'; then
  for provider in cpu cuda; do
    say "bench:int8 provider=$provider"
    VIGIL_EXECUTION_PROVIDER=$provider npm run -s bench:int8 2>&1 | grep -v '^npm warn' | tail -n 25
  done
fi

if [ -z "${BENCH_GPU_SKIP_KAFKA:-}" ] && command -v java >/dev/null; then
  say "Kafka capacity ramp, inference on cuda"
  VIGIL_EXECUTION_PROVIDER=cuda BENCH_MAX_STREAMS="${BENCH_MAX_STREAMS:-16}" \
    npx ts-node -r tsconfig-paths/register --transpile-only bench/kafka-capacity.bench.ts 2>&1 |
    tail -n 40
fi
