#include "restnet/lstsq.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "restnet/centering.h"
#include "restnet/errors.h"
#include "restnet/gemm.h"
#include "restnet/linalg.h"
#include "restnet/thread_pool.h"

namespace restnet {
namespace {

constexpr std::size_t kRowChunk = 256;

std::string shape(MatrixView m) { return std::to_string(m.rows) + " x " + std::to_string(m.cols); }

// Per-column sums of squares of a contiguous rows x cols matrix, in f64.
std::vector<double> column_sum_squares(const std::vector<float>& m, std::size_t rows, std::size_t cols) {
  const std::size_t chunks = (rows + kRowChunk - 1) / kRowChunk;
  std::vector<double> partial(chunks * cols, 0.0);
  parallel_ranges(rows, kRowChunk, [&](std::size_t i0, std::size_t i1) {
    double* sums = partial.data() + (i0 / kRowChunk) * cols;
    for (std::size_t i = i0; i < i1; ++i) {
      const float* row = m.data() + i * cols;
      for (std::size_t j = 0; j < cols; ++j) sums[j] += static_cast<double>(row[j]) * row[j];
    }
  });
  std::vector<double> out(cols, 0.0);
  for (std::size_t t = 0; t < chunks; ++t) {
    for (std::size_t j = 0; j < cols; ++j) out[j] += partial[t * cols + j];
  }
  return out;
}

// W = A^+ B through A = V diag(l) V^T, keeping l_i > kRankTolerance * l_max.
void pseudo_inverse_solve(const std::vector<double>& a, const std::vector<double>& b, std::size_t d, std::size_t k,
                          std::vector<double>& w, LstsqResult& result, const Control& control) {
  const SymmetricEigen eig = symmetric_eigen(a, d, control);
  const double lmax = d == 0 ? 0.0 : *std::max_element(eig.values.begin(), eig.values.end());
  const double lmin = d == 0 ? 0.0 : *std::min_element(eig.values.begin(), eig.values.end());
  std::vector<std::size_t> kept;
  for (std::size_t i = 0; i < d; ++i) {
    if (lmax > 0.0 && eig.values[i] > kRankTolerance * lmax) kept.push_back(i);
  }
  // T = diag(1 / l) V_kept^T B, then W = V_kept T.
  std::vector<double> t(kept.size() * k, 0.0);
  parallel_ranges(kept.size(), 16, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const std::size_t e = kept[r];
      double* tr = t.data() + r * k;
      for (std::size_t p = 0; p < d; ++p) {
        const double v = eig.vectors[e * d + p];
        const double* bp = b.data() + p * k;
        for (std::size_t j = 0; j < k; ++j) tr[j] += v * bp[j];
      }
      for (std::size_t j = 0; j < k; ++j) tr[j] /= eig.values[e];
    }
  });
  w.assign(d * k, 0.0);
  parallel_ranges(d, 16, [&](std::size_t p0, std::size_t p1) {
    for (std::size_t p = p0; p < p1; ++p) {
      double* wp = w.data() + p * k;
      for (std::size_t r = 0; r < kept.size(); ++r) {
        const double v = eig.vectors[kept[r] * d + p];
        const double* tr = t.data() + r * k;
        for (std::size_t j = 0; j < k; ++j) wp[j] += v * tr[j];
      }
    }
  });
  result.method = LstsqMethod::Eigen;
  result.rank = kept.size();
  result.condition = lmin > 0.0 ? lmax / lmin : std::numeric_limits<double>::infinity();
}

}  // namespace

void check_pair(MatrixView x, MatrixView y, const char* x_name, const char* y_name) {
  if (x.rows != y.rows) {
    throw RangeError(std::string(y_name) + ": expected " + std::to_string(x.rows) + " rows (as " + x_name + "), got " +
                     shape(y));
  }
  check_finite(x, x_name);
  check_finite(y, y_name);
}

