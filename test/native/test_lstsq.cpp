// Least squares against long-double references built from the closed forms: the normal
// equations for full rank, X^T (X X^T + 11^T/n)^-1 Y for the minimum norm with fewer rows
// than columns, and the merged duplicate column for collinear data.
#include <cmath>

#include "harness.h"
#include "reference.h"
#include "restnet/errors.h"
#include "restnet/lstsq.h"
#include "restnet/thread_pool.h"

using restnet::LstsqOptions;
using restnet::MatrixView;

namespace {

using LMat = std::vector<long double>;

MatrixView view(const ref::Data& d) { return MatrixView(d.values.data(), d.rows, d.cols); }

// Gaussian elimination with partial pivoting: A (n x n) X = B (n x k).
LMat solve(LMat a, LMat b, std::size_t n, std::size_t k) {
  for (std::size_t c = 0; c < n; ++c) {
    std::size_t piv = c;
    for (std::size_t r = c + 1; r < n; ++r)
      if (std::fabs(a[r * n + c]) > std::fabs(a[piv * n + c])) piv = r;
    for (std::size_t j = 0; j < n; ++j) std::swap(a[c * n + j], a[piv * n + j]);
    for (std::size_t j = 0; j < k; ++j) std::swap(b[c * k + j], b[piv * k + j]);
    for (std::size_t r = 0; r < n; ++r) {
      if (r == c) continue;
      const long double f = a[r * n + c] / a[c * n + c];
      for (std::size_t j = 0; j < n; ++j) a[r * n + j] -= f * a[c * n + j];
      for (std::size_t j = 0; j < k; ++j) b[r * k + j] -= f * b[c * k + j];
    }
  }
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t j = 0; j < k; ++j) b[r * k + j] /= a[r * n + r];
  return b;
}

LMat centered(const ref::Data& m) {
  LMat out(m.values.begin(), m.values.end());
  for (std::size_t j = 0; j < m.cols; ++j) {
    long double mean = 0;
    for (std::size_t i = 0; i < m.rows; ++i) mean += out[i * m.cols + j];
    mean /= m.rows;
    for (std::size_t i = 0; i < m.rows; ++i) out[i * m.cols + j] -= mean;
  }
  return out;
}

// (Xc^T Xc + ridge I)^-1 Xc^T Yc.
LMat normal_solution(const ref::Data& x, const ref::Data& y, double ridge) {
  const LMat xc = centered(x), yc = centered(y);
  const std::size_t n = x.rows, d = x.cols, k = y.cols;
  LMat a(d * d, 0), b(d * k, 0);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t p = 0; p < d; ++p) {
      for (std::size_t q = 0; q < d; ++q) a[p * d + q] += xc[i * d + p] * xc[i * d + q];
      for (std::size_t j = 0; j < k; ++j) b[p * k + j] += xc[i * d + p] * yc[i * k + j];
    }
  }
  for (std::size_t p = 0; p < d; ++p) a[p * d + p] += ridge;
  return solve(a, b, d, k);
}

// Minimum-norm Xc^+ Yc for n <= d: Xc^T (Xc Xc^T + 11^T / n)^-1 Yc (1 spans Xc's left null space).
LMat min_norm_solution(const ref::Data& x, const ref::Data& y) {
  const LMat xc = centered(x), yc = centered(y);
  const std::size_t n = x.rows, d = x.cols, k = y.cols;
  LMat g(n * n, 0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      long double s = 1.0L / n;
      for (std::size_t p = 0; p < d; ++p) s += xc[i * d + p] * xc[j * d + p];
      g[i * n + j] = s;
    }
  const LMat z = solve(g, yc, n, k);
  LMat w(d * k, 0);
  for (std::size_t p = 0; p < d; ++p)
    for (std::size_t j = 0; j < k; ++j)
      for (std::size_t i = 0; i < n; ++i) w[p * k + j] += xc[i * d + p] * z[i * k + j];
  return w;
}

// ||w - expected||_F / ||expected||_F.
double relative_error(const std::vector<float>& w, const LMat& expected) {
  long double num = 0, den = 0;
  for (std::size_t e = 0; e < w.size(); ++e) {
    num += (w[e] - expected[e]) * (w[e] - expected[e]);
    den += expected[e] * expected[e];
  }
  return static_cast<double>(std::sqrt(num / den));
}

