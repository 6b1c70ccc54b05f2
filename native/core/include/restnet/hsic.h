// Hilbert-Schmidt Independence Criterion estimators on Gram matrices.
#pragma once

#include <cstddef>

#include "restnet/matrix.h"

namespace restnet {

// Biased HSIC (Gretton et al. 2005): tr(K H L H) / (n - 1)^2.
// Unbiased HSIC (Song et al. 2012): <K~, L~> / (n (n - 3)) with U-centred K~, L~.
// This is the factor that turns the inner product of centred Grams into the estimate.
double hsic_scale(std::size_t n, bool unbiased);

// A centred copy of the square Gram k: H K H, or U-centred when unbiased (n >= 4).
Matrix64 center_gram(const Matrix64& k, bool unbiased);

// HSIC of two n x n Gram matrices (not yet centred).
double hsic(const Matrix64& k, const Matrix64& l, bool unbiased);

// sum_i a[i] * b[i] in f64 with the active SIMD kernel, split into fixed-size chunks on the
// thread pool (the chunking does not depend on the thread count, so neither does the result).
double dot_f64(const float* a, const float* b, std::size_t n);
double dot_f64(const double* a, const double* b, std::size_t n);

}  // namespace restnet
