import numpy as np, onnx, onnxruntime as ort, sys, time, collections
P=np.load('eval_patches.npy'); R=np.load('ref_scores.npy')
def opcount(p):
    m=onnx.load(p); c=collections.Counter(n.op_type for n in m.graph.node)
    ins=[(i.name,[d.dim_value or d.dim_param for d in i.type.tensor_type.shape.dim]) for i in m.graph.input]
    outs=[(i.name,[d.dim_value or d.dim_param for d in i.type.tensor_type.shape.dim]) for i in m.graph.output]
    return dict(c),ins,outs,m.opset_import
def run(p, X, batch=False):
    so=ort.SessionOptions(); so.intra_op_num_threads=1; so.inter_op_num_threads=1
    s=ort.InferenceSession(p,so,providers=['CPUExecutionProvider'])
    iname=s.get_inputs()[0].name
    if batch: return s, s.run(None,{iname:X})[0]
    out=np.stack([s.run(None,{iname:x})[0].reshape(-1) for x in X]); return s,out
def metrics(O,R):
    d=np.abs(O-R); 
    cor=[np.corrcoef(O[:,k],R[:,k])[0,1] for k in range(R.shape[1]) if R[:,k].std()>0 and O[:,k].std()>0]
    top1=np.mean(O.argmax(1)==R.argmax(1))
    t5=np.mean([len(set(np.argsort(-o)[:5])&set(np.argsort(-r)[:5]))/5 for o,r in zip(O,R)])
    t5set=np.mean([set(np.argsort(-o)[:5])==set(np.argsort(-r)[:5]) for o,r in zip(O,R)])
    return dict(maxabs=float(d.max()),meanabs=float(d.mean()),frac_exact=float((d<1e-6).mean()),
                corr_min=float(np.min(cor)),corr_median=float(np.median(cor)),n_corr_classes=len(cor),
                top1_agree=float(top1),top5_overlap=float(t5),top5_set_equal=float(t5set))
def timeit(s,X,reps=3):
    iname=s.get_inputs()[0].name
    for x in X[:5]: s.run(None,{iname:x})
    t=time.perf_counter()
    for _ in range(reps):
        for x in X: s.run(None,{iname:x})
    return (time.perf_counter()-t)/(reps*len(X))*1000
if __name__=='__main__':
    for p in sys.argv[1:]:
        print('==',p); print(opcount(p))
        s,O=run(p,P); print(metrics(O,R)); print('ms/patch 1 thread',timeit(s,P))
