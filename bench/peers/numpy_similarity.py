#!/usr/bin/env python3
"""numpy (OpenBLAS, float32) peers for the similarity benchmark.

Reads {"x": path, "y": path, "n": n, "d": d, "reps": r} on stdin (raw float32 files written by
the Node side, so both see the same data) and prints median seconds of:
- gram:        X @ X.T (numpy dispatches this to a symmetric rank-k update)
- ckaFeature:  linear CKA by the feature form on centred data (the best numpy formulation)
- ckaGram:     linear CKA by the Gram form (Kornblith's notebook: gram_linear, center_gram, sum)
and the f64 value of linear CKA for an accuracy check.
"""
import json
import sys
import time

import numpy as np


def median_time(fn, reps):
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def cka_feature(x, y):
    xc = x - x.mean(0, keepdims=True)
    yc = y - y.mean(0, keepdims=True)
    return np.linalg.norm(yc.T @ xc) ** 2 / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))


def center(k):
    means = k.mean(0)
    means -= means.mean() / 2
    return k - means[:, None] - means[None, :]


def cka_gram(x, y):
    kc, lc = center(x @ x.T), center(y @ y.T)
    return np.sum(kc * lc) / np.sqrt(np.sum(kc * kc) * np.sum(lc * lc))


def main():
    req = json.load(sys.stdin)
    n, d, reps = req["n"], req["d"], req["reps"]
    x = np.fromfile(req["x"], dtype=np.float32).reshape(n, d)
    y = np.fromfile(req["y"], dtype=np.float32).reshape(n, d)
    out = {
        "numpy": np.__version__,
        "gram": median_time(lambda: x @ x.T, reps),
        "ckaFeature": median_time(lambda: cka_feature(x, y), reps),
        "ckaGram": median_time(lambda: cka_gram(x, y), reps),
        "ckaF64": float(cka_feature(x.astype(np.float64), y.astype(np.float64))),
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
