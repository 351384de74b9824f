"""Nested leave-one-source-out CV of logistic heads (C and threshold chosen without the held-out
source). For each outer held-out source S:
  - inner GroupKFold(5) by source over the other sources -> out-of-fold (OOF) scores for every
    training window, for each C in C_GRID;
  - C and threshold chosen jointly on the OOF detection tallies: max hits - cost * false, threshold
    = middle of the best plateau (cv.choose's rule); C ties -> the smallest C;
  - head refit on all training sources with each C; S scored at the chosen (C, threshold).
The held-out tallies of every C are cached, so other false costs cost nothing extra.
One JSON line per (features, class, false cost, grid) appended to --results.
"""
import argparse
import itertools
import json
import os
import pickle
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cv  # noqa: E402

C_GRID = [0.01, 0.1, 1.0]
INNER_FOLDS = 5


def choose(H, F, n, cost):
    """cv.choose with an explicit cost: (index, utility) of the middle of the best plateau."""
    u = (H[:, :n] - cost * F[:, :n]).sum(axis=0)
    ties = np.nonzero(u >= u.max() - 1e-9)[0]
    return ties[(len(ties) - 1) // 2], float(u.max())


def fit_score(clf, Xs, ys, fit_idx, score_idx):
    Xtr = np.vstack([Xs[i][ys[i] >= 0] for i in fit_idx])
    ytr = np.concatenate([ys[i][ys[i] >= 0] for i in fit_idx])
    sc = StandardScaler().fit(Xtr)
    clf.fit(sc.transform(Xtr), ytr)
    Z = clf.decision_function(sc.transform(np.vstack([Xs[i] for i in score_idx]))) / cv.TEMP
    cuts = np.cumsum([len(Xs[i]) for i in score_idx])[:-1]
    return dict(zip(score_idx, np.split(Z, cuts)))


def tally(cls, scores):
    """{item: z} -> {item: (hits[T], false[T])}"""
    return {i: cv.sweep_fast(cv.ITEMS[i], cls, z) for i, z in scores.items()}


def run_class(featname, cls):
    """Cached tallies per outer source: oof[C] = (H, F) summed over the training items' OOF
    scores, out[C] = {held-out item: (H, F)} for the head refit on all training sources."""
    Xs = cv.feats(featname, cls)
    ys = cv.window_labels(cls)
    src = np.array([it["source"] for it in cv.ITEMS])
    clfs = {c: LogisticRegression(C=c, class_weight="balanced", max_iter=3000, warm_start=True)
            for c in C_GRID}
    folds = {}
    for s in cv.SOURCES:
        train = np.nonzero(src != s)[0]
        test = list(np.nonzero(src == s)[0])
        oof = {c: {} for c in C_GRID}
        for itr, ite in GroupKFold(n_splits=INNER_FOLDS).split(train, groups=src[train]):
            fit_idx, score_idx = list(train[itr]), list(train[ite])
            if not any((ys[i] == 1).any() for i in fit_idx):
                # no positive window to fit on: the head cannot rank; score everything -inf
                for c in C_GRID:
                    oof[c].update(tally(cls, {i: np.full(len(Xs[i]), -np.inf) for i in score_idx}))
                continue
            for c in C_GRID:
                oof[c].update(tally(cls, fit_score(clfs[c], Xs, ys, fit_idx, score_idx)))
        assert all(len(oof[c]) == len(train) for c in C_GRID)
        out = {c: tally(cls, fit_score(clfs[c], Xs, ys, list(train), test)) for c in C_GRID}
        # selection only needs the OOF tallies summed over training items
        folds[s] = {"oof": {c: (np.sum([h for h, _ in oof[c].values()], axis=0),
                                np.sum([f for _, f in oof[c].values()], axis=0)) for c in C_GRID},
                    "out": out}
    return folds


def evaluate(cls, folds, cost, n, c_grid=C_GRID):
    """Held-out hits/false for one false cost and grid size n, plus the chosen C per source.
    c_grid of one value: C fixed, only the threshold chosen on the OOF scores."""
    n_items = len(cv.ITEMS)
    ch_h, ch_f = np.zeros(n_items, int), np.zeros(n_items, int)
    chosen = []
    for s, fd in folds.items():
        best = None
        for c in c_grid:
            H, F = fd["oof"][c]
            k, u = choose(H[None], F[None], n, cost)
            if best is None or u > best[2] + 1e-9:
                best = (c, k, u)
        c, k, _ = best
        chosen.append({"source": s, "C": c, "thr_score": float(1 / (1 + np.exp(-cv.GRID[k])))})
        for i, (h, f) in fd["out"][c].items():
            ch_h[i], ch_f[i] = h[k], f[k]
    n_events = sum(1 for it in cv.ITEMS for e in it["events"] if e["class"] == cls)
    return cv.summarize(cls, ch_h, ch_f, n_events), chosen


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cv.add_path_args(ap)
    ap.add_argument("--features", default="hidden512,logits527,pooled384",
                    help="comma-separated keys of cv.FEATS")
    ap.add_argument("--classes", default=",".join(cv.CLASSES))
    ap.add_argument("--costs", default="3,10", help="false costs to evaluate (the product uses 3)")
    ap.add_argument("--results", default=None, help="JSONL (default: OUT/nested.jsonl)")
    ap.add_argument("--fixed-c", action="store_true",
                    help="also report each C fixed (threshold still chosen on OOF scores)")
    ap.add_argument("--report-only", action="store_true",
                    help="only re-evaluate what OUT/nested_tallies.pkl holds (no fitting)")
    a = ap.parse_args(argv)
    cv.init(a)
    results = a.results or os.path.join(a.out, "nested.jsonl")
    cache_path = os.path.join(a.out, "nested_tallies.pkl")
    cache = pickle.load(open(cache_path, "rb")) if os.path.exists(cache_path) else {}
    costs = [float(x) for x in a.costs.split(",")]
    for featname in a.features.split(","):
        for cls in a.classes.split(","):
            t0 = time.time()
            key = (featname, cls)
            if key not in cache:
                if a.report_only:
                    continue
                cache[key] = run_class(featname, cls)
                pickle.dump(cache, open(cache_path, "wb"))
            variants = [("nested", C_GRID)] + ([(f"{c:g} oof-thr", [c]) for c in C_GRID] if a.fixed_c else [])
            for cost in costs:
                for (vname, c_grid), (gname, n) in itertools.product(
                        variants, (("std", cv.N_STD), ("wide", len(cv.GRID)))):
                    summ, chosen = evaluate(cls, cache[key], cost, n, c_grid)
                    counts = {str(c): sum(1 for x in chosen if x["C"] == c) for c in C_GRID}
                    rec = {"features": featname, "C": vname, "class": cls, "false_cost": cost,
                           "grid": gname, gname: summ, "chosen_C": counts,
                           "thr_score_median": float(np.median([x["thr_score"] for x in chosen])),
                           "sec": round(time.time() - t0, 1)}
                    print(json.dumps(rec), flush=True)
                    with open(results, "a") as f:
                        f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
