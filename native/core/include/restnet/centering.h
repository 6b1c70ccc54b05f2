// Centring of features and Gram matrices, in f64 and without ever forming H = I - 11^T/n.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "restnet/matrix.h"

namespace restnet {

// Throws RangeError naming `name` and the first position of a NaN or infinity.
void check_finite(MatrixView x, const std::string& name);

// 1 when v is infinite or NaN (every exponent bit set), else 0. OR-ed over many values without a
// branch per value, the loop vectorises; the position is found afterwards, and only when needed.
inline std::uint32_t non_finite_bit(float v) {
  constexpr std::uint32_t kExponent = 0x7f800000u;
  std::uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return static_cast<std::uint32_t>((bits & kExponent) == kExponent);
}

// The column means of X, summed in f64 over row chunks in a thread-independent order.
std::vector<double> column_means(MatrixView x);
// The same, standing in for check_finite in one pass instead of two: a NaN or infinity makes its
// column's f64 sum non-finite (finite f32 values cannot overflow it), and only then is X scanned
// again for the position to report.
std::vector<double> finite_column_means(MatrixView x, const std::string& name);

// X minus `mean` (one value per column) as a contiguous f32 matrix, subtracted in f64.
std::vector<float> center_columns(MatrixView x, const std::vector<double>& mean);

// X minus its column means as a contiguous f32 matrix. The means are taken in f64 and the
// subtraction is done in f64 before rounding, so data with a large common offset keeps its
// small variations.
std::vector<float> center_columns(MatrixView x);

// Centring a symmetric n x n Gram K is out_ij = K_ij - row_i - row_j + constant (and a zero
// diagonal for U-centring): the shift is computed in one pass over K and applied in another,
// which can write f64 in place or f32 for storage, without ever forming H = I - 11^T / n.
struct CenteringShift {
  std::vector<double> row;
  double constant = 0.0;
  bool zero_diagonal = false;
};

// Biased: H K H (row means and the grand mean). Unbiased: U-centring (Szekely & Rizzo 2014;
// Kornblith et al. 2019), for which <K~, L~> / (n (n - 3)) is the unbiased HSIC of Song et al.
// 2012; it needs n >= 4, which the callers check (they know the argument names).
CenteringShift centering_shift(const double* k, std::size_t n, bool unbiased);
void apply_centering(const double* k, std::size_t n, const CenteringShift& shift, double* out);
void apply_centering(const double* k, std::size_t n, const CenteringShift& shift, float* out);

}  // namespace restnet
