#include "restnet/linalg.h"

#include <algorithm>
#include <cmath>

#include "restnet/thread_pool.h"

namespace restnet {
namespace {

// Column chunk of the right-hand sides solved by one task: wide enough for SIMD row updates.
constexpr std::size_t kSolveChunk = 64;
// Enough for a condition estimate within a few percent; the solver only compares it with 1e6.
constexpr int kPowerIterations = 30;

double norm(const std::vector<double>& v) {
  double s = 0.0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

// A deterministic start vector with a component along every eigenvector of interest.
std::vector<double> start_vector(std::size_t n) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = 1.0 + 0.5 * std::sin(1.0 + static_cast<double>(i));
  const double s = norm(v);
  for (double& x : v) x /= s;
  return v;
}

}  // namespace

bool cholesky(double* a, std::size_t n, const Control& control) {
  for (std::size_t j = 0; j < n; ++j) {
    if (j % 64 == 0) control.check();
    double* rj = a + j * n;
    double d = rj[j];
    for (std::size_t p = 0; p < j; ++p) d -= rj[p] * rj[p];
    if (!(d > 0.0) || !std::isfinite(d)) return false;
    const double ljj = std::sqrt(d);
    rj[j] = ljj;
    // Rows below j are independent once row j is final.
    parallel_ranges(n - j - 1, 64, [&](std::size_t b, std::size_t e) {
      for (std::size_t i = j + 1 + b; i < j + 1 + e; ++i) {
        double* ri = a + i * n;
        double s = ri[j];
        for (std::size_t p = 0; p < j; ++p) s -= ri[p] * rj[p];
        ri[j] = s / ljj;
      }
    });
  }
  return true;
}

void cholesky_solve(const double* l, std::size_t n, double* b, std::size_t cols) {
  parallel_ranges(cols, kSolveChunk, [&](std::size_t c0, std::size_t c1) {
    // Forward: L Z = B, row by row, each row an axpy over the chunk's columns.
    for (std::size_t i = 0; i < n; ++i) {
      double* bi = b + i * cols;
      for (std::size_t p = 0; p < i; ++p) {
        const double lip = l[i * n + p];
        const double* bp = b + p * cols;
        for (std::size_t c = c0; c < c1; ++c) bi[c] -= lip * bp[c];
      }
      const double inv = 1.0 / l[i * n + i];
      for (std::size_t c = c0; c < c1; ++c) bi[c] *= inv;
    }
    // Backward: L^T X = Z.
    for (std::size_t i = n; i-- > 0;) {
      double* bi = b + i * cols;
      for (std::size_t p = i + 1; p < n; ++p) {
        const double lpi = l[p * n + i];
        const double* bp = b + p * cols;
        for (std::size_t c = c0; c < c1; ++c) bi[c] -= lpi * bp[c];
      }
      const double inv = 1.0 / l[i * n + i];
      for (std::size_t c = c0; c < c1; ++c) bi[c] *= inv;
    }
  });
}

double largest_eigenvalue(const double* a, std::size_t n) {
  std::vector<double> v = start_vector(n), w(n);
  double lambda = 0.0;
  for (int it = 0; it < kPowerIterations; ++it) {
    for (std::size_t i = 0; i < n; ++i) {
      double s = 0.0;
      for (std::size_t j = 0; j < n; ++j) s += a[i * n + j] * v[j];
      w[i] = s;
    }
    lambda = norm(w);
    if (lambda == 0.0) return 0.0;
    for (std::size_t i = 0; i < n; ++i) v[i] = w[i] / lambda;
  }
  return lambda;
}

double smallest_eigenvalue(const double* l, std::size_t n) {
  std::vector<double> v = start_vector(n);
  double mu = 0.0;
  for (int it = 0; it < kPowerIterations; ++it) {
    // v <- (L L^T)^-1 v: forward substitution by row dot products, backward by row axpys, so
    // both sweep L along its rows.
    for (std::size_t i = 0; i < n; ++i) {
      double s = v[i];
      for (std::size_t p = 0; p < i; ++p) s -= l[i * n + p] * v[p];
      v[i] = s / l[i * n + i];
    }
    for (std::size_t i = n; i-- > 0;) {
      v[i] /= l[i * n + i];
      for (std::size_t p = 0; p < i; ++p) v[p] -= l[i * n + p] * v[i];
    }
    mu = norm(v);  // the largest eigenvalue of (L L^T)^-1
    for (double& x : v) x /= mu;
  }
  return 1.0 / mu;
}

SymmetricEigen symmetric_eigen(std::vector<double> a, std::size_t n, const Control& control) {
  // Householder reduction to tridiagonal form with the transformations accumulated in V (the
  // EISPACK tred2 / tql2 pair, after the public-domain JAMA formulation). V(row, col) is stored
  // column by column: every inner loop of the reduction and of the accumulation runs down a
  // column, which is then contiguous (row-major storage made them stride-n walks, 4x slower at
  // n = 512). A is symmetric, so its row-major storage is already V's column-major start.
  std::vector<double>& v = a;
  auto at = [&](std::size_t i, std::size_t j) -> double& { return v[j * n + i]; };
  std::vector<double> d(n), e(n, 0.0);
  if (n == 0) return {};
  for (std::size_t j = 0; j < n; ++j) d[j] = at(n - 1, j);
  for (std::size_t i = n - 1; i > 0; --i) {
    control.check();
    double scale = 0.0, h = 0.0;
    for (std::size_t k = 0; k < i; ++k) scale += std::fabs(d[k]);
    if (scale == 0.0) {
      e[i] = d[i - 1];
      for (std::size_t j = 0; j < i; ++j) {
        d[j] = at(i - 1, j);
        at(i, j) = 0.0;
        at(j, i) = 0.0;
      }
    } else {
      for (std::size_t k = 0; k < i; ++k) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      double f = d[i - 1], g = std::sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (std::size_t j = 0; j < i; ++j) e[j] = 0.0;
      for (std::size_t j = 0; j < i; ++j) {
        f = d[j];
        at(j, i) = f;
        g = e[j] + at(j, j) * f;
        for (std::size_t k = j + 1; k < i; ++k) {
          g += at(k, j) * d[k];
          e[k] += at(k, j) * f;
        }
        e[j] = g;
      }
      f = 0.0;
      for (std::size_t j = 0; j < i; ++j) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const double hh = f / (h + h);
      for (std::size_t j = 0; j < i; ++j) e[j] -= hh * d[j];
      for (std::size_t j = 0; j < i; ++j) {
        f = d[j];
        g = e[j];
        for (std::size_t k = j; k < i; ++k) at(k, j) -= f * e[k] + g * d[k];
        d[j] = at(i - 1, j);
        at(i, j) = 0.0;
      }
    }
    d[i] = h;
  }
  for (std::size_t i = 0; i + 1 < n; ++i) {
    at(n - 1, i) = at(i, i);
    at(i, i) = 1.0;
    const double h = d[i + 1];
    if (h != 0.0) {
      for (std::size_t k = 0; k <= i; ++k) d[k] = at(k, i + 1) / h;
      for (std::size_t j = 0; j <= i; ++j) {
        double g = 0.0;
        for (std::size_t k = 0; k <= i; ++k) g += at(k, i + 1) * at(k, j);
        for (std::size_t k = 0; k <= i; ++k) at(k, j) -= g * d[k];
      }
    }
    for (std::size_t k = 0; k <= i; ++k) at(k, i + 1) = 0.0;
  }
  for (std::size_t j = 0; j < n; ++j) {
    d[j] = at(n - 1, j);
    at(n - 1, j) = 0.0;
  }
  at(n - 1, n - 1) = 1.0;
  e[0] = 0.0;

  // Implicit QL on the tridiagonal (d, e). The rotations act on eigenvector rows of W = V^T,
  // which are V's columns: its storage as it stands.
  std::vector<double> w = std::move(v);
  for (std::size_t i = 1; i < n; ++i) e[i - 1] = e[i];
  e[n - 1] = 0.0;
  double f = 0.0, tst1 = 0.0;
  const double eps = std::ldexp(1.0, -52);
  for (std::size_t l = 0; l < n; ++l) {
    control.check();
    tst1 = std::max(tst1, std::fabs(d[l]) + std::fabs(e[l]));
    std::size_t m = l;
    while (m < n && std::fabs(e[m]) > eps * tst1) ++m;
    if (m > l) {
      do {
        double g = d[l];
        double p = (d[l + 1] - g) / (2.0 * e[l]);
        double r = std::hypot(p, 1.0);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const double dl1 = d[l + 1];
        double h = g - d[l];
        for (std::size_t i = l + 2; i < n; ++i) d[i] -= h;
        f += h;
        p = d[m];
        double c = 1.0, c2 = c, c3 = c, s = 0.0, s2 = 0.0;
        const double el1 = e[l + 1];
        for (std::size_t i = m; i-- > l;) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = std::hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          double* wi = w.data() + i * n;
          double* wi1 = wi + n;
          for (std::size_t k = 0; k < n; ++k) {
            const double t = wi1[k];
            wi1[k] = s * wi[k] + c * t;
            wi[k] = c * wi[k] - s * t;
          }
        }
        p = -s * s2 * c3 * el1 * e[l] / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (std::fabs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0.0;
  }
  return SymmetricEigen{std::move(d), std::move(w)};
}

}  // namespace restnet
