#include "restnet/lstsq.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "restnet/centering.h"
#include "restnet/errors.h"
#include "restnet/gemm.h"
#include "restnet/linalg.h"
#include "restnet/thread_pool.h"

namespace restnet {
namespace {

std::string shape(MatrixView m) { return std::to_string(m.rows) + " x " + std::to_string(m.cols); }

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

void check_rows(MatrixView x, MatrixView y, const char* x_name, const char* y_name) {
  if (x.rows != y.rows) {
    throw RangeError(std::string(y_name) + ": expected " + std::to_string(x.rows) + " rows (as " + x_name + "), got " +
                     shape(y));
  }
}

}  // namespace

void check_pair(MatrixView x, MatrixView y, const char* x_name, const char* y_name) {
  check_rows(x, y, x_name, y_name);
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

LeastSquaresAccumulator::Pairwise LeastSquaresAccumulator::pairwise(double count, const std::vector<double>& mean_x,
                                                                    const std::vector<double>& mean_y) const {
  Pairwise p;
  p.count = count_ + count;
  p.f = count_ * count / p.count;
  p.g = count / p.count;
  p.dx.resize(in_);
  p.dy.resize(out_);
  for (std::size_t i = 0; i < in_; ++i) p.dx[i] = mean_x[i] - mean_x_[i];
  for (std::size_t j = 0; j < out_; ++j) p.dy[j] = mean_y[j] - mean_y_[j];
  return p;
}

void LeastSquaresAccumulator::finish(const Pairwise& p, const std::vector<double>& syy) {
  for (std::size_t j = 0; j < out_; ++j) syy_[j] += syy[j] + p.f * p.dy[j] * p.dy[j];
  for (std::size_t i = 0; i < in_; ++i) mean_x_[i] += p.g * p.dx[i];
  for (std::size_t j = 0; j < out_; ++j) mean_y_[j] += p.g * p.dy[j];
  count_ = p.count;
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
  check_rows(x, y, "x", "y");
  const std::size_t n = x.rows;
  // The means check finiteness in the same pass (finite_column_means), before anything changes.
  const std::vector<double> mean_x = finite_column_means(x, "x"), mean_y = finite_column_means(y, "y");
  control.check();
  if (n == 0) return;
  const Pairwise p = pairwise(static_cast<double>(n), mean_x, mean_y);
  std::vector<double> syy(out_, 0.0);  // Yc's column sums of squares, taken as the sweep packs Yc
  // The batch's co-moments are the rows of Xc in Z = [Yc Xc] against Z's columns up to the
  // diagonal: Xc^T Yc and the lower triangle of Xc^T Xc, none of Yc^T Yc. One sweep packs Y and X
  // side by side, centring as it packs (no centred copies), and each finished block goes straight
  // into the running moments with the pairwise update's formula (merge's, to the bit), the upper
  // triangle of Cxx from its mirror image: no batch accumulator and no merge pass. Row blocks
  // write disjoint parts (a row block's rows, and above the diagonal only its own columns). The
  // sweep has no cancellation point, so an update is whole or not at all.
  const std::size_t dy = out_, in = in_;
  gram_sweep(
      {GramOperand{{Operand{y.data, y.stride, true}, mean_y.data(), syy.data()},
                   dy + in,
                   n,
                   {Operand{x.data, x.stride, true}, mean_x.data()},
                   dy}},
      [&](std::size_t i0, std::size_t i1, std::size_t j0, std::size_t j1, const std::vector<const double*>& blocks) {
        const double* block = blocks[0];
        const std::size_t w = j1 - j0;
        const std::size_t cross_end = std::min(j1, dy);  // columns [j0, cross_end) are Yc's
        for (std::size_t i = i0; i < i1; ++i) {
          const std::size_t a = i - dy;
          const double* row = block + (i - i0) * w;
          const double fa = p.f * p.dx[a];
          double* cxy = cxy_.data() + a * out_;
          for (std::size_t j = j0; j < cross_end; ++j) cxy[j] += row[j - j0] + fa * p.dy[j];
          double* cxx = cxx_.data() + a * in;  // row a of Cxx
          for (std::size_t j = std::max(j0, dy); j < std::min(j1, i + 1); ++j)
            cxx[j - dy] += row[j - j0] + fa * p.dx[j - dy];
        }
        // Mirror images Cxx(b, a), b < a: each row b of Cxx gets a run of the block's rows, in groups
        // that start on a cache line of Cxx (when rows of Cxx are whole lines apart), so that each
        // line is read and written once; the lines of the rows kAhead columns on are prefetched,
        // since writes down a column, a row of Cxx apart, defeat the hardware prefetchers.
        constexpr std::size_t kLine = 64 / sizeof(double), kAhead = 8;
        const std::size_t line_offset = reinterpret_cast<std::uintptr_t>(cxx_.data()) / sizeof(double) % kLine;
        for (std::size_t g0 = i0, g1; g0 < i1; g0 = g1) {
          g1 = std::min(i1, g0 + kLine - (g0 - dy + line_offset) % kLine);
          for (std::size_t j = std::max(j0, dy); j < std::min(j1, g1 - 1); ++j) {
            const std::size_t b = j - dy;
            if (b + kAhead < in) __builtin_prefetch(cxx_.data() + (b + kAhead) * in + (g0 - dy), 1);
            const double fb = p.f * p.dx[b];
            double* cxx = cxx_.data() + b * in;  // row b of Cxx
            for (std::size_t i = std::max(g0, j + 1); i < g1; ++i)
              cxx[i - dy] += block[(i - i0) * w + (j - j0)] + fb * p.dx[i - dy];
          }
        }
      },
      dy);
  finish(p, syy);
}

void LeastSquaresAccumulator::merge(const LeastSquaresAccumulator& other) {
  if (other.in_ != in_ || other.out_ != out_) {
    throw RangeError("other: expected an accumulator of " + std::to_string(in_) + " -> " + std::to_string(out_) +
                     ", got " + std::to_string(other.in_) + " -> " + std::to_string(other.out_));
  }
  if (other.count_ == 0.0) return;
  const Pairwise p = pairwise(other.count_, other.mean_x_, other.mean_y_);
  parallel_ranges(in_, 32, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) {
      for (std::size_t q = 0; q < in_; ++q) cxx_[i * in_ + q] += other.cxx_[i * in_ + q] + p.f * p.dx[i] * p.dx[q];
      for (std::size_t j = 0; j < out_; ++j) cxy_[i * out_ + j] += other.cxy_[i * out_ + j] + p.f * p.dx[i] * p.dy[j];
    }
  });
  finish(p, other.syy_);
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
