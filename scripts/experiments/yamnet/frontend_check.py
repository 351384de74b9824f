import numpy as np, tflite
buf=open('yamnet.tflite','rb').read()
m=tflite.Model.GetRootAsModel(buf,0); g=m.Subgraphs(0)
NP={0:np.float32,2:np.int32,9:np.int8,3:np.uint8,4:np.int64}
def const(name):
    for i in range(g.TensorsLength()):
        t=g.Tensors(i)
        if t.Name().decode()==name:
            b=m.Buffers(t.Buffer()).DataAsNumpy()
            return np.frombuffer(b.tobytes(),NP[t.Type()]).reshape(t.ShapeAsNumpy())
win=const('stft/hann_window/sub_2'); mel=const('mel_spectrogram'); bias=const('add')
idx=const('stft/frame/add_1'); pads=const('stft/rfft/Pad/paddings')
print('gather idx first rows',idx[:3].tolist(),'last',idx[-1].tolist()); print('pads',pads.tolist())
print('bias unique',np.unique(bias))
N=400; per=(0.5-0.5*np.cos(2*np.pi*np.arange(N)/N)); sym=(0.5-0.5*np.cos(2*np.pi*np.arange(N)/(N-1)))
print('hann periodic maxdiff',np.abs(win-per).max(),'symmetric maxdiff',np.abs(win-sym).max())
# mel matrix: TF linear_to_mel_weight_matrix (HTK), 64 bands, 125-7500 Hz, 257 bins, sr 16000
def tf_mel(num_mel=64,nbins=257,sr=16000,lo=125.0,hi=7500.0):
    hz2mel=lambda f:1127.0*np.log(1.0+f/700.0)
    nyq=sr/2.0
    lin=np.linspace(0.0,nyq,nbins)[1:]
    spec_mel=hz2mel(lin)[:,None]
    edges=np.linspace(hz2mel(lo),hz2mel(hi),num_mel+2)
    lower,center,upper=edges[:-2],edges[1:-1],edges[2:]
    ls=(spec_mel-lower)/(center-lower); us=(upper-spec_mel)/(upper-center)
    W=np.maximum(0,np.minimum(ls,us))
    return np.pad(W,[[1,0],[0,0]])   # [257,64]
W=tf_mel()
print('mel stored shape',mel.shape,'(FC weights = W^T)','maxdiff vs TF HTK 125-7500:',np.abs(mel-W.T).max(),'max weight',mel.max(),'DC col max',mel[:,0].max())
np.save('frontend_consts.npz.npy',{'win':win,'mel':mel,'bias':bias})
# numeric re-implementation vs interpreter tensors
P=np.load('eval_patches.npy')
ref_mag=np.load('ref_magnitude_spectrogram.npy'); ref_lm=np.load('ref_log_mel_spectrogram.npy'); ref_q=np.load('ref_tfl_quantize.npy')
def frontend(x,win=per.astype(np.float32),W=W):
    fr=np.stack([x[i*160:i*160+400] for i in range(96)])
    mag=np.abs(np.fft.rfft(fr.astype(np.float64)*win,512))
    return mag, np.log(mag@W+0.001)
mags,lms=zip(*[frontend(x) for x in P]); mags=np.stack(mags); lms=np.stack(lms)
print('magnitude max|diff|',np.abs(mags-ref_mag).max(),'(rel to max',ref_mag.max(),')')
print('log-mel max|diff|',np.abs(lms-ref_lm).max(),'range',ref_lm.min(),ref_lm.max())
q=np.clip(np.round(lms/0.048020608723163605)+16,-128,127)
print('int8 input patch mismatches',(q!=ref_q.reshape(q.shape)).sum(),'of',q.size,'max step diff',np.abs(q-ref_q.reshape(q.shape)).max())
