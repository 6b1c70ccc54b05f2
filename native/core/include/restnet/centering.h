// Centring of features and Gram matrices, in f64 and without ever forming H = I - 11^T/n.
#pragma once

#include <string>
#include <vector>

#include "restnet/matrix.h"

namespace restnet {

// Throws RangeError naming `name` and the first position of a NaN or infinity.
void check_finite(MatrixView x, const std::string& name);

// The column means of X, summed in f64 over row chunks in a thread-independent order.
std::vector<double> column_means(MatrixView x);

// X minus `mean` (one value per column) as a contiguous f32 matrix, subtracted in f64.
std::vector<float> center_columns(MatrixView x, const std::vector<double>& mean);

// X minus its column means as a contiguous f32 matrix. The means are taken in f64 and the
// subtraction is done in f64 before rounding, so data with a large common offset keeps its
// small variations.
std::vector<float> center_columns(MatrixView x);

// K <- H K H for a symmetric n x n matrix: subtract row and column means, add the grand mean.
void double_center(double* k, std::size_t n);

// U-centring (Szekely & Rizzo 2014; Kornblith et al. 2019's unbiased centring): the diagonal is
// zeroed and the result makes <K~, L~> / (n (n - 3)) the unbiased HSIC of Song et al. 2012.
// Needs n >= 4 (checked by the callers, which know the argument names).
void u_center(double* k, std::size_t n);

}  // namespace restnet
