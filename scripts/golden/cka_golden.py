#!/usr/bin/env python3
"""Golden values for Gram, HSIC and CKA, computed in f64 with numpy from the published formulas.

The CKA functions below follow Kornblith et al. 2019 and the google-research
representation_similarity demo notebook (gram_linear, gram_rbf with the median rule,
center_gram with unbiased U-centring, cka) and Nguyen et al. 2021 for minibatch CKA. The inputs
are rounded to float32 first and the references are computed in f64 from those rounded values,
which is exactly what restnet receives.

Run: python3 scripts/golden/cka_golden.py   (writes test/fixtures/cka-golden.json)
"""
import json
import os

import numpy as np


def gram_linear(x):
    return x @ x.T


def gram_rbf(x, threshold=1.0):
    dot = x @ x.T
    sq_norms = np.diag(dot)
    sq_distances = -2 * dot + sq_norms[:, None] + sq_norms[None, :]
    sq_median_distance = np.median(sq_distances)
    return np.exp(-sq_distances / (2 * threshold ** 2 * sq_median_distance))


def center_gram(gram, unbiased=False):
    gram = gram.copy()
    n = gram.shape[0]
    if unbiased:
        np.fill_diagonal(gram, 0)
        means = np.sum(gram, 0, dtype=np.float64) / (n - 2)
        means -= np.sum(means) / (2 * (n - 1))
        gram -= means[:, None]
        gram -= means[None, :]
        np.fill_diagonal(gram, 0)
    else:
        means = np.mean(gram, 0, dtype=np.float64)
        means -= np.mean(means) / 2
        gram -= means[:, None]
        gram -= means[None, :]
    return gram


def hsic(k, l, unbiased=False):
    """Normalised HSIC: biased tr(KHLH)/(n-1)^2, unbiased Song et al. 2012 /(n(n-3))."""
    n = k.shape[0]
    scale = 1.0 / (n * (n - 3)) if unbiased else 1.0 / (n - 1) ** 2
    return float(np.sum(center_gram(k, unbiased) * center_gram(l, unbiased)) * scale)


def hsic_song(k, l):
    """Song et al. 2012's unbiased estimator written out, to cross-check U-centring."""
    n = k.shape[0]
    kt, lt = k.copy(), l.copy()
    np.fill_diagonal(kt, 0)
    np.fill_diagonal(lt, 0)
    one = np.ones(n)
    return float((np.trace(kt @ lt) + (one @ kt @ one) * (one @ lt @ one) / ((n - 1) * (n - 2))
                  - 2 / (n - 2) * (one @ kt @ lt @ one)) / (n * (n - 3)))


def cka(k, l, debiased=False):
    return hsic(k, l, debiased) / np.sqrt(hsic(k, k, debiased) * hsic(l, l, debiased))


def centred(x):
    # Linear HSIC is invariant to feature translation; centring first keeps f64 exact for
    # data with large offsets.
    return x - x.mean(axis=0, keepdims=True)


def cases_for(x, y):
    """Every CKA variant for one pair (x, y are f64 copies of float32 data)."""
    kx, ky = gram_linear(centred(x)), gram_linear(centred(y))
    out = {
        "linear": cka(kx, ky),
        "linearDebiased": cka(kx, ky, True),
    }
    for t in (0.5, 1.0, 2.0):
        rx, ry = gram_rbf(x, t), gram_rbf(y, t)
        out[f"rbf{t}"] = cka(rx, ry)
        out[f"rbf{t}Debiased"] = cka(rx, ry, True) if x.shape[0] >= 4 else None
    return out


def as_list(x):
    return [float(v) for v in np.asarray(x, dtype=np.float32).ravel()]


def matrix(x):
    return {"rows": int(x.shape[0]), "cols": int(x.shape[1]), "data": as_list(x)}


