# Decode each eval item to 16 kHz mono float, run YAMNet (the TFLite, 15600-sample waveform in) on
# patches aligned to mn04's windows (window k spans [0.5k, 0.5k+1]). Run in $YAMNET_OUT/ensemble,
# beside dump/ (npm run calibrate -- --dump). Saves yam/<i>.npz: c = centred patch scores
# [nwin,521]; m = max over 3 patches (centres c-0.25, c, c+0.25) [nwin,521].
import json, os, subprocess, time, numpy as np, sys
from ai_edge_litert.interpreter import Interpreter
d=json.load(open('dump/index.json'))
bases=[os.path.join(os.environ['VIGIL_SHARED'],'fixtures/eval/'),os.path.join(os.environ['VIGIL_ROOT'],'eval/corpus/')]
labs={}
for b in bases:
    for it in json.load(open(b+'labels.json'))['items']: labs.setdefault((it['file'],it['source']),b)
it=Interpreter('../yamnet.tflite',num_threads=1); it.allocate_tensors()
ii=it.get_input_details()[0]['index']; oi=it.get_output_details()[0]['index']
os.makedirs('yam',exist_ok=True); os.makedirs('wav',exist_ok=True)
N=15600; SR=16000
tt=0; npatch=0
def score(x,c):
    s=int(round((c)*SR))-N//2
    seg=np.zeros(N,np.float32)
    a=max(s,0); b=min(s+N,len(x))
    if b>a: seg[a-s:b-s]=x[a:b]
    it.set_tensor(ii,seg); it.invoke(); return it.get_tensor(oi)[0].copy()
for item in d['items']:
    out=f"yam/{item['i']}.npz"
    if os.path.exists(out): continue
    b=labs.get((item['file'],item['source'])) or next(b for b in bases if os.path.exists(b+item['file']))
    f=os.path.join(b,item['file'])
    raw=subprocess.run(['/usr/bin/ffmpeg','-v','error','-i',f,'-ac','1','-ar','16000','-f','f32le','-'],capture_output=True,check=True).stdout
    x=np.frombuffer(raw,np.float32)
    np.save(f"wav/{item['i']}.npy",x)
    n=len(item['atSec']); C=np.zeros((n,521),np.float32); M=np.zeros((n,521),np.float32)
    for k in range(n):
        c=0.5*k+0.5
        t0=time.process_time()
        sc=score(x,c); tt+=time.process_time()-t0; npatch+=1
        C[k]=sc; M[k]=sc
        for dc in (-0.25,0.25):
            M[k]=np.maximum(M[k],score(x,c+dc))
    np.savez(out,c=C,m=M)
print('patches(centred)',npatch,'cpu s/patch',tt/max(npatch,1))
