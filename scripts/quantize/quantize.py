"""INT8 variants of Vigil's catalogued models, made from the FP32 files (offline only).

    python scripts/quantize/quantize.py --models DIR --calibration DIR --out DIR [NAME...]

For every catalog entry (libs/models/src/catalog/*.model.json) with an "int8" block, reads the
FP32 model from --models, quantizes it by the block's method with the calibration inputs that
scripts/quantize/calibration.dump.ts recorded from Vigil's own pipeline, and writes
OUT/<name>-int8/: the INT8 .onnx, a copy of the labels file and a model.json (the FP32 entry
with this file's sha256 and size, "precision": "int8" and the provenance: source checksum,
method, calibration set, tool versions). The verdict (ship it or not) stays in the catalog: it
is measured by `npm run bench:int8` and `vigil eval --precision int8`, not here.

Beside them, for every detector whose export fixes the batch at 1 ("input.fixedBatch": 1), it
writes OUT/<name>-batch/: the same FP32 weights with a symbolic batch axis on the input and the
output (YOLOX's graph takes its reshapes from the tensors' shapes, so only the declared shapes
fixed it), checked here to give a batch of calibration frames exactly what one run per frame
gives. `npm run bench:batch` measures what batching frames across streams buys with it.

Methods:
  static-qdq-per-channel  QDQ, int8 weights per output channel, uint8 activations, MinMax over
                          the calibration inputs; the model is first converted to opset 13
                          (per-channel QDQ needs it; YOLOX ships opset 11).
  static-qdq              the same with per-tensor weights.
  dynamic                 int8 weights, activations quantized at run time (no calibration).
Options in the block: "opTypes" (only these operator types are quantized, e.g. ["Conv"]: the
activations between them stay float), "calibrate" (minmax, the default; percentile at 99.99;
entropy), "floatTail" (true: the nodes after the last convolutions stay float, see tail_nodes).
On YOLOX-nano none of opTypes ["Conv"] or floatTail changed the score error measurably (mean
|score change| ~0.27-0.29 on FP32 detections above 0.3 over the calibration frames).
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import version_converter
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "libs" / "models" / "src" / "catalog"
METHODS = ("static-qdq-per-channel", "static-qdq", "dynamic")
CALIBRATORS = {
    "minmax": CalibrationMethod.MinMax,
    "percentile": CalibrationMethod.Percentile,
    "entropy": CalibrationMethod.Entropy,
}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Recorded(CalibrationDataReader):
    """The inputs calibration.dump.ts wrote: OUT/<model>.f32 + OUT/<model>.json."""

    def __init__(self, calibration: Path, model: str):
        self.index = json.loads((calibration / f"{model}.json").read_text())
        dims = self.index["dims"]
        data = np.fromfile(calibration / f"{model}.f32", dtype="<f4")
        self.samples = data.reshape([self.index["count"], *dims])
        self.digest = sha256(calibration / f"{model}.f32")
        self.position = 0

    def get_next(self):
        if self.position >= len(self.samples):
            return None
        sample = self.samples[self.position]
        self.position += 1
        return {self.index["inputName"]: sample}

    def rewind(self):
        self.position = 0


def tail_nodes(model: onnx.ModelProto) -> list[str]:
    """Nodes after the last convolutions: the heads that decode and merge the outputs.

    With "floatTail" they stay in float. Quantizing them puts tensors of very different ranges under one scale:
    YOLOX concatenates raw box offsets (tens) with sigmoided scores (0..1) into one output, and
    one uint8 scale over both leaves the scores a few dozen steps, which moved or lost boxes on
    the dev clips. The last convolutions themselves (the prediction layers) are included: their
    outputs are what the decoders read, and they cost little.
    """
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    reaches_conv: dict[str, bool] = {}

    def downstream_conv(node: onnx.NodeProto) -> bool:
        key = node.name or node.output[0]
        if key not in reaches_conv:
            reaches_conv[key] = False  # cycle guard; ONNX graphs are acyclic
            reaches_conv[key] = any(
                c.op_type in ("Conv", "Gemm", "MatMul") or downstream_conv(c)
                for out in node.output
                for c in consumers.get(out, [])
            )
        return reaches_conv[key]

    return [n.name for n in model.graph.node if n.name and not downstream_conv(n)]


def quantize(entry: dict, models: Path, calibration: Path, out: Path) -> dict:
    name = entry["name"]
    plan = entry["int8"]
    method = plan["method"]
    if method not in METHODS:
        raise SystemExit(f"{name}: unknown int8 method {method!r} (known: {', '.join(METHODS)})")
    source = models / name / entry["file"]
    if not source.exists():
        raise SystemExit(f"{name}: {source} not found (set --models / VIGIL_MODELS_DIR)")
    source_sha = sha256(source)
    if source_sha != entry["sha256"]:
        raise SystemExit(f"{name}: {source} sha256 {source_sha} differs from the catalog's")

    folder = out / f"{name}-int8"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    target = folder / (Path(entry["file"]).stem + ".int8.onnx")
    provenance = {
        "source": {"name": name, "file": entry["file"], "sha256": source_sha},
        "method": method,
        "tools": {p: version(p) for p in ("onnx", "onnxruntime", "numpy")},
    }
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        model = onnx.load(source)
        opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
        if opset < 13:
            model = version_converter.convert_version(model, 13)
            provenance["opsetFrom"] = opset
            opset = 13
        onnx.save(model, Path(tmp) / "converted.onnx")
        # Shape inference and constant folding first, as onnxruntime's quantizer advises.
        quant_pre_process(str(Path(tmp) / "converted.onnx"), str(prepared), skip_symbolic_shape=True)
        provenance["opset"] = opset
        if method == "dynamic":
            quantize_dynamic(str(prepared), str(target), weight_type=QuantType.QInt8)
        else:
            reader = Recorded(calibration, name)
            excluded = tail_nodes(onnx.load(prepared)) if plan.get("floatTail") else []
            op_types = plan.get("opTypes")
            calibrate = plan.get("calibrate", "minmax")
            provenance.update({"floatTail": len(excluded), "calibrate": calibrate})
            if op_types:
                provenance["opTypes"] = op_types
            quantize_static(
                str(prepared),
                str(target),
                reader,
                quant_format=QuantFormat.QDQ,
                per_channel=method == "static-qdq-per-channel",
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CALIBRATORS[calibrate],
                nodes_to_exclude=excluded,
                op_types_to_quantize=op_types,
                extra_options={"CalibPercentile": 99.99} if calibrate == "percentile" else None,
            )
            provenance["calibration"] = {
                "recordedBy": "scripts/quantize/calibration.dump.ts (Vigil's embedded pipeline)",
                "samples": reader.index["count"],
                "of": reader.index["seen"],
                "inputDims": reader.index["dims"],
                "sha256": reader.digest,
                "sources": reader.index["sources"],
            }

    manifest = {k: v for k, v in entry.items() if k != "int8"}
    manifest.update(
        {
            "name": f"{name}-int8",
            "file": target.name,
            "sha256": sha256(target),
            "sizeBytes": target.stat().st_size,
            "precision": "int8",
            "upstream": {
                **entry["upstream"],
                "note": f"INT8 ({method}) made from {name}/{entry['file']} by scripts/quantize "
                "(npm run quantize); not published upstream.",
                "pullable": False,
            },
            "quantization": provenance,
        }
    )
    shutil.copyfile(models / name / entry["labels"]["file"], folder / entry["labels"]["file"])
    (folder / "model.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{name}-int8: {target.stat().st_size / 1e6:.2f} MB ({method}), sha256 {manifest['sha256']}")
    return manifest


def dynamic_batch(entry: dict, models: Path, calibration: Path, out: Path) -> dict:
    name = entry["name"]
    source = models / name / entry["file"]
    source_sha = sha256(source)
    if source_sha != entry["sha256"]:
        raise SystemExit(f"{name}: {source} sha256 {source_sha} differs from the catalog's")
    model = onnx.load(source)
    graph = model.graph
    for value in (*graph.input, *graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    # Intermediate shapes recorded at export would pin the batch again.
    del graph.value_info[:]
    onnx.checker.check_model(model)
    folder = out / f"{name}-batch"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    target = folder / (Path(entry["file"]).stem + ".batch.onnx")
    onnx.save(model, target)

    frames = Recorded(calibration, name).samples[:4]
    one = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"])
    quiet = ort.SessionOptions()
    quiet.log_severity_level = 4  # a graph that pins the batch fails below, reported by us
    many = ort.InferenceSession(str(target), quiet, providers=["CPUExecutionProvider"])
    feed = entry["input"]["name"]
    singles = np.concatenate([one.run(None, {feed: f})[0] for f in frames])
    try:
        batched = many.run(None, {feed: np.concatenate(frames)})[0]
        worst = float(np.abs(singles - batched).max())
    except Exception as error:  # onnxruntime raises its own Fail for a shape the graph pins
        batched, worst = None, f"{type(error).__name__}: {str(error).splitlines()[0][:160]}"
    if batched is None or worst > 1e-4:
        # FastestDet folds the batch into the constant shapes of its channel shuffles: only a
        # re-export from PyTorch frees it. Say so and make no folder rather than a wrong one.
        shutil.rmtree(folder)
        print(f"{name}-batch: not made, a batch of {len(frames)} does not run as single frames ({worst})")
        return {}

    manifest = {k: v for k, v in entry.items() if k != "int8"}
    manifest["input"] = {k: v for k, v in entry["input"].items() if k != "fixedBatch"}
    manifest.update(
        {
            "name": f"{name}-batch",
            "file": target.name,
            "sha256": sha256(target),
            "sizeBytes": target.stat().st_size,
            "upstream": {
                **entry["upstream"],
                "note": f"{name}/{entry['file']} with a dynamic batch axis, made by scripts/quantize "
                "(npm run quantize); not published upstream.",
                "pullable": False,
            },
            "batchExport": {
                "source": {"name": name, "file": entry["file"], "sha256": source_sha},
                "checkedFrames": len(frames),
                "maxAbsDiff": worst,
                "tools": {p: version(p) for p in ("onnx", "onnxruntime")},
            },
        }
    )
    shutil.copyfile(models / name / entry["labels"]["file"], folder / entry["labels"]["file"])
    (folder / "model.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{name}-batch: dynamic batch axis, {len(frames)} frames batched = single runs (max diff {worst})")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=Path(os.environ.get("VIGIL_MODELS_DIR", REPO.parent / "shared" / "models")))
    parser.add_argument("--calibration", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--variant", help="JSON merged into each int8 block (for experiments)")
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    entries = [json.loads(p.read_text()) for p in sorted(CATALOG.glob("*.model.json"))]
    entries = [e for e in entries if "int8" in e and (not args.names or e["name"] in args.names)]
    if not entries:
        raise SystemExit("no catalog entry with an int8 block matches")
    args.out.mkdir(parents=True, exist_ok=True)
    for entry in entries:
        if args.variant:
            entry["int8"] = {**entry["int8"], **json.loads(args.variant)}
        quantize(entry, args.models, args.calibration, args.out)
    if not args.variant:
        for entry in entries:
            if entry.get("input", {}).get("fixedBatch") == 1:
                dynamic_batch(entry, args.models, args.calibration, args.out)


if __name__ == "__main__":
    sys.exit(main())
