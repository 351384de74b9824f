"""Checks sweep_fast() == sweep() (the loop replay of threshold.sweep.ts) on noisy-or scores."""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cv  # noqa: E402

cv.init(cv.add_path_args(argparse.ArgumentParser(description=__doc__)).parse_args())
for cls in cv.CLASSES:
    idx = [cv.LIDX[l] for l in cv.GROUPS[cls]]
    for it in cv.ITEMS:
        p = 1 / (1 + np.exp(-it["logits"][:, idx].astype(np.float64)))
        s = np.clip(1 - np.prod(1 - p, axis=1), 1e-12, 1 - 1e-12); z = np.log(s / (1 - s))
        a, b = cv.sweep(it, cls, z), cv.sweep_fast(it, cls, z)
        assert (a[0] == b[0]).all() and (a[1] == b[1]).all(), (cls, it["file"])
print("sweep_fast matches sweep on all items and classes")
