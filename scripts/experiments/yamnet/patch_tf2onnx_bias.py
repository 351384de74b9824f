"""Re-insert the classifier FULLY_CONNECTED bias that tf2onnx 1.17.0 drops (diagnostic only)."""
import sys, onnx, numpy as np, tflite
from onnx import helper as oh, numpy_helper as nh
src, dst, quant = sys.argv[1], sys.argv[2], sys.argv[3] == 'q'
buf = open('yamnet.tflite', 'rb').read(); M = tflite.Model.GetRootAsModel(buf, 0); G = M.Subgraphs(0)
b = None
for i in range(G.TensorsLength()):
    t = G.Tensors(i)
    if t.Name().decode() == 'network/layer29/fc/biases':
        b = np.frombuffer(M.Buffers(t.Buffer()).DataAsNumpy().tobytes(), np.int32); sc = t.Quantization().Scale(0)
m = onnx.load(src)
mm = [n for n in m.graph.node if n.op_type == 'MatMul' and 'layer29' in n.output[0]][0]
old = mm.output[0]; mm.output[0] = old + '_nobias'
if quant:
    m.graph.initializer.extend([nh.from_array(b, 'fcb_q'), nh.from_array(np.float32(sc), 'fcb_s'), nh.from_array(np.int32(0), 'fcb_z')])
    new = [oh.make_node('DequantizeLinear', ['fcb_q', 'fcb_s', 'fcb_z'], ['fcb']), oh.make_node('Add', [old + '_nobias', 'fcb'], [old])]
else:
    m.graph.initializer.append(nh.from_array((b * np.float64(sc)).astype(np.float32), 'fcb'))
    new = [oh.make_node('Add', [old + '_nobias', 'fcb'], [old])]
idx = list(m.graph.node).index(mm)
for k, n in enumerate(new): m.graph.node.insert(idx + 1 + k, n)
onnx.checker.check_model(m); onnx.save(m, dst); print('patched', dst)
