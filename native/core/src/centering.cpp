#include "restnet/centering.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "restnet/dispatch.h"
#include "restnet/errors.h"
#include "restnet/thread_pool.h"

namespace restnet {
namespace {

// Row chunks of a fixed size: partial sums combine in chunk order, so results do not depend
// on the thread count.
constexpr std::size_t kRowChunk = 256;

}  // namespace

void check_finite(MatrixView x, const std::string& name) {
  std::vector<char> bad((x.rows + kRowChunk - 1) / kRowChunk, 0);
  parallel_ranges(x.rows, kRowChunk, [&](std::size_t i0, std::size_t i1) {
    std::uint32_t any = 0;
    for (std::size_t i = i0; i < i1; ++i) {
      const float* row = x.row(i);
      for (std::size_t j = 0; j < x.cols; ++j) any |= non_finite_bit(row[j]);
    }
    bad[i0 / kRowChunk] = any != 0;
  });
  if (std::find(bad.begin(), bad.end(), 1) == bad.end()) return;
  for (std::size_t i = 0; i < x.rows; ++i) {
    for (std::size_t j = 0; j < x.cols; ++j) {
      const float v = x.row(i)[j];
      if (!std::isfinite(v)) {
        throw RangeError(name + ": expected finite values, got " + std::to_string(v) + " at row " + std::to_string(i) +
                         ", column " + std::to_string(j));
      }
    }
  }
}

std::vector<double> column_means(MatrixView x) {
  const std::size_t n = x.rows, d = x.cols;
  const std::size_t chunks = (n + kRowChunk - 1) / kRowChunk;
  std::vector<double> partial(chunks * d, 0.0);
  const Kernels& kern = kernels();
  parallel_ranges(n, kRowChunk, [&](std::size_t i0, std::size_t i1) {
    double* sums = partial.data() + (i0 / kRowChunk) * d;
    kern.add_rows_f64(x.row(i0), x.stride, i1 - i0, d, sums);
  });
  std::vector<double> mean(d, 0.0);
  for (std::size_t t = 0; t < chunks; ++t) {
    for (std::size_t j = 0; j < d; ++j) mean[j] += partial[t * d + j];
  }
  for (double& m : mean) m /= static_cast<double>(n);
  return mean;
}

std::vector<double> finite_column_means(MatrixView x, const std::string& name) {
  std::vector<double> mean = column_means(x);
  if (!std::all_of(mean.begin(), mean.end(), [](double m) { return std::isfinite(m); })) check_finite(x, name);
  return mean;
}

std::vector<float> center_columns(MatrixView x, const std::vector<double>& mean) {
  std::vector<float> out(x.rows * x.cols);
  const Kernels& kern = kernels();
  parallel_ranges(x.rows, kRowChunk, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) kern.shifted_f32(x.row(i), mean.data(), x.cols, out.data() + i * x.cols);
  });
  return out;
}

std::vector<float> center_columns(MatrixView x) { return center_columns(x, column_means(x)); }

CenteringShift centering_shift(const double* k, std::size_t n, bool unbiased) {
  // K is symmetric, so its column sums are its row sums. U-centring ignores the diagonal.
  CenteringShift shift;
  shift.row.resize(n);
  shift.zero_diagonal = unbiased;
  parallel_ranges(n, kRowChunk, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) {
      double s = 0.0;
      for (std::size_t j = 0; j < n; ++j) s += k[i * n + j];
      shift.row[i] = unbiased ? (s - k[i * n + i]) / static_cast<double>(n - 2) : s / static_cast<double>(n);
    }
  });
  double total = 0.0;
  for (double m : shift.row) total += m;
  if (unbiased) {
    const double half = total / (2.0 * static_cast<double>(n - 1));
    for (double& m : shift.row) m -= half;
  } else {
    shift.constant = total / static_cast<double>(n);
  }
  return shift;
}

template <class Out>
static void apply(const double* k, std::size_t n, const CenteringShift& shift, Out* out) {
  parallel_ranges(n, kRowChunk, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) {
      const double base = shift.constant - shift.row[i];
      for (std::size_t j = 0; j < n; ++j) out[i * n + j] = static_cast<Out>(k[i * n + j] + base - shift.row[j]);
      if (shift.zero_diagonal) out[i * n + i] = Out(0);
    }
  });
}

void apply_centering(const double* k, std::size_t n, const CenteringShift& shift, double* out) {
  apply(k, n, shift, out);
}

void apply_centering(const double* k, std::size_t n, const CenteringShift& shift, float* out) {
  apply(k, n, shift, out);
}

}  // namespace restnet
