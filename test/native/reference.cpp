#include "reference.h"

#include <algorithm>
#include <cmath>

namespace ref {

Data random_matrix(std::size_t rows, std::size_t cols, unsigned seed, double offset) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal;
  Data d{std::vector<float>(rows * cols), rows, cols};
  for (float& v : d.values) v = static_cast<float>(offset + normal(rng));
  return d;
}

Mat gram_linear(const Data& x) {
  Mat k(x.rows * x.rows, 0.0);
  for (std::size_t i = 0; i < x.rows; ++i) {
    for (std::size_t j = 0; j < x.rows; ++j) {
      double s = 0.0;
      for (std::size_t p = 0; p < x.cols; ++p) {
        s += static_cast<double>(x.values[i * x.cols + p]) * x.values[j * x.cols + p];
      }
      k[i * x.rows + j] = s;
    }
  }
  return k;
}

Mat gram_linear_centered(const Data& x) {
  std::vector<double> mean(x.cols, 0.0);
  for (std::size_t i = 0; i < x.rows; ++i)
    for (std::size_t p = 0; p < x.cols; ++p) mean[p] += x.values[i * x.cols + p];
  for (double& m : mean) m /= static_cast<double>(x.rows);
  Mat k(x.rows * x.rows, 0.0);
  for (std::size_t i = 0; i < x.rows; ++i) {
    for (std::size_t j = 0; j < x.rows; ++j) {
      double s = 0.0;
      for (std::size_t p = 0; p < x.cols; ++p) {
        s += (x.values[i * x.cols + p] - mean[p]) * (x.values[j * x.cols + p] - mean[p]);
      }
      k[i * x.rows + j] = s;
    }
  }
  return k;
}

Mat gram_rbf(const Data& x, double threshold) {
  const std::size_t n = x.rows;
  Mat d(n * n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (std::size_t p = 0; p < x.cols; ++p) {
        const double diff = static_cast<double>(x.values[i * x.cols + p]) - x.values[j * x.cols + p];
        s += diff * diff;
      }
      d[i * n + j] = s;
    }
  }
  Mat sorted = d;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t m = sorted.size();
  const double median = m % 2 ? sorted[m / 2] : 0.5 * (sorted[m / 2 - 1] + sorted[m / 2]);
  for (double& v : d) v = std::exp(-v / (2.0 * threshold * threshold * median));
  return d;
}

static Mat multiply(const Mat& a, const Mat& b, std::size_t n) {
  Mat c(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t p = 0; p < n; ++p)
      for (std::size_t j = 0; j < n; ++j) c[i * n + j] += a[i * n + p] * b[p * n + j];
  return c;
}

double hsic_biased(const Mat& k, const Mat& l, std::size_t n) {
  Mat h(n * n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) h[i * n + j] = (i == j ? 1.0 : 0.0) - 1.0 / static_cast<double>(n);
  const Mat khlh = multiply(multiply(multiply(k, h, n), l, n), h, n);
  double trace = 0.0;
  for (std::size_t i = 0; i < n; ++i) trace += khlh[i * n + i];
  return trace / ((n - 1.0) * (n - 1.0));
}

double hsic_unbiased(const Mat& k, const Mat& l, std::size_t n) {
  Mat kt = k, lt = l;
  for (std::size_t i = 0; i < n; ++i) kt[i * n + i] = lt[i * n + i] = 0.0;
  double tr = 0.0, sum_k = 0.0, sum_l = 0.0, cross = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    double row_k = 0.0, row_l = 0.0;
    for (std::size_t j = 0; j < n; ++j) {
      tr += kt[i * n + j] * lt[j * n + i];
      row_k += kt[i * n + j];
      row_l += lt[i * n + j];
    }
    sum_k += row_k;
    sum_l += row_l;
    cross += row_k * row_l;  // 1^T K~ L~ 1 with symmetric K~, L~
  }
  const double nn = static_cast<double>(n);
  return (tr + sum_k * sum_l / ((nn - 1) * (nn - 2)) - 2.0 / (nn - 2) * cross) / (nn * (nn - 3));
}

double cka(const Mat& k, const Mat& l, std::size_t n, bool debiased) {
  auto h = debiased ? hsic_unbiased : hsic_biased;
  return h(k, l, n) / std::sqrt(h(k, k, n) * h(l, l, n));
}

}  // namespace ref