LeastSquaresAccumulator::LeastSquaresAccumulator(std::size_t in, std::size_t out)
    : in_(in), out_(out), mean_x_(in, 0.0), mean_y_(out, 0.0), cxx_(in * in, 0.0), cxy_(in * out, 0.0), syy_(out, 0.0) {
  if (in == 0 || out == 0) {
    throw RangeError("LeastSquaresAccumulator: expected input and output widths >= 1, got " + std::to_string(in) +
                     " and " + std::to_string(out));
  }
}

void LeastSquaresAccumulator::update(MatrixView x, MatrixView y, const Control& control) {
  if (x.cols != in_) {
    throw RangeError("x: expected " + std::to_string(in_) + " columns (the accumulator's input width), got " +
                     shape(x));
  }
  if (y.cols != out_) {
    throw RangeError("y: expected " + std::to_string(out_) + " columns (the accumulator's output width), got " +
                     shape(y));
  }
  check_pair(x, y, "x", "y");
  control.check();
  const std::size_t n = x.rows;
  LeastSquaresAccumulator batch(in_, out_);
  batch.count_ = static_cast<double>(n);
  batch.mean_x_ = column_means(x);
  batch.mean_y_ = column_means(y);
  const std::vector<float> xc = center_columns(x, batch.mean_x_);
  const std::vector<float> yc = center_columns(y, batch.mean_y_);
  const Operand xt{xc.data(), in_, true};
  gemm(in_, in_, n, xt, Operand{xc.data(), in_, false}, batch.cxx_.data(), in_, Part::Lower);
  mirror_lower(batch.cxx_.data(), in_, in_);
  control.check();
  gemm(in_, out_, n, xt, Operand{yc.data(), out_, false}, batch.cxy_.data(), out_);
  batch.syy_ = column_sum_squares(yc, n, out_);
  merge(batch);
}

void LeastSquaresAccumulator::merge(const LeastSquaresAccumulator& other) {
  if (other.in_ != in_ || other.out_ != out_) {
    throw RangeError("other: expected an accumulator of " + std::to_string(in_) + " -> " + std::to_string(out_) +
                     ", got " + std::to_string(other.in_) + " -> " + std::to_string(other.out_));
  }
  if (other.count_ == 0.0) return;
  const double n = count_ + other.count_;
  const double f = count_ * other.count_ / n, g = other.count_ / n;
  std::vector<double> dx(in_), dy(out_);
  for (std::size_t i = 0; i < in_; ++i) dx[i] = other.mean_x_[i] - mean_x_[i];
  for (std::size_t j = 0; j < out_; ++j) dy[j] = other.mean_y_[j] - mean_y_[j];
  parallel_ranges(in_, 32, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) {
      for (std::size_t p = 0; p < in_; ++p) cxx_[i * in_ + p] += other.cxx_[i * in_ + p] + f * dx[i] * dx[p];
      for (std::size_t j = 0; j < out_; ++j) cxy_[i * out_ + j] += other.cxy_[i * out_ + j] + f * dx[i] * dy[j];
    }
  });
  for (std::size_t j = 0; j < out_; ++j) syy_[j] += other.syy_[j] + f * dy[j] * dy[j];
  for (std::size_t i = 0; i < in_; ++i) mean_x_[i] += g * dx[i];
  for (std::size_t j = 0; j < out_; ++j) mean_y_[j] += g * dy[j];
  count_ = n;
}

