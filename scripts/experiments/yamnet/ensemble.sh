#!/usr/bin/env bash
# mn04 alone, YAMNet alone and the two combined, scored leave-one-source-out on the eval corpus.
# Needs convert.sh's output (yamnet.tflite in YAMNET_OUT) and a built tree for npm run calibrate.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export VIGIL_ROOT=$(cd "$HERE/../../.." && pwd)
export VIGIL_SHARED=${VIGIL_SHARED:-$VIGIL_ROOT/../shared}
OUT=${YAMNET_OUT:-$VIGIL_ROOT/.cache/yamnet}
mkdir -p "$OUT/ensemble/dump"
# mn04's window scores, from Vigil's own pipeline (its progress goes to the log, not the screen).
(cd "$VIGIL_ROOT" && VIGIL_MODELS_DIR=${VIGIL_MODELS_DIR:-$VIGIL_SHARED/models} \
  npm run -s calibrate -- --dump "$OUT/ensemble/dump" > "$OUT/ensemble/calibrate.log" 2>&1) ||
  { tail -20 "$OUT/ensemble/calibrate.log"; exit 1; }
cd "$OUT/ensemble"
[ -x venv/bin/python ] || python3 -m venv venv
venv/bin/pip install -q -r "$HERE/requirements-ensemble.txt"
OMP_NUM_THREADS=1 venv/bin/python "$HERE/ensemble_scores.py"
venv/bin/python "$HERE/ensemble_eval.py" | tee results.md
