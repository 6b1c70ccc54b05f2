"""Golden values for fitStitch: numpy f64 least squares on the f32 inputs, centred in f64.

Writes test/fixtures/lstsq-golden.json. Each case stores its f32 inputs (base64, little-endian)
so the TypeScript tests use exactly the values numpy saw, and the f64 reference: weight and
bias from numpy.linalg.lstsq on centred data (rcond=None; the minimum-norm solution when X is
rank-deficient), or from the ridge normal equations, and the residual sum of squares.

Run: python3 scripts/golden/lstsq_golden.py
"""
import base64
import json
import os

import numpy as np


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype='<f4').tobytes()).decode()


def linear_target(rng, x, k, noise, offset):
    w = rng.standard_normal((x.shape[1], k)) / np.sqrt(x.shape[1])
    y = x.astype(np.float64) @ w + offset + noise * rng.standard_normal((x.shape[0], k))
    return y.astype(np.float32)


def reference(x32, y32, ridge, bias):
    x, y = x32.astype(np.float64), y32.astype(np.float64)
    mx = x.mean(0) if bias else np.zeros(x.shape[1])
    my = y.mean(0) if bias else np.zeros(y.shape[1])
    xc, yc = x - mx, y - my
    if ridge > 0:
        w = np.linalg.solve(xc.T @ xc + ridge * np.eye(x.shape[1]), xc.T @ yc)
        rank = x.shape[1]
    else:
        w, _, rank, _ = np.linalg.lstsq(xc, yc, rcond=None)
    b = my - mx @ w
    residual = float(((x @ w + b - y) ** 2).sum())
    return w, b, int(rank), residual


def case(name, x, y, ridge=0.0, bias=True, note=''):
    w, b, rank, residual = reference(x, y, ridge, bias)
    return {
        'name': name, 'note': note, 'ridge': ridge, 'bias': bias,
        'x': {'rows': x.shape[0], 'cols': x.shape[1], 'data': b64(x)},
        'y': {'rows': y.shape[0], 'cols': y.shape[1], 'data': b64(y)},
        'weight': w.ravel().tolist(), 'biasValues': b.tolist(), 'rank': rank, 'residual': residual,
    }


def main():
    rng = np.random.default_rng(20240611)
    cases = []

    x = rng.standard_normal((300, 32)).astype(np.float32)
    cases.append(case('full rank with bias', x, linear_target(rng, x, 8, 0.1, 0.5)))

    x = (rng.standard_normal((20, 48)) + 1.0).astype(np.float32)
    cases.append(case('fewer rows than columns (minimum norm)', x, linear_target(rng, x, 5, 0.3, 0.0)))

    x = rng.standard_normal((200, 16)).astype(np.float32)
    x[:, 15] = x[:, 3]        # an exact duplicate
    x[:, 14] = 2.0 * x[:, 5]  # an exact multiple (a power of two keeps it exact in f32)
    cases.append(case('collinear columns', x, linear_target(rng, x, 6, 0.2, -1.0),
                      note='columns 15 = 3 and 14 = 2 x 5 exactly'))

    x = (rng.standard_normal((150, 24)) * 2.0 + 3.0).astype(np.float32)
    cases.append(case('ridge', x, linear_target(rng, x, 6, 0.5, 2.0), ridge=25.0))

    x = (rng.standard_normal((400, 16)) + 1e4).astype(np.float32)
    cases.append(case('huge offsets', x, linear_target(rng, x - np.float32(1e4), 4, 0.1, -5e3),
                      note='X around 1e4 with unit spread, Y around -5e3'))

    x = (rng.standard_normal((100, 10)) + 3.0).astype(np.float32)
    cases.append(case('no bias', x, linear_target(rng, x, 3, 0.1, 0.0), bias=False))

    out = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'lstsq-golden.json')
    with open(out, 'w') as f:
        json.dump({'generator': 'scripts/golden/lstsq_golden.py', 'numpy': np.__version__, 'cases': cases}, f)
        f.write('\n')


if __name__ == '__main__':
    main()
