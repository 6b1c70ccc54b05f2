#include "restnet/hsic.h"

#include <vector>

#include "restnet/centering.h"
#include "restnet/dispatch.h"
#include "restnet/thread_pool.h"

namespace restnet {
namespace {

// Fixed chunking of long dot products: thread-count independent, and long enough per task to
// amortise the pool hand-off.
constexpr std::size_t kDotChunk = 1 << 16;

template <class T, class ChunkDot>
double chunked_dot(const T* a, const T* b, std::size_t n, ChunkDot chunk_dot) {
  std::vector<double> partial((n + kDotChunk - 1) / kDotChunk, 0.0);
  parallel_ranges(n, kDotChunk, [&](std::size_t i0, std::size_t i1) {
    partial[i0 / kDotChunk] = chunk_dot(a + i0, b + i0, i1 - i0);
  });
  double sum = 0.0;
  for (double p : partial) sum += p;
  return sum;
}

}  // namespace

double dot_f64(const float* a, const float* b, std::size_t n) {
  const Kernels& kern = kernels();
  return chunked_dot(a, b, n, kern.dot_f64);
}

double dot_f64(const double* a, const double* b, std::size_t n) {
  return chunked_dot(a, b, n, [](const double* x, const double* y, std::size_t m) {
    double s = 0.0;
    for (std::size_t i = 0; i < m; ++i) s += x[i] * y[i];
    return s;
  });
}

double hsic_scale(std::size_t n, bool unbiased) {
  const double nn = static_cast<double>(n);
  return unbiased ? 1.0 / (nn * (nn - 3.0)) : 1.0 / ((nn - 1.0) * (nn - 1.0));
}

Matrix64 center_gram(const Matrix64& k, bool unbiased) {
  Matrix64 out(k.rows, k.cols);
  apply_centering(k.data.data(), k.rows, centering_shift(k.data.data(), k.rows, unbiased), out.data.data());
  return out;
}

double hsic(const Matrix64& k, const Matrix64& l, bool unbiased) {
  const Matrix64 kc = center_gram(k, unbiased), lc = center_gram(l, unbiased);
  return dot_f64(kc.data.data(), lc.data.data(), kc.data.size()) * hsic_scale(k.rows, unbiased);
}

}  // namespace restnet
