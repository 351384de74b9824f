"""Hand-build YAMNet ONNX models from the TFLite flatbuffer (tflite parser + onnx.helper).

Outputs (all with a dynamic batch axis N):
  yamnet_full_qdq.onnx      waveform [N,15600] f32 -> scores [N,521]   (front end in graph, int8 QDQ backbone)
  yamnet_headless_qdq.onnx  log_mel  [N,96,64] f32 -> scores [N,521]   (int8 QDQ backbone)
  yamnet_full_float.onnx    waveform -> scores, weights dequantised, no activation fake-quant (for comparison)
The QDQ backbone mirrors the TFLite int8 graph op-for-op (Conv/DepthwiseConv with per-channel int8
weights + int32 bias, fused ReLU6, MEAN, FULLY_CONNECTED, LOGISTIC), so ORT fuses it into
QLinearConv / QGemm / QLinearGlobalAveragePool / QLinearSigmoid kernels.
"""
import sys, numpy as np, onnx, tflite
from onnx import helper as oh, numpy_helper as nh, TensorProto as TP

TFL = sys.argv[1] if len(sys.argv) > 1 else 'yamnet.tflite'
buf = open(TFL, 'rb').read()
M = tflite.Model.GetRootAsModel(buf, 0); G = M.Subgraphs(0)
OPN = {v: k for k, v in tflite.BuiltinOperator.__dict__.items() if not k.startswith('_')}
NPT = {0: np.float32, 2: np.int32, 9: np.int8, 3: np.uint8, 4: np.int64}

class T:  # tensor info
    def __init__(s, i):
        t = G.Tensors(i); s.name = t.Name().decode(); s.type = t.Type(); s.shape = list(t.ShapeAsNumpy()) if t.ShapeLength() else []
        q = t.Quantization()
        s.scale = q.ScaleAsNumpy() if (q and q.ScaleLength()) else None
        s.zp = q.ZeroPointAsNumpy() if (q and q.ZeroPointLength()) else None
        s.qdim = q.QuantizedDimension() if q else 0
        b = M.Buffers(t.Buffer()).DataAsNumpy() if t.Buffer() else 0
        s.data = np.frombuffer(b.tobytes(), NPT[t.Type()]).reshape(s.shape) if not isinstance(b, int) else None

ops = []
for i in range(G.OperatorsLength()):
    op = G.Operators(i); oc = M.OperatorCodes(op.OpcodeIndex())
    code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
    ops.append((OPN[code], [T(j) for j in op.InputsAsNumpy() if j >= 0], [T(j) for j in op.OutputsAsNumpy()], op))

def const_by_name(n):
    for i in range(G.TensorsLength()):
        t = T(i)
        if t.name == n: return t
    raise KeyError(n)

