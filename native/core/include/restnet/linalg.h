// Dense symmetric f64 linear algebra for small systems (the d x d normal equations of a
// stitching layer): Cholesky, triangular solves, extreme-eigenvalue estimates and a full
// symmetric eigendecomposition for the rank-deficient fallback.
#pragma once

#include <cstddef>
#include <vector>

#include "restnet/control.h"

namespace restnet {

// In-place Cholesky A = L L^T of a symmetric n x n row-major matrix; only the lower triangle
// is read and L overwrites it. Returns false (leaving `a` partly overwritten) when a pivot is
// not positive, i.e. A is not numerically positive definite. The control is checked every 64
// columns.
bool cholesky(double* a, std::size_t n, const Control& control = {});

// Solves L L^T X = B in place for B (n x cols, row-major), L from cholesky(). Threaded over
// column ranges of B.
void cholesky_solve(const double* l, std::size_t n, double* b, std::size_t cols);

// The largest eigenvalue of a symmetric positive semi-definite matrix, by power iteration.
double largest_eigenvalue(const double* a, std::size_t n);
// The smallest eigenvalue of L L^T, by inverse power iteration with the Cholesky factor.
double smallest_eigenvalue(const double* l, std::size_t n);

// A = V diag(values) V^T. `vectors` is n x n row-major with eigenvector k in row k.
struct SymmetricEigen {
  std::vector<double> values;
  std::vector<double> vectors;
};

// Householder tridiagonalisation and implicit QL (EISPACK tred2 / tql2), O(n^3) with small
// constants; backward stable, so eigenvalues carry absolute errors of order eps * ||A||, far
// below the rank threshold. The control is checked once per row.
SymmetricEigen symmetric_eigen(std::vector<double> a, std::size_t n, const Control& control = {});

}  // namespace restnet
