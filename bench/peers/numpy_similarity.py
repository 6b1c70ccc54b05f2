#!/usr/bin/env python3
"""numpy (OpenBLAS, float32) peers for the similarity benchmark, served op by op (peer_server.py).

Reads {"x": path, "y": path, "n": n, "d": d} as its first stdin line (raw float32 files written
by the Node side, so both see the same data), then times on request:
- gram:        X @ X.T (numpy dispatches this to a symmetric rank-k update, ssyrk)
- ckaFeature:  linear CKA by the feature form on centred data (the best numpy formulation)
- ckaGram:     linear CKA by the Gram form (Kornblith's notebook: gram_linear, center_gram, sum)
- normalEquations: a stitch's least-squares normal equations in f32, Xc^T Xc (ssyrk) and Xc^T Yc,
               with Y the first n * d / 2 values of y as an n x d/2 matrix (the Node side's)
- stitchApply: X W + b with a d x d/2 W (a stitch's forward pass)
Its info adds the f64 value of linear CKA for an accuracy check.
"""
import json
import sys

import numpy as np

from peer_server import serve


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


def normal_equations(x, y):
    xc = x - x.mean(0, keepdims=True)
    yc = y - y.mean(0, keepdims=True)
    return xc.T @ xc, xc.T @ yc


def main():
    req = json.loads(sys.stdin.readline())
    n, d = req["n"], req["d"]
    x = np.fromfile(req["x"], dtype=np.float32).reshape(n, d)
    y = np.fromfile(req["y"], dtype=np.float32).reshape(n, d)
    half = y.reshape(-1)[: n * (d // 2)].reshape(n, d // 2)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((d, d // 2), dtype=np.float32)
    b = rng.standard_normal(d // 2, dtype=np.float32)
    ops = {
        "gram": lambda: x @ x.T,
        "ckaFeature": lambda: cka_feature(x, y),
        "ckaGram": lambda: cka_gram(x, y),
        "normalEquations": lambda: normal_equations(x, half),
        "stitchApply": lambda: x @ w + b,
    }
    serve(ops, lambda: {"numpy": np.__version__,
                        "ckaF64": float(cka_feature(x.astype(np.float64), y.astype(np.float64)))})


if __name__ == "__main__":
    main()