def build(variant, headless):
    qdq = variant == 'qdq'
    nodes, inits = [], []
    cnt = [0]
    def nm(p): cnt[0] += 1; return f'{p}_{cnt[0]}'
    def init(arr, p):
        n = nm(p); inits.append(nh.from_array(np.asarray(arr), n)); return n
    def node(op, ins, p, **kw):
        o = nm(p); nodes.append(oh.make_node(op, ins, [o], **kw)); return o
    def qparams(t):
        return init(np.float32(t.scale[0]), 'scale'), init(np.int8(t.zp[0]), 'zp')
    def fakequant(x, t):  # Q -> DQ with tensor t's (per-tensor) params; returns (float, int8)
        if not qdq: return x, None
        s, z = qparams(t); q = node('QuantizeLinear', [x, s, z], 'q'); return node('DequantizeLinear', [q, s, z], 'dq'), q
    def weight(t, onnx_w, axis):  # onnx_w: int8 array already in ONNX layout, per-channel along axis
        sc = t.scale.astype(np.float32); zp = np.zeros(len(sc), np.int8)
        if not qdq:
            shp = [1] * onnx_w.ndim; shp[axis] = -1
            return init((onnx_w.astype(np.float32) * sc.reshape(shp)).astype(np.float32), 'w')
        return node('DequantizeLinear', [init(onnx_w, 'wq'), init(sc, 'ws'), init(zp, 'wz')], 'w', axis=axis)
    def bias(t, in_scale, w_scale):
        bsc = (np.float32(in_scale) * w_scale.astype(np.float32)).astype(np.float32)
        if not qdq: return init((t.data.astype(np.float64) * bsc).astype(np.float32), 'b')
        return node('DequantizeLinear', [init(t.data.astype(np.int32), 'bq'), init(bsc, 'bs'), init(np.zeros(len(bsc), np.int32), 'bz')], 'b', axis=0)

    # ---------------- front end ----------------
    if headless:
        graph_in = oh.make_tensor_value_info('log_mel', TP.FLOAT, ['N', 96, 64]); x = 'log_mel'
    else:
        graph_in = oh.make_tensor_value_info('waveform', TP.FLOAT, ['N', 15600])
        win = const_by_name('stft/hann_window/sub_2').data.astype(np.float64)   # periodic Hann, 400
        melW = const_by_name('mel_spectrogram').data.T.astype(np.float32)       # [257,64]
        off = const_by_name('add').data.astype(np.float32)                        # 0.001 x64
        idx = (np.arange(96)[:, None] * 160 + np.arange(400)[None, :]).astype(np.int64)
        fr = node('Gather', ['waveform', init(idx, 'frame_idx')], 'frames', axis=1)   # [N,96,400]
        k = np.arange(257); n = np.arange(400)
        ang = 2 * np.pi * np.outer(n, k) / 512.0                                   # 512-pt DFT of zero-padded frame
        basis = np.concatenate([win[:, None] * np.cos(ang), -win[:, None] * np.sin(ang)], 1).astype(np.float32)  # window folded in
        ri = node('MatMul', [fr, init(basis, 'dft')], 'reim')                      # [N,96,514]
        sq = node('Mul', [ri, ri], 'sq')
        re2, im2 = nm('re2'), nm('im2')
        nodes.append(oh.make_node('Split', [sq, init(np.array([257, 257], np.int64), 'spl')], [re2, im2], axis=2))
        mag = node('Sqrt', [node('Add', [re2, im2], 'pw')], 'mag')                  # magnitude spectrogram
        mel = node('Add', [node('MatMul', [mag, init(melW, 'melW')], 'mel'), init(off, 'logoff')], 'melo')
        x = node('Log', [mel], 'logmel')                                            # [N,96,64]
    # --------------- backbone ------------------
    cur = None; cur_t = None
    for name, ins, outs, op in ops:
        if name == 'QUANTIZE':
            x4 = node('Unsqueeze', [x, init(np.array([1], np.int64), 'ax')], 'nchw')  # [N,1,96,64]
            cur, _ = fakequant(x4, outs[0]); cur_t = outs[0]
        elif name in ('CONV_2D', 'DEPTHWISE_CONV_2D'):
            xt, wt, bt = ins; ot = outs[0]
            if name == 'CONV_2D':
                o = tflite.Conv2DOptions(); o.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
                w = wt.data.transpose(0, 3, 1, 2); group = 1                        # OHWI -> OIHW
            else:
                o = tflite.DepthwiseConv2DOptions(); o.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
                assert o.DepthMultiplier() in (0, 1)
                w = wt.data.transpose(3, 0, 1, 2); group = w.shape[0]               # 1HWC -> C1HW
            sh, sw = o.StrideH(), o.StrideW(); kh, kw = w.shape[2:]
            ih, iw = xt.shape[1:3]
            if o.Padding() == tflite.Padding.SAME:
                def p(i, k, s): tot = max((-(-i // s) - 1) * s + k - i, 0); return tot // 2, tot - tot // 2
                (pt, pb), (pl, pr) = p(ih, kh, sh), p(iw, kw, sw)
            else: pt = pb = pl = pr = 0
            act = o.FusedActivationFunction()
            y = node('Conv', [cur, weight(wt, w, 0), bias(bt, xt.scale[0], wt.scale)], 'conv',
                     strides=[sh, sw], pads=[pt, pl, pb, pr], group=group, kernel_shape=[kh, kw])
            if act == tflite.ActivationFunctionType.RELU6:
                y = node('Clip', [y, init(np.float32(0), 'lo'), init(np.float32(6), 'hi')], 'relu6')
            else: assert act == 0, act
            cur, _ = fakequant(y, ot); cur_t = ot
        elif name == 'MEAN':
            y = node('GlobalAveragePool', [cur], 'gap'); ot = outs[0]
            if qdq:
                s, z = qparams(ot); q = node('QuantizeLinear', [y, s, z], 'q')
                cur = node('DequantizeLinear', [node('Flatten', [q], 'flat', axis=1), s, z], 'dq')
            else: cur = node('Flatten', [y], 'flat', axis=1)
            cur_t = ot
        elif name == 'FULLY_CONNECTED' and ins[0].type == 9:
            xt, wt, bt = ins; ot = outs[0]
            y = node('Gemm', [cur, weight(wt, wt.data, 0), bias(bt, xt.scale[0], np.repeat(wt.scale, wt.shape[0]) if len(wt.scale) == 1 else wt.scale)], 'fc', transB=1)
            cur, _ = fakequant(y, ot)
        elif name == 'LOGISTIC':
            y = node('Sigmoid', [cur], 'sig'); cur, _ = fakequant(y, outs[0])
    nodes.append(oh.make_node('Identity', [cur], ['scores']))
    g = oh.make_graph(nodes, 'yamnet_' + variant, [graph_in], [oh.make_tensor_value_info('scores', TP.FLOAT, ['N', 521])], inits)
    m = oh.make_model(g, opset_imports=[oh.make_opsetid('', 17)], producer_name='yamconv/build_onnx.py')
    m.ir_version = 8   # loadable by older runtimes too (onnxruntime >= 1.14)
    onnx.checker.check_model(m, full_check=True)
    return m

for variant, headless, out in [('qdq', False, 'yamnet_full_qdq.onnx'), ('qdq', True, 'yamnet_headless_qdq.onnx'),
                               ('float', False, 'yamnet_full_float.onnx'), ('float', True, 'yamnet_headless_float.onnx')]:
    onnx.save(build(variant, headless), out); print('wrote', out)
