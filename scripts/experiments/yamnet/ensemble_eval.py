# Leave-one-source-out scoring of mn04 vs YAMNet vs their combinations (see README.md for the
# protocol). Run in $YAMNET_OUT/ensemble after ensemble_scores.py.
import json, zipfile, sys, numpy as np, warnings
from sklearn.linear_model import LogisticRegression
warnings.filterwarnings('ignore')
d=json.load(open('dump/index.json')); items=d['items']; ML=d['labels']
YL=zipfile.ZipFile('../yamnet.tflite').read('yamnet_label_list.txt').decode().splitlines()
G={'glass_break':['Glass','Shatter','Breaking','Chink, clink'],
'gunshot':['Gunshot, gunfire','Machine gun','Fusillade','Artillery fire','Cap gun'],
'scream':['Screaming','Shout','Yell','Bellow','Battle cry','Wail, moan'],
'siren':['Siren','Civil defense siren','Police car (siren)','Ambulance (siren)','Fire engine, fire truck (siren)','Emergency vehicle'],
'alarm':['Smoke detector, smoke alarm','Fire alarm','Alarm','Car alarm'],
'dog_bark':['Dog','Bark','Bow-wow'],
'car_horn':['Vehicle horn, car horn, honking','Air horn, truck horn','Toot'],
'speech':['Speech','Male speech, man speaking','Female speech, woman speaking','Conversation','Narration, monologue']}
CLS=list(G)
def sig(x): return 1/(1+np.exp(-x))
def lg(p): p=np.clip(p,1e-7,1-1e-7); return np.log(p/(1-p))
def noisyor(S,names,labels):
    idx=[labels.index(n) for n in names if n in labels]
    return 1-np.prod(1-S[:,idx].astype(np.float64),axis=1)
# group scores per item
T=[np.array(it['atSec']) for it in items]
mn=[]; yq=[]; yqm=[]
for it in items:
    M=np.fromfile(f"dump/{it['i']}.f32",np.float32).reshape(len(it['atSec']),527)
    Q=np.load(f"yam/{it['i']}.npz")
    mn.append({c:noisyor(M,G[c],ML) for c in CLS})
    yq.append({c:noisyor(Q['c'],G[c],YL) for c in CLS})
    yqm.append({c:noisyor(Q['m'],G[c],YL) for c in CLS})
SRC=sorted(set(it['source'] for it in items)); sidx=np.array([SRC.index(it['source']) for it in items])
EV=[{c:[(e['start'],e['end']) for e in it['events'] if e['cls']==c] for c in CLS} for it in items]
NEV={c:sum(len(e[c]) for e in EV) for c in CLS}
GRID=sig(np.linspace(-8,8,90)); NT=len(GRID)

def item_counts(s,t,evs):
    """s: scores [n], t: times [n], evs list of (start,end). Returns hits[NT], false[NT], hitmask[NT,nev]."""
    det=s[None,:]>=GRID[:,None]
    nev=len(evs); hit=np.zeros((NT,nev),bool); fal=np.zeros(NT,int)
    last=np.full(NT,-1e9)
    for k in range(len(t)):
        dk=det[:,k]
        new=dk&((t[k]-last)>=1.0)
        last=np.where(dk,t[k],last)
        if not new.any(): continue
        match=np.array([a-1<=t[k]<=b+1 for a,b in evs],bool)
        if not match.any(): fal+=new; continue
        for th in np.nonzero(new)[0]:
            um=match&~hit[th]
            if um.any(): hit[th,np.argmax(um)]=True
    return hit.sum(1),fal,hit

def per_source(scores,c):
    """scores: list of arrays per item. -> H[nsrc,NT], F[nsrc,NT], and per-item hitmask"""
    H=np.zeros((len(SRC),NT)); Fa=np.zeros((len(SRC),NT)); hm=[]
    for i in range(len(items)):
        h,f,m=item_counts(scores[i],T[i],EV[i][c]); H[sidx[i]]+=h; Fa[sidx[i]]+=f; hm.append(m)
    return H,Fa,hm

def pick(J):
    best=J.max(); ok=J==best
    runs=[];k=0
    while k<NT:
        if ok[k]:
            j=k
            while j+1<NT and ok[j+1]: j+=1
            runs.append((j-k,k,j)); k=j+1
        else: k+=1
    L,a,b=max(runs,key=lambda r:(r[0],-r[1]))
    return (a+b)//2

def loso_fixed(scores,c):
    H,Fa,hm=per_source(scores,c); Ht,Ft=H.sum(0),Fa.sum(0)
    hits=fal=0; itemhit={}
    for s in range(len(SRC)):
        J=(Ht-H[s])-3*(Ft-Fa[s]); k=pick(J)
        hits+=H[s,k]; fal+=Fa[s,k]
        for i in np.nonzero(sidx==s)[0]:
            if EV[i][c]: itemhit[i]=hm[i][k].any()
    return int(hits),int(fal),itemhit,(H,Fa)

