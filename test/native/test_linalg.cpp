// Cholesky, the eigenvalue estimates and the symmetric eigendecomposition on matrices whose
// properties are checked directly: L L^T = A, A v = l v, V V^T = I.
#include <cmath>

#include "harness.h"
#include "reference.h"
#include "restnet/linalg.h"

namespace {

// B^T B + shift I for a random B: symmetric positive (semi-)definite with a known structure.
std::vector<double> spd(std::size_t n, std::size_t rows, double shift, unsigned seed) {
  const ref::Data b = ref::random_matrix(rows, n, seed);
  std::vector<double> a(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      double s = i == j ? shift : 0.0;
      for (std::size_t r = 0; r < rows; ++r) s += static_cast<double>(b.values[r * n + i]) * b.values[r * n + j];
      a[i * n + j] = s;
    }
  return a;
}

}  // namespace

TEST(symmetric_eigen_diagonalises_with_orthonormal_vectors) {
  for (std::size_t n : {1, 2, 7, 40, 97}) {
    // rows < n makes A singular: the null space must come out as zero eigenvalues.
    const std::vector<double> a = spd(n, n / 2 + 1, 0.0, 3 + n);
    const restnet::SymmetricEigen eig = restnet::symmetric_eigen(a, n);
    double scale = 0.0;
    for (double l : eig.values) scale = std::fmax(scale, std::fabs(l));
    for (std::size_t k = 0; k < n; ++k) {
      const double* v = eig.vectors.data() + k * n;
      for (std::size_t i = 0; i < n; ++i) {
        double av = 0.0;
        for (std::size_t j = 0; j < n; ++j) av += a[i * n + j] * v[j];
        CHECK_CLOSE(av - eig.values[k] * v[i], 0.0, 1e-12 * scale);
      }
      for (std::size_t q = 0; q < n; ++q) {
        double dot = 0.0;
        for (std::size_t i = 0; i < n; ++i) dot += v[i] * eig.vectors[q * n + i];
        CHECK_CLOSE(dot, q == k ? 1.0 : 0.0, 1e-12);
      }
    }
  }
}

TEST(cholesky_factors_and_estimates_the_condition) {
  const std::size_t n = 30;
  const std::vector<double> a = spd(n, 60, 0.5, 9);
  std::vector<double> l = a;
  CHECK(restnet::cholesky(l.data(), n));
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j <= i; ++j) {
      double s = 0.0;
      for (std::size_t p = 0; p <= j; ++p) s += l[i * n + p] * l[j * n + p];
      CHECK_CLOSE(s, a[i * n + j], 1e-12 * a[i * n + i]);
    }
  const restnet::SymmetricEigen eig = restnet::symmetric_eigen(a, n);
  double lo = 1e300, hi = 0.0;
  for (double v : eig.values) lo = std::fmin(lo, v), hi = std::fmax(hi, v);
  // Estimates (30 power / inverse-power steps): within 0.1%.
  CHECK_CLOSE(restnet::largest_eigenvalue(a.data(), n) / hi, 1.0, 1e-3);
  CHECK_CLOSE(restnet::smallest_eigenvalue(l.data(), n) / lo, 1.0, 1e-3);
  std::vector<double> singular = spd(n, 10, 0.0, 11);
  CHECK(!restnet::cholesky(singular.data(), n));
  // A cancelled control stops the factorisation (it is polled every 64 columns, column 0 first).
  restnet::CancelToken token;
  token.cancel();
  restnet::Control control;
  control.token = &token;
  std::vector<double> again = a;
  CHECK_THROWS(restnet::cholesky(again.data(), n, control), restnet::Cancelled);
}