ref::Data linear_target(const ref::Data& x, std::size_t k, unsigned seed, double noise, double offset) {
  const ref::Data w = ref::random_matrix(x.cols, k, seed);
  ref::Data y = ref::random_matrix(x.rows, k, seed + 1);
  for (std::size_t i = 0; i < x.rows; ++i)
    for (std::size_t j = 0; j < k; ++j) {
      double s = offset + noise * y.values[i * k + j];
      for (std::size_t p = 0; p < x.cols; ++p) s += x.values[i * x.cols + p] * w.values[p * k + j] / std::sqrt(x.cols);
      y.values[i * k + j] = static_cast<float>(s);
    }
  return y;
}

}  // namespace

TEST(lstsq_full_rank_matches_normal_equations) {
  for (double offset : {0.0, 1e4}) {
    const ref::Data x = ref::random_matrix(300, 37, 1, offset), y = linear_target(x, 19, 2, 0.1, -offset);
    const restnet::LstsqResult r = restnet::fit_least_squares(view(x), view(y), LstsqOptions{});
    CHECK(r.method == restnet::LstsqMethod::Cholesky);
    CHECK(r.rank == 37);
    CHECK(r.condition > 1.0 && r.condition < 100.0);
    CHECK_CLOSE(relative_error(r.map.weight, normal_solution(x, y, 0.0)), 0.0, 1e-5);
    // The bias makes the residual columns sum to zero (up to the f32 rounding of b).
    const std::vector<float> p = restnet::apply(r.map.view(), view(x));
    double sum = 0.0;
    for (std::size_t i = 0; i < x.rows; ++i) sum += p[i * 19] - y.values[i * 19];
    CHECK_CLOSE(sum / x.rows, 0.0, 1e-3);
  }
}

TEST(lstsq_ridge_is_absolute_and_leaves_bias_unpenalised) {
  const ref::Data x = ref::random_matrix(120, 30, 3, 5.0), y = linear_target(x, 7, 4, 0.5, 2.0);
  LstsqOptions o;
  o.ridge = 40.0;
  const restnet::LstsqResult r = restnet::fit_least_squares(view(x), view(y), o);
  CHECK_CLOSE(relative_error(r.map.weight, normal_solution(x, y, 40.0)), 0.0, 1e-5);
}

TEST(lstsq_fewer_rows_than_columns_gives_minimum_norm) {
  const ref::Data x = ref::random_matrix(25, 60, 5, 1.0), y = linear_target(x, 6, 6, 0.3, 0.0);
  const restnet::LstsqResult r = restnet::fit_least_squares(view(x), view(y), LstsqOptions{});
  CHECK(r.method == restnet::LstsqMethod::Eigen);
  CHECK(r.rank == 24);
  CHECK_CLOSE(relative_error(r.map.weight, min_norm_solution(x, y)), 0.0, 1e-4);
  CHECK_CLOSE(r.residual, 0.0, 1e-6);
}

TEST(lstsq_duplicate_column_splits_its_weight) {
  ref::Data x = ref::random_matrix(200, 12, 7);
  ref::Data wide{std::vector<float>(200 * 13), 200, 13};
  for (std::size_t i = 0; i < 200; ++i) {
    for (std::size_t j = 0; j < 12; ++j) wide.values[i * 13 + j] = x.values[i * 12 + j];
    wide.values[i * 13 + 12] = x.values[i * 12 + 3];
  }
  const ref::Data y = linear_target(x, 5, 8, 0.2, 1.0);
  const restnet::LstsqResult r = restnet::fit_least_squares(view(wide), view(y), LstsqOptions{});
  CHECK(r.rank == 12);
  LMat expected = normal_solution(x, y, 0.0);
  expected.resize(13 * 5);
  for (std::size_t j = 0; j < 5; ++j) {
    expected[3 * 5 + j] /= 2;
    expected[12 * 5 + j] = expected[3 * 5 + j];
  }
  CHECK_CLOSE(relative_error(r.map.weight, expected), 0.0, 1e-5);
}

TEST(lstsq_streaming_and_merge_equal_one_shot) {
  const ref::Data x = ref::random_matrix(500, 20, 9, 300.0), y = linear_target(x, 4, 10, 0.1, 50.0);
  const restnet::LstsqResult one = restnet::fit_least_squares(view(x), view(y), LstsqOptions{});
  restnet::LeastSquaresAccumulator a(20, 4), b(20, 4);
  a.update(MatrixView(x.values.data(), 130, 20), MatrixView(y.values.data(), 130, 4));
  a.update(MatrixView(x.values.data() + 130 * 20, 170, 20), MatrixView(y.values.data() + 130 * 4, 170, 4));
  b.update(MatrixView(x.values.data() + 300 * 20, 200, 20), MatrixView(y.values.data() + 300 * 4, 200, 4));
  a.merge(b);
  CHECK(a.rows() == 500);
  const restnet::LstsqResult streamed = a.solve(LstsqOptions{});
  LMat w(one.map.weight.begin(), one.map.weight.end());
  CHECK_CLOSE(relative_error(streamed.map.weight, w), 0.0, 1e-5);
  for (std::size_t j = 0; j < 4; ++j) CHECK_CLOSE(streamed.map.bias[j], one.map.bias[j], 1e-4);
  CHECK_CLOSE(streamed.residual, one.residual, 1e-3);
}

