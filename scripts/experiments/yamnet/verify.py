"""Compare ONNX models vs the TFLite reference (ai-edge-litert) on eval_patches.npy; time 1-thread per patch."""
import numpy as np, onnxruntime as ort, time, sys, json, os
from cmp import metrics
P = np.load('eval_patches.npy'); R = np.load('ref_scores.npy'); LM = np.load('ref_log_mel_spectrogram.npy')
def sess(p, threads=1):
    so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.inter_op_num_threads = 1
    return ort.InferenceSession(p, so, providers=['CPUExecutionProvider'])
def feed(s, x):
    i = s.get_inputs()[0]; rank = len(i.shape)
    return {i.name: x.reshape(x.shape[-rank:]) if rank < x.ndim + 1 else x[None]}
def per_patch(s, X): return np.stack([s.run(None, feed(s, x))[0].reshape(-1) for x in X])
def timing(s, X, reps=3):
    for x in X[:5]: s.run(None, feed(s, x))
    t = time.perf_counter()
    for _ in range(reps):
        for x in X: s.run(None, feed(s, x))
    return (time.perf_counter() - t) / (reps * len(X)) * 1000
def top5_tieaware(O, R):  # fraction of ONNX top-5 classes whose ref score >= ref 5th-largest score
    r = []
    for o, rr in zip(O, R):
        th = np.sort(rr)[-5]; r.append(np.mean(rr[np.argsort(-o)[:5]] >= th))
    return float(np.mean(r))
res = {}
for p in sys.argv[1:]:
    s = sess(p); headless = 'headless' in p
    X = LM if headless else P
    O = per_patch(s, X); m = metrics(O, R); m['top5_tieaware'] = top5_tieaware(O, R)
    m['ms_per_patch_1thread'] = timing(s, X); m['size_bytes'] = os.path.getsize(p)
    if len(s.get_inputs()[0].shape) >= 2 and s.get_inputs()[0].shape[0] in ('N', None) or isinstance(s.get_inputs()[0].shape[0], str):
        Ob = s.run(None, {s.get_inputs()[0].name: X})[0]; m['batch_vs_single_maxabs'] = float(np.abs(Ob - O).max())
        t = time.perf_counter(); s.run(None, {s.get_inputs()[0].name: X}); m['ms_per_patch_batch52'] = (time.perf_counter() - t) / len(X) * 1000
    res[p] = m; print(p, json.dumps(m, indent=None))
json.dump(res, open('verify_results.json', 'w'), indent=1)