def kornblith():
    # The notebook's example: its printed values are the published reference.
    np.random.seed(1337)
    x = np.random.randn(100, 10)
    y = np.random.randn(100, 10) + x
    published = {"linear": 0.55761, "rbf0.5": 0.65483, "linearDebiased": 0.51346}
    f64 = {
        "linear": cka(gram_linear(x), gram_linear(y)),
        "rbf0.5": cka(gram_rbf(x, 0.5), gram_rbf(y, 0.5)),
        "linearDebiased": cka(gram_linear(x), gram_linear(y), True),
    }
    for key, value in published.items():
        assert abs(f64[key] - value) < 5e-6, (key, f64[key], value)
    x32, y32 = x.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64)
    return {"name": "kornblith-1337", "x": matrix(x32), "y": matrix(y32), "published": published,
            "expected": cases_for(x32, y32)}


def random_pair(rng, n, dx, dy, offset, name):
    x = rng.standard_normal((n, dx)) + offset
    w = rng.standard_normal((dx, dy)) / np.sqrt(dx)
    y = np.tanh(x - offset) @ w + 0.5 * rng.standard_normal((n, dy)) - 3 * offset
    x32, y32 = (v.astype(np.float32).astype(np.float64) for v in (x, y))
    return {"name": name, "x": matrix(x32), "y": matrix(y32), "expected": cases_for(x32, y32)}


def gram_hsic_case(rng):
    x = rng.standard_normal((9, 4)).astype(np.float32).astype(np.float64)
    y = rng.standard_normal((9, 3)).astype(np.float32).astype(np.float64)
    k, l = gram_linear(x), gram_rbf(y, 1.0)
    assert abs(hsic(k, l, True) - hsic_song(k, l)) < 1e-12
    return {
        "x": matrix(x), "y": matrix(y),
        "gramLinearX": [float(v) for v in k.ravel()],
        "gramRbfY": [float(v) for v in l.ravel()],
        "centeredX": [float(v) for v in center_gram(k).ravel()],
        "uCenteredX": [float(v) for v in center_gram(k, True).ravel()],
        "hsicBiased": hsic(k, l), "hsicUnbiased": hsic_song(k, l),
    }


def minibatch_case(rng):
    """Nguyen et al.: mean over batches of unbiased HSIC, for 2 x 3 layers and 5 batches."""
    batches = []
    sums = {"cross": np.zeros((2, 3)), "a": np.zeros(2), "b": np.zeros(3)}
    for _ in range(5):
        base = rng.standard_normal((16, 6))
        a = [base, np.tanh(base @ rng.standard_normal((6, 5)))]
        b = [base[:, :3] + 0.3 * rng.standard_normal((16, 3)), rng.standard_normal((16, 4)),
             a[1] @ rng.standard_normal((5, 8))]
        a = [v.astype(np.float32).astype(np.float64) for v in a]
        b = [v.astype(np.float32).astype(np.float64) for v in b]
        ka = [gram_linear(v) for v in a]
        kb = [gram_linear(v) for v in b]
        for i in range(2):
            sums["a"][i] += hsic_song(ka[i], ka[i])
            for j in range(3):
                sums["cross"][i, j] += hsic_song(ka[i], kb[j])
        for j in range(3):
            sums["b"][j] += hsic_song(kb[j], kb[j])
        batches.append({"a": [matrix(v) for v in a], "b": [matrix(v) for v in b]})
    expected = sums["cross"] / np.sqrt(sums["a"][:, None] * sums["b"][None, :])
    return {"batches": batches, "expected": [float(v) for v in expected.ravel()]}


def main():
    rng = np.random.default_rng(20261126)
    fixture = {
        "generator": "scripts/golden/cka_golden.py (numpy %s, f64)" % np.__version__,
        "pairs": [
            kornblith(),
            random_pair(rng, 50, 3, 7, 0.0, "n50-d3-d7"),
            random_pair(rng, 7, 40, 5, 0.0, "n7-d40-d5"),
            random_pair(rng, 5, 1, 1, 0.0, "n5-d1-d1"),
            random_pair(rng, 120, 64, 32, 1000.0, "n120-offset1e3"),
            random_pair(rng, 40, 300, 200, 0.0, "n40-d300-d200"),
        ],
        "gramHsic": gram_hsic_case(rng),
        "minibatch": minibatch_case(rng),
    }
    out = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "cka-golden.json")
    with open(out, "w") as f:
        json.dump(fixture, f)
    print("wrote", os.path.normpath(out))


if __name__ == "__main__":
    main()
