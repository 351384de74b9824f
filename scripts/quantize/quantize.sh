#!/usr/bin/env bash
# Makes the INT8 variants of the catalogued models (npm run quantize): a pinned Python venv in
# .cache/quantize/venv, calibration inputs recorded from Vigil's own pipeline, then quantize.py.
# The output (.cache/models-int8 unless VIGIL_INT8_MODELS_DIR) is cached by the checksums of
# its inputs: the FP32 models, the catalog, these scripts, the pinned requirements and the
# calibration fixtures. A re-run with nothing changed costs a few seconds.
#   VIGIL_MODELS_DIR  FP32 models (default ../shared/models)    PYTHON  python3.11 to use
set -euo pipefail
cd "$(dirname "$0")/../.."
models="${VIGIL_MODELS_DIR:-../shared/models}"
models="${models%%:*}" # the FP32 folder: the first of a path list
out="${VIGIL_INT8_MODELS_DIR:-.cache/models-int8}"
fixtures="${VIGIL_FIXTURES_DIR:-../shared/fixtures}"
work=.cache/quantize
mkdir -p "$work"

key="$({
  sha256sum scripts/quantize/* libs/models/src/catalog/*.model.json
  for name in efficientat-mn04 yolox-nano fastestdet; do sha256sum "$models/$name"/*.onnx; done
  (cd "$fixtures" && ls -l audio images video)
} | sed 's#  .*/# #' | sha256sum | cut -c1-64)"
if [ -f "$out/.inputs.sha256" ] && [ "$(cat "$out/.inputs.sha256")" = "$key" ]; then
  echo "INT8 models in $out are up to date (inputs $key)"
  exit 0
fi

if [ ! -x "$work/venv/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$work/venv"
fi
"$work/venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/quantize/requirements.txt

echo "--- calibration inputs (Vigil's pipeline on fixtures/audio, images, video)"
VIGIL_MODELS_DIR="$models" npx ts-node -r tsconfig-paths/register --transpile-only \
  scripts/quantize/calibration.dump.ts "$work/calibration"
echo "--- quantize"
# One thread: the quantizer's calibration runs are not made deterministic by more.
if ! OMP_NUM_THREADS=1 "$work/venv/bin/python" scripts/quantize/quantize.py \
  --models "$models" --calibration "$work/calibration" --out "$out" >"$work/quantize.log" 2>&1; then
  cat "$work/quantize.log"
  exit 1
fi
grep -v -e '^WARNING:root:Please consider' -e 'pre-process' "$work/quantize.log" || true
rm -rf "$work/calibration" # ~0.9 GB of float frames: not worth keeping once used
echo "$key" >"$out/.inputs.sha256"
echo "INT8 models written to $out"
