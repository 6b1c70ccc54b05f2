#include "restnet/gram.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "restnet/centering.h"
#include "restnet/errors.h"
#include "restnet/gemm.h"
#include "restnet/thread_pool.h"

namespace restnet {
namespace {

constexpr std::size_t kRowChunk = 64;

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

Kernel parse_kernel(const std::string& name) {
  if (name == "linear") return Kernel::Linear;
  if (name == "rbf") return Kernel::Rbf;
  throw TypeError("kernel: expected 'linear' or 'rbf', got '" + name + "'");
}

void check_bandwidth(const char* owner, double threshold, double sigma) {
  if (!(threshold > 0.0) || !std::isfinite(threshold)) {
    throw RangeError(std::string(owner) + "::threshold: expected a finite number > 0, got " + number(threshold));
  }
  if (!(sigma >= 0.0) || !std::isfinite(sigma)) {
    throw RangeError(std::string(owner) + "::sigma: expected a finite number >= 0 (0: the median rule), got " +
                     number(sigma));
  }
}

void linear_gram(MatrixView x, double* out) {
  const std::size_t n = x.rows;
  gemm(n, n, x.cols, Operand{x.data, x.stride, false}, Operand{x.data, x.stride, true}, out, n, Part::Symmetric);
}

Matrix64 linear_gram(MatrixView x) {
  Matrix64 k = Matrix64::uninitialized(x.rows, x.rows);
  linear_gram(x, k.data.data());
  return k;
}

void squared_distances(MatrixView x, double* g) {
  const std::vector<float> centred = center_columns(x);
  const std::size_t n = x.rows;
  gemm(n, n, x.cols, Operand{centred.data(), x.cols, false}, Operand{centred.data(), x.cols, true}, g, n, Part::Lower);
  std::vector<double> norms(n);
  for (std::size_t i = 0; i < n; ++i) norms[i] = g[i * n + i];
  // In place over the lower triangle: no mirror of the Gram, the distances are symmetric.
  parallel_ranges(n, kRowChunk, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) {
      for (std::size_t j = 0; j <= i; ++j) g[i * n + j] = norms[i] + norms[j] - 2.0 * g[i * n + j];
    }
  });
}

double median_of_all_entries(const double* d, std::size_t n) {
  // The n^2 entries are n zeros on the diagonal and each off-diagonal value twice, so the
  // order statistics of all entries come from one selection over the strict lower triangle.
  std::vector<double> lower;
  lower.reserve(n * (n - 1) / 2);
  for (std::size_t i = 1; i < n; ++i) lower.insert(lower.end(), d + i * n, d + i * n + i);
  // k-th smallest of the multiset {0 x n} + {each lower value x 2}. Rounding can leave tiny
  // negative distances, so the diagonal zeros are placed by value, not assumed to come first.
  const std::size_t negatives =
      static_cast<std::size_t>(std::count_if(lower.begin(), lower.end(), [](double v) { return v < 0.0; }));
  auto order_stat = [&](std::size_t j) {
    std::nth_element(lower.begin(), lower.begin() + static_cast<std::ptrdiff_t>(j), lower.end());
    return lower[j];
  };
  auto kth = [&](std::size_t k) {
    if (k < 2 * negatives) return order_stat(k / 2);
    if (k < 2 * negatives + n) return 0.0;
    return order_stat((k - n) / 2);
  };
  const std::size_t total = n * n;
  if (total % 2 == 1) return kth(total / 2);
  return 0.5 * (kth(total / 2 - 1) + kth(total / 2));
}

void rbf_gram(MatrixView x, double threshold, double sigma, double* k) {
  const std::size_t n = x.rows;
  squared_distances(x, k);
  const double sigma2 = sigma > 0.0 ? sigma * sigma : threshold * threshold * median_of_all_entries(k, n);
  const double scale = -1.0 / (2.0 * sigma2);
  // The exponent and the mirror in one sweep over square tiles of the lower triangle: each tile
  // takes its exponents row by row, then is copied above the diagonal while it is in cache,
  // writing along rows (a store per row would thrash L1: rows n doubles apart share its sets).
  // A tile row [i0, i1) writes above the diagonal only in columns i0..i1-1: tasks never overlap.
  constexpr std::size_t kTile = 64;
  parallel_ranges(n, kTile, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t j0 = 0; j0 < i1; j0 += kTile) {
      const std::size_t j1 = std::min(j0 + kTile, i1);
      for (std::size_t i = std::max(i0, j0); i < i1; ++i) {
        for (std::size_t j = j0; j < std::min(j1, i + 1); ++j) k[i * n + j] = std::exp(k[i * n + j] * scale);
      }
      for (std::size_t j = j0; j < j1; ++j) {
        for (std::size_t i = std::max(i0, j + 1); i < i1; ++i) k[j * n + i] = k[i * n + j];
      }
    }
  });
}

Matrix64 rbf_gram(MatrixView x, double threshold, double sigma) {
  Matrix64 k = Matrix64::uninitialized(x.rows, x.rows);
  rbf_gram(x, threshold, sigma, k.data.data());
  return k;
}

void gram(MatrixView x, const GramOptions& options, double* out) {
  check_finite(x, "x");
  if (options.kernel == Kernel::Linear) return linear_gram(x, out);
  check_bandwidth("GramOptions", options.threshold, options.sigma);
  rbf_gram(x, options.threshold, options.sigma, out);
}

Matrix64 gram(MatrixView x, const GramOptions& options) {
  Matrix64 k = Matrix64::uninitialized(x.rows, x.rows);
  gram(x, options, k.data.data());
  return k;
}

}  // namespace restnet
