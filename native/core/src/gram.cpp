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
  Matrix64 g = linear_gram(MatrixView(centred.data(), x.rows, x.cols));
  const std::size_t n = x.rows;
  std::vector<double> norms(n);
  for (std::size_t i = 0; i < n; ++i) norms[i] = g.at(i, i);
  parallel_ranges(n, kRowChunk, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) {
      for (std::size_t j = 0; j < n; ++j) g.at(i, j) = norms[i] + norms[j] - 2.0 * g.at(i, j);
    }
  });
  return g;
}

double median_of_all_entries(const Matrix64& d) {
  // The n^2 entries are n zeros on the diagonal and each off-diagonal value twice, so the
  // order statistics of all entries come from one selection over the strict upper triangle.
  const std::size_t n = d.rows;
  std::vector<double> upper;
  upper.reserve(n * (n - 1) / 2);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) upper.push_back(d.at(i, j));
  }
  // k-th smallest of the multiset {0 x n} + {each upper value x 2}. Rounding can leave tiny
  // negative distances, so the diagonal zeros are placed by value, not assumed to come first.
  const std::size_t negatives =
      static_cast<std::size_t>(std::count_if(upper.begin(), upper.end(), [](double v) { return v < 0.0; }));
  auto order_stat = [&](std::size_t j) {
    std::nth_element(upper.begin(), upper.begin() + static_cast<std::ptrdiff_t>(j), upper.end());
    return upper[j];
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
  parallel_ranges(n, kRowChunk, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) {
      for (std::size_t j = 0; j < n; ++j) k.at(i, j) = std::exp(k.at(i, j) * scale);
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
