#include "restnet/linalg.h"

#include <algorithm>
#include <cmath>

#include "restnet/thread_pool.h"

namespace restnet {
namespace {

// Column chunk of the right-hand sides solved by one task: wide enough for SIMD row updates.
constexpr std::size_t kSolveChunk = 64;
constexpr int kPowerIterations = 60;
constexpr int kMaxSweeps = 60;

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

bool cholesky(double* a, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) {
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
    cholesky_solve(l, n, v.data(), 1);
    mu = norm(v);  // the largest eigenvalue of (L L^T)^-1
    for (double& x : v) x /= mu;
  }
  return 1.0 / mu;
}

SymmetricEigen symmetric_eigen(std::vector<double> a, std::size_t n, const Control& control) {
  std::vector<double> v(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) v[i * n + i] = 1.0;
  for (int sweep = 0; sweep < kMaxSweeps; ++sweep) {
    control.check();
    double off = 0.0, diag = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      diag += a[i * n + i] * a[i * n + i];
      for (std::size_t j = i + 1; j < n; ++j) off += a[i * n + j] * a[i * n + j];
    }
    if (off <= 1e-30 * diag || off == 0.0) break;
    for (std::size_t p = 0; p + 1 < n; ++p) {
      for (std::size_t q = p + 1; q < n; ++q) {
        const double apq = a[p * n + q];
        if (apq == 0.0) continue;
        const double app = a[p * n + p], aqq = a[q * n + q];
        // Skip rotations that cannot change the diagonal at working precision.
        if (std::fabs(apq) < 1e-18 * std::sqrt(std::fabs(app * aqq))) {
          a[p * n + q] = a[q * n + p] = 0.0;
          continue;
        }
        const double theta = (aqq - app) / (2.0 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1.0));
        const double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
        // A <- J^T A J on rows/columns p and q.
        for (std::size_t k = 0; k < n; ++k) {
          const double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (std::size_t k = 0; k < n; ++k) {
          const double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        a[p * n + q] = a[q * n + p] = 0.0;
        for (std::size_t k = 0; k < n; ++k) {
          const double vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  SymmetricEigen out{std::vector<double>(n), std::move(v)};
  for (std::size_t i = 0; i < n; ++i) out.values[i] = a[i * n + i];
  return out;
}

}  // namespace restnet
