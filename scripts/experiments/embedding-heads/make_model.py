"""Copy mn04_as.onnx with two extra outputs: the pooled vector (input of classifier.2) and the
hidden vector after classifier.2 + HardSwish (input of the last Linear, classifier.5).
SHARED/models/efficientat-mn04/mn04_as.onnx -> OUT/mn04_as_embed.onnx"""
import argparse
import os
import sys

import onnx
from onnx import helper, TensorProto

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cv  # noqa: E402  (path arguments only)

a = cv.add_path_args(argparse.ArgumentParser(description=__doc__)).parse_args()
SRC = os.path.join(a.shared, "models", "efficientat-mn04", "mn04_as.onnx")
DST = os.path.join(a.out, "mn04_as_embed.onnx")
os.makedirs(a.out, exist_ok=True)

m = onnx.load(SRC)
g = m.graph
by_out = {o: n for n in g.node for o in n.output}
gemms = [n for n in g.node if n.op_type == "Gemm"][-2:]  # classifier.2, classifier.5 (earlier Gemms: SE blocks)
assert gemms[1].input[1] == "model.classifier.5.weight", gemms[1].input
pooled = gemms[0].input[0]      # view_8: global-mean-pooled conv features
hidden = gemms[1].input[0]      # hardswish_20: penultimate (after first Linear + act)
dims = {pooled: gemms[0].input[1], hidden: gemms[1].input[1]}
inits = {i.name: i for i in g.initializer}
for name, w in dims.items():
    size = inits[w].dims[1]
    g.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", size]))
    print(name, size)
onnx.checker.check_model(m)
onnx.save(m, DST)
print("saved", DST)
