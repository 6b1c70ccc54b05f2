#!/usr/bin/env python3
"""numpy f64 least squares, the peer of fitStitch, served op by op (peer_server.py).

First stdin line: {"x", "y", "weight", "bias": raw float32 paths, "n", "d", "k"} (the Node side
wrote the data and its fitted stitch). Ops:
- lstsq:  numpy.linalg.lstsq on [X 1] in f64 (the bias as a column of ones; conversion not timed),
          SVD-based (LAPACK gelsd): the minimum-norm answer on rank-deficient data too
- normal: restnet's algorithm written in numpy (f64 centring, normal equations, solve), for
          context (it has no minimum-norm fallback)
Its info adds the accuracy of restnet's stitch against lstsq: relative Frobenius errors of W and b
(projected on the row space of the centred X, where the minimum-norm answer is unique) and both
residual sums of squares, all in f64.
"""
import json
import sys

import numpy as np

from peer_server import serve


def main():
    req = json.loads(sys.stdin.readline())
    n, d, k = req['n'], req['d'], req['k']
    x = np.fromfile(req['x'], dtype='<f4').reshape(n, d).astype(np.float64)
    y = np.fromfile(req['y'], dtype='<f4').reshape(n, k).astype(np.float64)
    xb = np.hstack([x, np.ones((n, 1))])

    def normal():
        mx, my = x.mean(0), y.mean(0)
        xc, yc = x - mx, y - my
        np.linalg.solve(xc.T @ xc, xc.T @ yc)

    def info():
        solution, _, rank, _ = np.linalg.lstsq(xb, y, rcond=None)
        w_ref, b_ref = solution[:d], solution[d]
        w = np.fromfile(req['weight'], dtype='<f4').reshape(d, k).astype(np.float64)
        b = np.fromfile(req['bias'], dtype='<f4').astype(np.float64)
        rss = lambda w_, b_: float(((x @ w_ + b_ - y) ** 2).sum())
        return {
            'numpy': np.__version__,
            'rank': int(rank),
            'weightError': float(np.linalg.norm(w - w_ref) / np.linalg.norm(w_ref)),
            'biasError': float(np.linalg.norm(b - b_ref) / np.linalg.norm(b_ref)),
            'residual': rss(w, b),
            'residualReference': rss(w_ref, b_ref),
        }

    serve({'lstsq': lambda: np.linalg.lstsq(xb, y, rcond=None), 'normal': normal}, info)


if __name__ == '__main__':
    main()
