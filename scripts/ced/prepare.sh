#!/usr/bin/env bash
# Installs CED-Tiny, the second audio companion that listens beside mn04 (npm run models:ced).
#
# CED-Tiny (Xiaomi's "Consistent Ensemble Distillation" audio transformer, AudioSet 527 classes,
# mAP 0.481; weights Apache-2.0 per the upstream model card mispeech/ced-tiny) is published as
# PyTorch and ONNX on Hugging Face, which this project's machines cannot reach. The Rust crate
# soundevents 0.5.0 on crates.io bundles an ONNX export of it (models/tiny.onnx: int8 weights,
# float activations, its own front end inside the graph: 16 kHz waveform in, probabilities out).
# The crate is pinned by its sha256 (the crates.io index's checksum) and the model by the
# catalog's (libs/models/src/catalog/ced-tiny.model.json), or nothing is installed. Its labels
# are AudioSet's class index, the same file as mn04's: copied from mn04's installed folder.
#   output folder: $VIGIL_COMPANION_MODELS_DIR, default .cache/models-companion (list it in
#   VIGIL_MODELS_DIR)     mn04's labels: the first efficientat-mn04/ in $VIGIL_MODELS_DIR
#   (default ../shared/models)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../models.lib.sh
. scripts/models.lib.sh
out="${VIGIL_COMPANION_MODELS_DIR:-.cache/models-companion}"
work=.cache/ced-build
catalog=libs/models/src/catalog/ced-tiny.model.json
crate=soundevents-0.5.0.crate
crate_url="https://static.crates.io/crates/soundevents/$crate"
crate_sha=6e6d2cefd03bfaf30a8b237d9a34e86e7a181e7a6ce078c22e06f12e50fed1a2
json() { node -p "require('./$catalog').$1"; }
model_sha="$(json sha256)"
model_file="$(json file)"
labels_file="$(json labels.file)"
labels_sha="$(json labels.sha256)"

target="$out/ced-tiny"
installed_as_catalogued "$target" "$catalog" && { echo "CED-Tiny in $target is up to date"; exit 0; }

labels=""
IFS=: read -ra dirs <<<"${VIGIL_MODELS_DIR:-../shared/models}"
for dir in "${dirs[@]}"; do
  if [ -f "$dir/efficientat-mn04/$labels_file" ]; then
    labels="$dir/efficientat-mn04/$labels_file"
    break
  fi
done
if [ -z "$labels" ]; then
  echo "AudioSet's labels ($labels_file) were not found in an efficientat-mn04/ folder of VIGIL_MODELS_DIR" >&2
  exit 1
fi
echo "$labels_sha  $labels" | sha256sum -c --quiet -

mkdir -p "$work"
if ! echo "$crate_sha  $work/$crate" | sha256sum -c --status - 2>/dev/null; then
  curl -fsSL --retry 3 -o "$work/$crate" "$crate_url"
fi
echo "$crate_sha  $work/$crate" | sha256sum -c --quiet -
tar -xzf "$work/$crate" -C "$work" soundevents-0.5.0/models/tiny.onnx \
  soundevents-0.5.0/THIRD_PARTY_NOTICES.md soundevents-0.5.0/LICENSE-APACHE
echo "$model_sha  $work/soundevents-0.5.0/models/tiny.onnx" | sha256sum -c --quiet - || {
  echo "the crate's models/tiny.onnx is not the file the catalog names" >&2
  exit 1
}
mkdir -p "$target"
# install, not cp: the labels may come from a read-only folder.
install -m 0644 "$work/soundevents-0.5.0/models/tiny.onnx" "$target/$model_file"
install -m 0644 "$labels" "$target/$labels_file"
install -m 0644 "$work/soundevents-0.5.0/THIRD_PARTY_NOTICES.md" \
  "$work/soundevents-0.5.0/LICENSE-APACHE" "$target/"
echo "CED-Tiny installed in $target"
