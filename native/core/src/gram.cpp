#include "restnet/gram.h"

#include <algorithm>
#include <cmath>
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

Matrix64 linear_gram(MatrixView x) {
  const std::size_t n = x.rows;
  // Uninitialised: the product zeroes its blocks in parallel, and the mirror fills the rest.
  Matrix64 k = Matrix64::uninitialized(n, n);
  const Operand op{x.data, x.stride, false};
  const Operand op_t{x.data, x.stride, true};
  gemm(n, n, x.cols, op, op_t, k.data.data(), n, Part::Lower);
  mirror_lower(k.data.data(), n, n);
  return k;
}

Matrix64 squared_distances(MatrixView x) {
  const std::vector<float> centred = center_columns(x);
  const std::size_t n = x.rows;
  Matrix64 g = Matrix64::uninitialized(n, n);
  gemm(n, n, x.cols, Operand{centred.data(), x.cols, false}, Operand{centred.data(), x.cols, true}, g.data.data(), n,
       Part::Lower);
  std::vector<double> norms(n);
  for (std::size_t i = 0; i < n; ++i) norms[i] = g.at(i, i);
  // In place over the lower triangle: no mirror of the Gram, the distances are symmetric.
  parallel_ranges(n, kRowChunk, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) {
      for (std::size_t j = 0; j <= i; ++j) g.at(i, j) = norms[i] + norms[j] - 2.0 * g.at(i, j);
    }
  });
  return g;
}

double median_of_all_entries(const Matrix64& d) {
  // The n^2 entries are n zeros on the diagonal and each off-diagonal value twice, so the
  // order statistics of all entries come from one selection over the strict lower triangle.
  const std::size_t n = d.rows;
  std::vector<double> lower;
  lower.reserve(n * (n - 1) / 2);
  for (std::size_t i = 1; i < n; ++i) lower.insert(lower.end(), &d.data[i * n], &d.data[i * n] + i);
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

Matrix64 rbf_gram(MatrixView x, double threshold, double sigma) {
  Matrix64 k = squared_distances(x);
  const double sigma2 = sigma > 0.0 ? sigma * sigma : threshold * threshold * median_of_all_entries(k);
  const double scale = -1.0 / (2.0 * sigma2);
  const std::size_t n = x.rows;
  // The exponent and the mirror in one sweep over square tiles of the lower triangle: each tile
  // takes its exponents row by row, then is copied above the diagonal while it is in cache,
  // writing along rows (a store per row would thrash L1: rows n doubles apart share its sets).
  // A tile row [i0, i1) writes above the diagonal only in columns i0..i1-1: tasks never overlap.
  constexpr std::size_t kTile = 64;
  parallel_ranges(n, kTile, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t j0 = 0; j0 < i1; j0 += kTile) {
      const std::size_t j1 = std::min(j0 + kTile, i1);
      for (std::size_t i = std::max(i0, j0); i < i1; ++i) {
        for (std::size_t j = j0; j < std::min(j1, i + 1); ++j) k.at(i, j) = std::exp(k.at(i, j) * scale);
      }
      for (std::size_t j = j0; j < j1; ++j) {
        for (std::size_t i = std::max(i0, j + 1); i < i1; ++i) k.at(j, i) = k.at(i, j);
      }
    }
  });
  return k;
}

Matrix64 gram(MatrixView x, const GramOptions& options) {
  check_finite(x, "x");
  if (options.kernel == Kernel::Linear) return linear_gram(x);
  if (!(options.threshold > 0.0) || !std::isfinite(options.threshold)) {
    throw RangeError("threshold: expected a finite number > 0, got " + number(options.threshold));
  }
  if (!(options.sigma >= 0.0) || !std::isfinite(options.sigma)) {
    throw RangeError("sigma: expected a finite number > 0, got " + number(options.sigma));
  }
  return rbf_gram(x, options.threshold, options.sigma);
}

}  // namespace restnet
