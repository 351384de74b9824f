"""Per 1 s window (0.5 s hop, Vigil's WindowAssembler rules): logits, pooled (384) and hidden
(512) embeddings, and the peak time used as the detection time. Cached in OUT/features.pkl.
Reads SHARED/fixtures/eval/labels.json and CORPUS; needs OUT/mn04_as_embed.onnx (make_model.py)
and ffmpeg on PATH."""
import argparse
import json
import os
import pickle
import sys

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(__file__))
import cv  # noqa: E402  (path arguments only)
import frontend  # noqa: E402

AUDIO_CLASSES = {"glass_break", "gunshot", "scream", "siren", "alarm", "dog_bark", "car_horn", "speech"}
WIN, HOP, MIN_FRAMES = 100, 50, 16


def items(corpora):
    out = []
    for path in corpora:
        d = json.load(open(path))
        base = os.path.dirname(path)
        for it in d["items"]:
            f = it["file"]
            if f.lower().rsplit(".", 1)[-1] in ("jpg", "jpeg", "png", "bmp", "mp4") and not (
                set(it["classes"]) & AUDIO_CLASSES):
                continue
            out.append({**it, "path": os.path.normpath(os.path.join(base, f))})
    return out


def windows(lm):
    """(start, frames) per WindowAssembler: full windows on a 50-frame grid, then at most one
    shorter trailing window covering frames no full window reached."""
    total = lm.shape[1]
    cuts, start = [], 0
    while start + WIN <= total:
        cuts.append((start, WIN))
        start += HOP
    covered = cuts[-1][0] + WIN if cuts else 0
    frames = total - start
    if frames > 0 and total > covered and (frames >= MIN_FRAMES or not cuts):
        cuts.append((start, frames))
    return cuts


def main(argv=None):
    ap = cv.add_path_args(argparse.ArgumentParser(description=__doc__))
    a = ap.parse_args(argv)
    corpora = [os.path.join(a.shared, "fixtures", "eval", "labels.json"), a.corpus]
    out_path = os.path.join(a.out, "features.pkl")
    sess = ort.InferenceSession(os.path.join(a.out, "mn04_as_embed.onnx"),
                                providers=["CPUExecutionProvider"],
                                sess_options=_opts())
    names = [o.name for o in sess.get_outputs()]
    data = []
    its = items(corpora)
    for i, it in enumerate(its):
        x = frontend.decode(it["path"])
        lm = frontend.logmel(x)
        energy = lm.sum(axis=0)
        cuts = windows(lm)
        at, outs = [], {n: [] for n in names}
        full = [c for c in cuts if c[1] == WIN]
        rest = [c for c in cuts if c[1] != WIN]
        for group in [full[k:k + 32] for k in range(0, len(full), 32)] + [[c] for c in rest]:
            batch = np.stack([lm[:, s:s + n] for s, n in group])[:, None]
            res = sess.run(names, {"spec": batch})
            for n, r in zip(names, res):
                outs[n].append(r)
        for s, n in full + rest:
            at.append((s + int(np.argmax(energy[s:s + n]))) * frontend.HOP / frontend.SR)
        rec = {k: it[k] for k in ("file", "source", "classes", "events", "path")}
        rec["audioSec"] = len(x) / frontend.SR
        rec["atSec"] = np.array(at)
        for n in names:
            rec[n] = np.concatenate(outs[n]) if outs[n] else np.zeros((0, 1), np.float32)
        data.append(rec)
        print(f"\r{i + 1}/{len(its)} {it['file'][:60]:60s} windows={len(at)}", end="", file=sys.stderr)
    print(file=sys.stderr)
    pickle.dump({"outputs": names, "items": data}, open(out_path, "wb"))
    print("items", len(data), "windows", sum(len(d["atSec"]) for d in data),
          "minutes", sum(d["audioSec"] for d in data) / 60)


def _opts():
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    return o


if __name__ == "__main__":
    main()
