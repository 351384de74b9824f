import tflite, numpy as np, collections
buf=open('yamnet.tflite','rb').read()
m=tflite.Model.GetRootAsModel(buf,0)
print('subgraphs',m.SubgraphsLength(),'version',m.Version())
opnames={v:k for k,v in tflite.BuiltinOperator.__dict__.items() if not k.startswith('_')}
ttypes={v:k for k,v in tflite.TensorType.__dict__.items() if not k.startswith('_')}
g=m.Subgraphs(0)
cnt=collections.Counter()
for i in range(g.OperatorsLength()):
    op=g.Operators(i); oc=m.OperatorCodes(op.OpcodeIndex())
    code=max(oc.BuiltinCode(),oc.DeprecatedBuiltinCode())
    name=opnames.get(code,code)
    if code==32: name='CUSTOM:'+oc.CustomCode().decode()
    ins=[g.Tensors(j) for j in op.InputsAsNumpy() if j>=0]; outs=[g.Tensors(j) for j in op.OutputsAsNumpy()]
    sig=' '.join(f"{t.Name().decode()}:{ttypes[t.Type()]}{list(t.ShapeAsNumpy()) if t.ShapeLength() else []}" for t in ins)
    osig=' '.join(f"{t.Name().decode()}:{ttypes[t.Type()]}{list(t.ShapeAsNumpy()) if t.ShapeLength() else []}" for t in outs)
    cnt[name]+=1
    print(i,name,'|',sig,'->',osig)
print(cnt)
print('inputs',[g.Tensors(j).Name() for j in g.InputsAsNumpy()],'outputs',[g.Tensors(j).Name() for j in g.OutputsAsNumpy()])
