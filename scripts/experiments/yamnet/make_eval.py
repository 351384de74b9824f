"""Decode a deterministic selection of ~20 clips to 16 kHz mono f32, cut up to 4 patches of 15600 each."""
import subprocess, numpy as np, os, sys, json
dirs=[os.path.join(os.environ['VIGIL_SHARED'],'fixtures/eval/audio'),os.path.join(os.environ['VIGIL_ROOT'],'eval/corpus/audio')]
files=[]
for d in dirs:
    fs=sorted(f for f in os.listdir(d) if f.endswith('.ogg'))
    step=max(1,len(fs)//10)
    files += [os.path.join(d,f) for f in fs[::step][:10]]
patches=[]; meta=[]
for f in files:
    raw=subprocess.run(['ffmpeg','-v','error','-i',f,'-ac','1','-ar','16000','-f','f32le','-'],capture_output=True,check=True).stdout
    x=np.frombuffer(raw,np.float32)
    if len(x)<15600: x=np.pad(x,(0,15600-len(x)))
    n=min(4,1+(len(x)-15600)//7800)
    for k in range(n):
        patches.append(x[k*7800:k*7800+15600]); meta.append((os.path.basename(f),k))
P=np.stack(patches).astype(np.float32)
np.save('eval_patches.npy',P); json.dump(meta,open('eval_meta.json','w'))
print(len(files),'files',P.shape, 'peak',np.abs(P).max())
