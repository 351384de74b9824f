import numpy as np, time
from ai_edge_litert.interpreter import Interpreter
P=np.load('eval_patches.npy')
it=Interpreter('yamnet.tflite',num_threads=1,experimental_preserve_all_tensors=True)
it.allocate_tensors()
inp=it.get_input_details()[0]; out=it.get_output_details()[0]
print(inp['shape'],inp['dtype'],out['shape'],out['dtype'])
det={d['name']:d for d in it.get_tensor_details()}
names=['magnitude_spectrogram','mel_spectrogram;add','log_mel_spectrogram','feature_patch','tfl.quantize']
scores=[]; inter={n:[] for n in names}
for x in P:
    it.set_tensor(inp['index'],x); it.invoke()
    scores.append(it.get_tensor(out['index'])[0].copy())
    for n in names: inter[n].append(it.get_tensor(det[n]['index']).copy())
np.save('ref_scores.npy',np.stack(scores))
for n in names: np.save('ref_'+n.replace(';','_').replace('.','_').replace('/','_')+'.npy',np.stack(inter[n]))
print('quant of tfl.quantize',det['tfl.quantize']['quantization'])
for d in it.get_tensor_details():
    q=d['quantization_parameters']
    if len(q['scales'])>0 and d['dtype']!=np.float32 and len(q['scales'])==1 and 'Conv2D' not in d['name'] and 'depthwise' not in d['name'].split(';')[-1]:
        pass
print('output quant', [d['quantization'] for d in it.get_tensor_details() if d['name']=='tower0/network/layer32/final_output1'])
# timing
it2=Interpreter('yamnet.tflite',num_threads=1); it2.allocate_tensors()
for x in P[:5]: it2.set_tensor(inp['index'],x); it2.invoke()
t=time.perf_counter(); 
for x in P: it2.set_tensor(inp['index'],x); it2.invoke(); it2.get_tensor(out['index'])
print('tflite ms/patch 1 thread', (time.perf_counter()-t)/len(P)*1000)
S=np.stack(scores); print('score range',S.min(),S.max(),'unique count',len(np.unique(S)))