TEST(lstsq_is_independent_of_thread_count) {
  const ref::Data x = ref::random_matrix(700, 40, 11), y = linear_target(x, 9, 12, 0.1, 0.0);
  restnet::set_thread_count(1);
  const restnet::LstsqResult one = restnet::fit_least_squares(view(x), view(y), LstsqOptions{});
  restnet::set_thread_count(3);
  const restnet::LstsqResult three = restnet::fit_least_squares(view(x), view(y), LstsqOptions{});
  restnet::set_thread_count(0);
  CHECK(one.map.weight == three.map.weight && one.map.bias == three.map.bias);
}

TEST(lstsq_rejects_bad_input) {
  const ref::Data x = ref::random_matrix(10, 3, 13), y = ref::random_matrix(9, 2, 14);
  CHECK_THROWS(restnet::fit_least_squares(view(x), view(y), LstsqOptions{}), restnet::RangeError);
  ref::Data bad = ref::random_matrix(10, 2, 15);
  bad.values[5] = NAN;
  CHECK_THROWS(restnet::fit_least_squares(view(x), view(bad), LstsqOptions{}), restnet::RangeError);
  LstsqOptions o;
  o.ridge = -1.0;
  CHECK_THROWS(restnet::fit_least_squares(view(x), view(ref::random_matrix(10, 2, 16)), o), restnet::RangeError);
  restnet::LeastSquaresAccumulator acc(3, 2);
  CHECK_THROWS(acc.solve(LstsqOptions{}), restnet::RangeError);
  CHECK_THROWS(acc.update(view(ref::random_matrix(4, 5, 1)), view(ref::random_matrix(4, 2, 1))), restnet::RangeError);
}

// A noise-free target over shapes that split the update's sweep every way: several row blocks,
// two column blocks (stacked [Y X] is 575 columns), Y's 45 columns ending inside a micro-panel.
// The fit recovers the generating map, and streaming in three updates gives merge's moments to
// the bit (the update adds each block with merge's formula).
TEST(lstsq_update_spans_blocks_and_streams_like_merge) {
  const std::size_t n = 700, d = 530, k = 45;
  const ref::Data x = ref::random_matrix(n, d, 17, 20.0), w = ref::random_matrix(d, k, 18);
  ref::Data y{std::vector<float>(n * k), n, k};
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < k; ++j) {
      long double s = 3.0L - static_cast<long double>(j);
      for (std::size_t p = 0; p < d; ++p) s += static_cast<long double>(x.values[i * d + p]) * w.values[p * k + j];
      y.values[i * k + j] = static_cast<float>(s);
    }
  const auto rows = [&](const ref::Data& m, std::size_t r0, std::size_t r1) {
    return MatrixView(m.values.data() + r0 * m.cols, r1 - r0, m.cols);
  };
  restnet::LeastSquaresAccumulator streamed(d, k), merged(d, k);
  for (auto [r0, r1] : {std::pair<std::size_t, std::size_t>{0, 250}, {250, 260}, {260, n}}) {
    streamed.update(rows(x, r0, r1), rows(y, r0, r1));
    restnet::LeastSquaresAccumulator batch(d, k);
    batch.update(rows(x, r0, r1), rows(y, r0, r1));
    merged.merge(batch);
  }
  const restnet::LstsqResult a = streamed.solve(LstsqOptions{}), b = merged.solve(LstsqOptions{});
  CHECK(a.map.weight == b.map.weight && a.map.bias == b.map.bias && a.residual == b.residual);
  CHECK(a.method == restnet::LstsqMethod::Cholesky);
  CHECK_CLOSE(relative_error(a.map.weight, LMat(w.values.begin(), w.values.end())), 0.0, 1e-4);
  for (std::size_t j = 0; j < k; ++j) CHECK_CLOSE(a.map.bias[j], 3.0 - static_cast<double>(j), 1e-2);
  CHECK(a.residual < 1e-6 * streamed.y_sum_squares(true));
}
