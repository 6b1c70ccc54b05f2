#!/usr/bin/env python3
"""numpy f64 least squares, the peer of fitStitch.

Reads {"x", "y", "weight", "bias": raw float32 paths, "n", "d", "k", "reps"} on stdin (the
Node side wrote the data and its fitted stitch) and prints the median seconds of
numpy.linalg.lstsq on [X 1] in f64 (the bias as a column of ones; conversion not timed), and
of the same algorithm as restnet written in numpy (f64 centring, normal equations, solve) for
context, and the accuracy of restnet's stitch against it: relative Frobenius errors of W and b and both
residual sums of squares, all in f64.
"""
import json
import sys
import time

import numpy as np


def main():
    req = json.load(sys.stdin)
    n, d, k = req['n'], req['d'], req['k']
    x = np.fromfile(req['x'], dtype='<f4').reshape(n, d).astype(np.float64)
    y = np.fromfile(req['y'], dtype='<f4').reshape(n, k).astype(np.float64)
    xb = np.hstack([x, np.ones((n, 1))])
    times, solution = [], None
    for _ in range(req['reps']):
        t = time.perf_counter()
        solution = np.linalg.lstsq(xb, y, rcond=None)[0]
        times.append(time.perf_counter() - t)
    normal_times = []
    for _ in range(req['reps']):
        t = time.perf_counter()
        mx, my = x.mean(0), y.mean(0)
        xc, yc = x - mx, y - my
        w_normal = np.linalg.solve(xc.T @ xc, xc.T @ yc)
        normal_times.append(time.perf_counter() - t)
    w_ref, b_ref = solution[:d], solution[d]
    w = np.fromfile(req['weight'], dtype='<f4').reshape(d, k).astype(np.float64)
    b = np.fromfile(req['bias'], dtype='<f4').astype(np.float64)
    rss = lambda w_, b_: float(((x @ w_ + b_ - y) ** 2).sum())
    print(json.dumps({
        'seconds': float(np.median(times)),
        'normalSeconds': float(np.median(normal_times)),
        'numpy': np.__version__,
        'weightError': float(np.linalg.norm(w - w_ref) / np.linalg.norm(w_ref)),
        'biasError': float(np.linalg.norm(b - b_ref) / np.linalg.norm(b_ref)),
        'residual': rss(w, b),
        'residualReference': rss(w_ref, b_ref),
    }))


if __name__ == '__main__':
    main()