LstsqResult LeastSquaresAccumulator::solve(const LstsqOptions& options, const Control& control) const {
  if (!(options.ridge >= 0.0) || !std::isfinite(options.ridge)) {
    throw RangeError("LstsqOptions::ridge: expected a finite number >= 0, got " + std::to_string(options.ridge));
  }
  if (count_ == 0.0) throw RangeError("LeastSquaresAccumulator: no rows to solve from; call update() first");
  const std::size_t d = in_, k = out_;
  // d x d matrices are the memory of a wide stitch (d = 8192: 512 MiB each), so the solve keeps
  // to one copy besides the accumulator's: with a bias the normal matrix is cxx_ itself; moments
  // about the origin (no bias to absorb the means) are a modified copy.
  std::vector<double> uncentred, b = cxy_, syy = syy_;
  if (!options.bias) {
    uncentred = cxx_;
    for (std::size_t i = 0; i < d; ++i) {
      for (std::size_t p = 0; p < d; ++p) uncentred[i * d + p] += count_ * mean_x_[i] * mean_x_[p];
      for (std::size_t j = 0; j < k; ++j) b[i * k + j] += count_ * mean_x_[i] * mean_y_[j];
    }
    for (std::size_t j = 0; j < k; ++j) syy[j] += count_ * mean_y_[j] * mean_y_[j];
  }
  const std::vector<double>& moments = options.bias ? cxx_ : uncentred;  // without the ridge, for the residual
  const auto with_ridge = [&] {
    std::vector<double> a = moments;
    for (std::size_t i = 0; i < d; ++i) a[i * d + i] += options.ridge;
    return a;
  };
  control.check();

  LstsqResult result;
  std::vector<double> w;
  std::vector<double> l = with_ridge();
  bool solved = false;
  if (cholesky(l.data(), d, control)) {
    // The ridge shifts every eigenvalue of the symmetric moments by the same amount.
    const double cond = (largest_eigenvalue(moments.data(), d) + options.ridge) / smallest_eigenvalue(l.data(), d);
    control.check();
    if (cond * kRankTolerance < 1.0) {
      w = b;
      cholesky_solve(l.data(), d, w.data(), k);
      result.method = LstsqMethod::Cholesky;
      result.rank = d;
      result.condition = cond;
      solved = true;
    }
  }
  if (!solved) {
    std::vector<double>().swap(l);  // the failed factor goes before the fallback's copy
    pseudo_inverse_solve(with_ridge(), b, d, k, w, result, control);
  }

  LinearMap& map = result.map;
  map = LinearMap(d, k);
  for (std::size_t e = 0; e < d * k; ++e) map.weight[e] = static_cast<float>(w[e]);
  // With the bias, the residual columns have mean b_exact - b, the rounding of b: it adds
  // rows x (b_exact - b)^2 to the centred residual.
  double rss = 0.0;
  if (options.bias) {
    for (std::size_t j = 0; j < k; ++j) {
      double s = mean_y_[j];
      for (std::size_t i = 0; i < d; ++i) s -= mean_x_[i] * static_cast<double>(map.weight[i * k + j]);
      map.bias[j] = static_cast<float>(s);
      rss += count_ * (s - map.bias[j]) * (s - map.bias[j]);
    }
  }
  // ||Yc - Xc W||^2 = tr(Syy) - 2 tr(W^T B) + tr(W^T A W) with the rounded W.
  std::vector<double> aw(d * k, 0.0);
  parallel_ranges(d, 16, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) {
      for (std::size_t p = 0; p < d; ++p) {
        const double aip = moments[i * d + p];
        const float* wp = map.weight.data() + p * k;
        for (std::size_t j = 0; j < k; ++j) aw[i * k + j] += aip * wp[j];
      }
    }
  });
  for (std::size_t j = 0; j < k; ++j) rss += syy[j];
  for (std::size_t e = 0; e < d * k; ++e) rss += static_cast<double>(map.weight[e]) * (aw[e] - 2.0 * b[e]);
  result.residual = std::max(rss, 0.0);
  return result;
}

double LeastSquaresAccumulator::y_sum_squares(bool centred) const {
  double total = 0.0;
  for (std::size_t j = 0; j < out_; ++j) total += syy_[j] + (centred ? 0.0 : count_ * mean_y_[j] * mean_y_[j]);
  return total;
}

LstsqResult fit_least_squares(MatrixView x, MatrixView y, const LstsqOptions& options, const Control& control) {
  LeastSquaresAccumulator acc(x.cols, y.cols);
  acc.update(x, y, control);
  LstsqResult result = acc.solve(options, control);
  if (!(result.residual >= kMeasuredResidual * acc.y_sum_squares(options.bias)))
    result.residual = residual_sum_squares(result.map, x, y);
  return result;
}

}  // namespace restnet
