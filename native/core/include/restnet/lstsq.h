// Least-squares fit of a stitching layer, Y ~ X W + b, from streamed co-moments.
//
// The bias is never penalised: X and Y are centred, W solves
//   (Xc^T Xc + ridge I) W = Xc^T Yc        (ridge absolute, not scaled by n)
// and b = mean(Y) - mean(X) W. With bias = false the raw (uncentred) moments are used and
// b = 0.
//
// Statistics: per update, the batch is centred on its own means (in f64, so huge offsets do
// not cancel) and its co-moments Xc^T Xc, Xc^T Yc come from the blocked GEMM with f64 output
// (f32 products summed over at most kBlockK terms, f64 beyond): one sweep over [Yc Xc] that
// centres as it packs, with no centred copy, and adds each finished block straight into the
// running moments. Batches and accumulators combine with the pairwise update of Chan, Golub &
// LeVeque (1979), exact in exact arithmetic; update() and merge() apply it with the same formula.
//
// Solve: Cholesky in f64 when the normal matrix A = C + ridge I is positive definite and its
// condition number (power / inverse-power estimate) is below 1 / kRankTolerance; otherwise a
// symmetric eigendecomposition A = V diag(l) V^T and the pseudo-inverse restricted to the
// eigenvalues l_i > kRankTolerance * l_max. That is the minimum-norm solution for
// rank-deficient X (fewer rows than columns, collinear columns), as numpy.linalg.lstsq gives.
#pragma once

#include <cstddef>
#include <vector>

#include "restnet/control.h"
#include "restnet/linear_map.h"
#include "restnet/matrix.h"

namespace restnet {

// Eigenvalues of the normal matrix below this fraction of the largest are treated as zero:
// singular values of Xc below 0.1% of the largest. The normal matrix carries relative errors
// of order 1e-7 from the f32 products, so directions below this level are rounding noise,
// not signal. (torch.linalg.pinv on f32 data cuts at max(n, d) * 1.2e-7 of the largest
// singular value, the same order.)
constexpr double kRankTolerance = 1e-6;

struct LstsqOptions {
  double ridge = 0.0;
  bool bias = true;
};

enum class LstsqMethod { Cholesky, Eigen };

struct LstsqResult {
  LinearMap map;
  // Sum of squared residuals over every row and output column.
  double residual = 0.0;
  // Eigenvalues kept (x.cols on the Cholesky path).
  std::size_t rank = 0;
  // l_max / l_min of the normal matrix (+ ridge I); infinity when singular.
  double condition = 0.0;
  LstsqMethod method = LstsqMethod::Cholesky;
};

class LeastSquaresAccumulator {
 public:
  LeastSquaresAccumulator(std::size_t in, std::size_t out);

  // Adds the rows of (x, y). Checks shapes and finiteness before changing anything. `control`
  // is checked before the product, not inside it, so a cancelled update changes nothing. The
  // sweep adds its blocks as they finish: an allocation failure inside it (its tasks' buffers,
  // a few KiB each, after the packed operand) would leave the batch half added.
  void update(MatrixView x, MatrixView y, const Control& control = {});
  // Adds another accumulator's statistics (same widths).
  void merge(const LeastSquaresAccumulator& other);
  // The fit of every row seen so far. The residual comes from the accumulated moments:
  // tr(Syy) - 2 tr(W^T Sxy) + tr(W^T Sxx W) with the rounded f32 W, plus rows x the squared
  // rounding of b. Its absolute error is of order 1e-7 tr(Syy), so it is relatively accurate
  // unless the fit is near-exact.
  LstsqResult solve(const LstsqOptions& options, const Control& control = {}) const;

  // Sum of squares of every y seen, about the column means (centred) or about zero.
  double y_sum_squares(bool centred) const;

  std::size_t rows() const { return static_cast<std::size_t>(count_); }
  std::size_t in() const { return in_; }
  std::size_t out() const { return out_; }

 private:
  // The pairwise update (Chan, Golub & LeVeque) adding `count` rows with means (mean_x, mean_y):
  // the rows after, f = n_this n_other / n, g = n_other / n and the differences of the means.
  // A co-moment entry (i, j) gains its batch value + f dx_i d_j; update() and merge() share it.
  struct Pairwise {
    double count, f, g;
    std::vector<double> dx, dy;
  };
  Pairwise pairwise(double count, const std::vector<double>& mean_x, const std::vector<double>& mean_y) const;
  // Adds the batch's sums of squares of y and moves the means and the count.
  void finish(const Pairwise& p, const std::vector<double>& syy);

  std::size_t in_, out_;
  double count_ = 0.0;
  std::vector<double> mean_x_, mean_y_;
  std::vector<double> cxx_;  // in x in, sum of centred outer products
  std::vector<double> cxy_;  // in x out
  std::vector<double> syy_;  // out: sum of squared centred y per column
};

// One-shot fit: one update and solve. When the moment residual is below kMeasuredResidual of
// tr(Syy) (a near-exact fit, where the moment formula cancels), the residual is measured on
// the data with the f32 map instead.
constexpr double kMeasuredResidual = 1e-2;
LstsqResult fit_least_squares(MatrixView x, MatrixView y, const LstsqOptions& options, const Control& control = {});

// Checks x and y for a fit: same rows, finite values. Names the arguments x and y.
void check_pair(MatrixView x, MatrixView y, const char* x_name, const char* y_name);

}  // namespace restnet
