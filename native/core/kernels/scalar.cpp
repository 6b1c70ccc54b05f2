// Portable kernels: the reference every SIMD path is tested against, and the fallback.
#include <cmath>
#include <cstddef>

#include "../src/kernel_table.h"

namespace restnet {
namespace {

constexpr std::size_t kMr = 4;
constexpr std::size_t kNr = 4;

void gemm_tile(std::size_t kc, const float* a, const float* b, float* c) {
  float acc[kMr][kNr] = {};
  for (std::size_t p = 0; p < kc; ++p) {
    for (std::size_t r = 0; r < kMr; ++r) {
      for (std::size_t q = 0; q < kNr; ++q) acc[r][q] += a[p * kMr + r] * b[p * kNr + q];
    }
  }
  for (std::size_t r = 0; r < kMr; ++r) {
    for (std::size_t q = 0; q < kNr; ++q) c[r * kNr + q] = acc[r][q];
  }
}

template <class T>
void gemm_out(std::size_t kc, const float* a, const float* b, T* c, std::size_t ldc, bool add) {
  float tile[kMr * kNr];
  gemm_tile(kc, a, b, tile);
  for (std::size_t r = 0; r < kMr; ++r) {
    for (std::size_t q = 0; q < kNr; ++q) {
      T& out = c[r * ldc + q];
      out = (add ? out : T(0)) + static_cast<T>(tile[r * kNr + q]);
    }
  }
}

double dot_f64(const float* a, const float* b, std::size_t n) {
  double sum = 0.0;
  for (std::size_t i = 0; i < n; ++i) sum += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return sum;
}

void shifted_f32(const float* src, const double* shift, std::size_t n, float* dst) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i] - shift[i]);
}

void add_rows_f64(const float* src, std::size_t ld, std::size_t rows, std::size_t n, double* sums) {
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t i = 0; i < n; ++i) sums[i] += src[r * ld + i];
  }
}

// No contraction into FMAs (aarch64 compilers fuse by default): every path rounds each product.
__attribute__((optimize("fp-contract=off"))) void adam_f32(std::size_t n, const AdamStep& s, const float* g, float* p,
                                                           float* m, float* v) {
  for (std::size_t i = 0; i < n; ++i) {
    m[i] = s.b1 * m[i] + s.c1 * g[i];
    v[i] = s.b2 * v[i] + s.c2 * g[i] * g[i];
    const float denom = std::sqrt(v[i]) * s.inv_sqrt_bc2 + s.eps;
    p[i] = p[i] * s.keep - s.step_size * m[i] / denom;
  }
}

const Kernels table{Isa::Scalar,     kMr,     kNr,         gemm_tile,    gemm_out<double>,
                    gemm_out<float>, dot_f64, shifted_f32, add_rows_f64, adam_f32};

}  // namespace

const Kernels* scalar_kernels() { return &table; }

}  // namespace restnet
