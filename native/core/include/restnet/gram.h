// Gram (kernel) matrices of samples in rows.
#pragma once

#include <cstddef>
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

// The core's invariant on an RBF bandwidth (callers such as the addon check their own options
// first, so the message names the C++ field): `owner`::threshold a finite number > 0 and, when
// given, `owner`::sigma a finite number >= 0 (0: the median rule). Throws RangeError.
void check_bandwidth(const char* owner, double threshold, double sigma = 0.0);

// Every function below writes an n x n f64 result into `out` (row-major, row stride n, caller's
// storage that need not be initialised: the addon passes a buffer V8 owns, so the result is
// computed in place instead of copied), and has an overload returning a new Matrix64.

// X X^T computed as a symmetric rank-k update: one triangle, each block mirrored while in cache.
void linear_gram(MatrixView x, double* out);
Matrix64 linear_gram(MatrixView x);

// Squared Euclidean distances between rows, from the Gram of the centred rows (translation
// does not change distances, and centring avoids cancellation for data far from the origin).
// Only the lower triangle and the diagonal are written: the matrix is symmetric.
void squared_distances(MatrixView x, double* out);

// The median of all n^2 entries of a symmetric n x n distance matrix with a zero diagonal, as
// numpy.median computes it (mean of the two middle values when n^2 is even), read from its
// strict lower triangle.
double median_of_all_entries(const double* sq_distances, std::size_t n);

// exp(-d^2 / (2 sigma^2)) with sigma chosen per the options: the distances over the lower
// triangle, then the exponent and the mirror in one sweep.
void rbf_gram(MatrixView x, double threshold, double sigma, double* out);
Matrix64 rbf_gram(MatrixView x, double threshold, double sigma);

// Dispatches on options.kernel after validating x (finite) and the options (check_bandwidth).
void gram(MatrixView x, const GramOptions& options, double* out);
Matrix64 gram(MatrixView x, const GramOptions& options);

}  // namespace restnet
