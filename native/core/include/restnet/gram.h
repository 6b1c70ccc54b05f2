// Gram (kernel) matrices of samples in rows.
#pragma once

#include <string>

#include "restnet/matrix.h"

namespace restnet {

enum class Kernel { Linear, Rbf };

// Parses "linear" | "rbf"; throws TypeError naming the option otherwise.
Kernel parse_kernel(const std::string& name);

struct GramOptions {
  Kernel kernel = Kernel::Linear;
  // RBF bandwidth by Kornblith's rule: sigma^2 = threshold^2 * median of the n^2 squared
  // distances (the zero diagonal included).
  double threshold = 1.0;
  // An explicit RBF bandwidth; 0 means "use the median rule".
  double sigma = 0.0;
};

// X X^T computed as a symmetric rank-k update: one triangle, then mirrored.
Matrix64 linear_gram(MatrixView x);

// Squared Euclidean distances between rows, from the Gram of the centred rows (translation
// does not change distances, and centring avoids cancellation for data far from the origin).
// Only the lower triangle and the diagonal are written: the matrix is symmetric.
Matrix64 squared_distances(MatrixView x);

// The median of all n^2 entries of a symmetric distance matrix with a zero diagonal, as
// numpy.median computes it (mean of the two middle values when n^2 is even), read from its
// strict lower triangle.
double median_of_all_entries(const Matrix64& sq_distances);

// exp(-d^2 / (2 sigma^2)) with sigma chosen per the options: the distances over the lower
// triangle, then the exponent and the mirror in one sweep.
Matrix64 rbf_gram(MatrixView x, double threshold, double sigma);

// Dispatches on options.kernel after validating x (finite) and the options (RangeError).
Matrix64 gram(MatrixView x, const GramOptions& options);

}  // namespace restnet
