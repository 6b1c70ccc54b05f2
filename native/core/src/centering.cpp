#include "restnet/centering.h"

#include <algorithm>
#include <cmath>

#include "restnet/errors.h"
#include "restnet/thread_pool.h"

namespace restnet {
namespace {

// Row chunks of a fixed size: partial sums combine in chunk order, so results do not depend
// on the thread count.
constexpr std::size_t kRowChunk = 256;

// Row means of a symmetric n x n matrix (= its column means), each divided by `divisor`.
std::vector<double> row_sums(const double* k, std::size_t n, double divisor) {
  std::vector<double> out(n);
  parallel_ranges(n, kRowChunk, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) {
      double s = 0.0;
      for (std::size_t j = 0; j < n; ++j) s += k[i * n + j];
      out[i] = s / divisor;
    }
  });
  return out;
}

}  // namespace

void check_finite(MatrixView x, const std::string& name) {
  std::vector<char> bad((x.rows + kRowChunk - 1) / kRowChunk, 0);
  parallel_ranges(x.rows, kRowChunk, [&](std::size_t i0, std::size_t i1) {
    char& flag = bad[i0 / kRowChunk];
    for (std::size_t i = i0; i < i1 && !flag; ++i) {
      flag = !std::all_of(x.row(i), x.row(i) + x.cols, [](float v) { return std::isfinite(v); });
    }
  });
  if (std::find(bad.begin(), bad.end(), 1) == bad.end()) return;
  for (std::size_t i = 0; i < x.rows; ++i) {
    for (std::size_t j = 0; j < x.cols; ++j) {
      const float v = x.row(i)[j];
      if (!std::isfinite(v)) {
        throw RangeError(name + ": expected finite values, got " + std::to_string(v) +
                         " at row " + std::to_string(i) + ", column " + std::to_string(j));
      }
    }
  }
}

std::vector<double> column_means(MatrixView x) {
  const std::size_t n = x.rows, d = x.cols;
  const std::size_t chunks = (n + kRowChunk - 1) / kRowChunk;
  std::vector<double> partial(chunks * d, 0.0);
  parallel_ranges(n, kRowChunk, [&](std::size_t i0, std::size_t i1) {
    double* sums = partial.data() + (i0 / kRowChunk) * d;
    for (std::size_t i = i0; i < i1; ++i) {
      const float* row = x.row(i);
      for (std::size_t j = 0; j < d; ++j) sums[j] += row[j];
    }
  });
  std::vector<double> mean(d, 0.0);
  for (std::size_t t = 0; t < chunks; ++t) {
    for (std::size_t j = 0; j < d; ++j) mean[j] += partial[t * d + j];
  }
  for (double& m : mean) m /= static_cast<double>(n);
  return mean;
}

std::vector<float> center_columns(MatrixView x, const std::vector<double>& mean) {
  const std::size_t n = x.rows, d = x.cols;
  std::vector<float> out(n * d);
  parallel_ranges(n, kRowChunk, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) {
      const float* row = x.row(i);
      float* dst = out.data() + i * d;
      for (std::size_t j = 0; j < d; ++j) dst[j] = static_cast<float>(row[j] - mean[j]);
    }
  });
  return out;
}

std::vector<float> center_columns(MatrixView x) { return center_columns(x, column_means(x)); }

void double_center(double* k, std::size_t n) {
  const std::vector<double> mean = row_sums(k, n, static_cast<double>(n));
  double grand = 0.0;
  for (double m : mean) grand += m;
  grand /= static_cast<double>(n);
  parallel_ranges(n, kRowChunk, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) {
      for (std::size_t j = 0; j < n; ++j) k[i * n + j] += grand - mean[i] - mean[j];
    }
  });
}

void u_center(double* k, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) k[i * n + i] = 0.0;
  std::vector<double> mean = row_sums(k, n, static_cast<double>(n - 2));
  double total = 0.0;
  for (double m : mean) total += m;
  const double shift = total / (2.0 * static_cast<double>(n - 1));
  for (double& m : mean) m -= shift;
  parallel_ranges(n, kRowChunk, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) {
      for (std::size_t j = 0; j < n; ++j) k[i * n + j] -= mean[i] + mean[j];
      k[i * n + i] = 0.0;
    }
  });
}

}  // namespace restnet