def lr_feats(i,c,ysrc):
    return np.stack([lg(mn[i][c]),lg(ysrc[i][c])],1)
def lr_labels(i,c):
    t=T[i]; y=np.full(len(t),-1)
    if not EV[i][c]: return np.zeros(len(t),int)
    dist=np.min([np.maximum(0,np.maximum(a-t,t-b)) for a,b in EV[i][c]],axis=0)
    y[dist<=0.5]=1; y[dist>1.5]=0; return y

def loso_lr(c,ysrc):
    X=[lr_feats(i,c,ysrc) for i in range(len(items))]; Y=[lr_labels(i,c) for i in range(len(items))]
    hits=fal=0; itemhit={}; oof=[None]*len(items)
    for s in range(len(SRC)):
        tr=[i for i in range(len(items)) if sidx[i]!=s]
        Xt=np.concatenate([X[i] for i in tr]); Yt=np.concatenate([Y[i] for i in tr]); m=Yt>=0
        clf=LogisticRegression(C=0.1,class_weight='balanced',max_iter=1000).fit(Xt[m],Yt[m])
        sc=[sig(clf.decision_function(X[i])) for i in range(len(items))]
        for i in np.nonzero(sidx==s)[0]: oof[i]=sc[i]
        H,Fa,hm=per_source(sc,c); J=(H.sum(0)-H[s])-3*(Fa.sum(0)-Fa[s]); k=pick(J)
        hits+=H[s,k]; fal+=Fa[s,k]
        for i in np.nonzero(sidx==s)[0]:
            if EV[i][c]: itemhit[i]=hm[i][k].any()
    H,Fa,_=per_source(oof,c)
    return int(hits),int(fal),itemhit,(H,Fa)

METHODS={}
def run(name,fn):
    METHODS[name]={c:fn(c) for c in CLS}; print('done',name,file=sys.stderr)
run('a: mn04',lambda c:loso_fixed([x[c] for x in mn],c))
run('b: yamnet int8 tflite, centred',lambda c:loso_fixed([x[c] for x in yq],c))
run('b: yamnet int8 tflite, max3',lambda c:loso_fixed([x[c] for x in yqm],c))
for yn,ys in [('int8 centred',yq),('int8 max3',yqm)]:
    run(f'c: max(mn04,yam {yn})',lambda c:loso_fixed([np.maximum(mn[i][c],ys[i][c]) for i in range(len(items))],c))
    run(f'c: mean logit (yam {yn})',lambda c:loso_fixed([sig((lg(mn[i][c])+lg(ys[i][c]))/2) for i in range(len(items))],c))
    run(f'c: LR (yam {yn})',lambda c:loso_lr(c,ys))

import pickle; pickle.dump({k:{c:v[c][:3] for c in CLS} for k,v in METHODS.items()},open('results.pkl','wb'))
out=[]
out.append('| method | '+' | '.join(CLS)+' | total |'); out.append('|'+'---|'*(len(CLS)+2))
for k,v in METHODS.items():
    th=sum(v[c][0] for c in CLS); tf=sum(v[c][1] for c in CLS)
    out.append(f'| {k} | '+' | '.join(f'{v[c][0]}/{NEV[c]} f{v[c][1]}' for c in CLS)+f' | {th}/{sum(NEV.values())} f{tf} |')
print('\n'.join(out))
# pooled curve: max hits at false <= budget (global threshold, scores out-of-fold for LR)
print('\nPooled single global threshold: max hits with false detections <= B (B=0/2/5/10)')
print('| method | '+' | '.join(CLS)+' |'); print('|'+'---|'*(len(CLS)+1))
for k,v in METHODS.items():
    row=[]
    for c in CLS:
        H,Fa=v[c][3]; Ht,Ft=H.sum(0),Fa.sum(0)
        row.append('/'.join(str(int(Ht[Ft<=B].max()) if (Ft<=B).any() else 0) for B in (0,2,5,10)))
    print(f'| {k} | '+' | '.join(row)+' |')
# item-level misses of mn04
print('\nItem-level: mn04 (a) misses and whether others catch them')
keys=list(METHODS)
for c in CLS:
    ih=METHODS['a: mn04'][c][2]
    for i,h in ih.items():
        if not h:
            oth={k.split(':')[0]+':'+k.split(':')[1][:22]:METHODS[k][c][2][i] for k in keys[1:]}
            print(f"{c:11s} {items[i]['file'][-55:]:55s} ", ' '.join(('Y' if oth[k] else '.') for k in oth))
print('columns:',' | '.join(keys[1:]))
# items caught by mn04 but lost by each method
for k in keys[1:]:
    lost=[(c,items[i]['file'].split('/')[-1]) for c in CLS for i,h in METHODS['a: mn04'][c][2].items() if h and not METHODS[k][c][2][i]]
    print('lost vs mn04 by',k,':',len(lost),lost[:8])
