// AVX2 + FMA3 kernels. This file compiles at the x86-64 baseline; only the functions below
// carry the target attribute, and dispatch.cpp calls them after CPU detection.
#include <cstddef>

#include "../src/kernel_table.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define RESTNET_AVX2 __attribute__((target("avx2,fma")))
#define RESTNET_AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) inline

namespace restnet {
namespace {

// 6 x 16 tile: 12 accumulators + 2 B vectors + 1 broadcast = 15 of the 16 YMM registers.
constexpr std::size_t kMr = 6;
constexpr std::size_t kNr = 16;

// The k loop every entry point shares; acc stays in registers once inlined.
RESTNET_AVX2_INLINE void accumulate(std::size_t kc, const float* a, const float* b, __m256 (&acc)[kMr][2]) {
#pragma GCC unroll 6
  for (std::size_t r = 0; r < kMr; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (std::size_t p = 0; p < kc; ++p) {
    _mm_prefetch(reinterpret_cast<const char*>(b + (p + 16) * kNr), _MM_HINT_T0);  // B streams from L2
    const __m256 b0 = _mm256_loadu_ps(b + p * kNr);
    const __m256 b1 = _mm256_loadu_ps(b + p * kNr + 8);
#pragma GCC unroll 6
    for (std::size_t r = 0; r < kMr; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + p * kMr + r);
      acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
    }
  }
}

RESTNET_AVX2 void gemm_tile(std::size_t kc, const float* a, const float* b, float* c) {
  __m256 acc[kMr][2];
  accumulate(kc, a, b, acc);
#pragma GCC unroll 6
  for (std::size_t r = 0; r < kMr; ++r) {
    _mm256_storeu_ps(c + r * kNr, acc[r][0]);
    _mm256_storeu_ps(c + r * kNr + 8, acc[r][1]);
  }
}

// c[0..8) = v (+ c[0..8) when add), widening each half of v to four doubles.
RESTNET_AVX2_INLINE void store_widened(double* c, __m256 v, bool add) {
  const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
  const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
  _mm256_storeu_pd(c, add ? _mm256_add_pd(_mm256_loadu_pd(c), lo) : lo);
  _mm256_storeu_pd(c + 4, add ? _mm256_add_pd(_mm256_loadu_pd(c + 4), hi) : hi);
}

RESTNET_AVX2 void gemm_f64(std::size_t kc, const float* a, const float* b, double* c, std::size_t ldc, bool add) {
  // The tile of C (6 rows of 128 bytes, usually in L2) is requested now, so that the epilogue's
  // loads find it in L1 after the k loop instead of waiting for it.
  if (add) {
#pragma GCC unroll 6
    for (std::size_t r = 0; r < kMr; ++r) {
      for (std::size_t q = 0; q < kNr; q += 8)
        _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + q), _MM_HINT_T0);
    }
  }
  __m256 acc[kMr][2];
  accumulate(kc, a, b, acc);
#pragma GCC unroll 6
  for (std::size_t r = 0; r < kMr; ++r) {
    store_widened(c + r * ldc, acc[r][0], add);
    store_widened(c + r * ldc + 8, acc[r][1], add);
  }
}

RESTNET_AVX2 void gemm_f32(std::size_t kc, const float* a, const float* b, float* c, std::size_t ldc, bool add) {
  __m256 acc[kMr][2];
  accumulate(kc, a, b, acc);
#pragma GCC unroll 6
  for (std::size_t r = 0; r < kMr; ++r) {
    for (std::size_t v = 0; v < 2; ++v) {
      float* out = c + r * ldc + 8 * v;
      _mm256_storeu_ps(out, add ? _mm256_add_ps(_mm256_loadu_ps(out), acc[r][v]) : acc[r][v]);
    }
  }
}

RESTNET_AVX2 double dot_f64(const float* a, const float* b, std::size_t n) {
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 va = _mm256_loadu_ps(a + i), vb = _mm256_loadu_ps(b + i);
    s0 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(va)), _mm256_cvtps_pd(_mm256_castps256_ps128(vb)), s0);
    s1 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(va, 1)), _mm256_cvtps_pd(_mm256_extractf128_ps(vb, 1)),
                         s1);
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, _mm256_add_pd(s0, s1));
  double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; i < n; ++i) sum += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return sum;
}

RESTNET_AVX2 void shifted_f32(const float* src, const double* shift, std::size_t n, float* dst) {
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d d = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(src + i)), _mm256_loadu_pd(shift + i));
    _mm_storeu_ps(dst + i, _mm256_cvtpd_ps(d));  // rounds to nearest, as a C++ conversion does
  }
  for (; i < n; ++i) dst[i] = static_cast<float>(src[i] - shift[i]);
}

// Four rows per load and store of the sums, in row order, as avx512.cpp's.
RESTNET_AVX2 void add_rows_f64(const float* src, std::size_t ld, std::size_t rows, std::size_t n, double* sums) {
  std::size_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float* s0 = src + r * ld;
    const float *s1 = s0 + ld, *s2 = s1 + ld, *s3 = s2 + ld;
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
      __m256d s = _mm256_loadu_pd(sums + i);
      s = _mm256_add_pd(s, _mm256_cvtps_pd(_mm_loadu_ps(s0 + i)));
      s = _mm256_add_pd(s, _mm256_cvtps_pd(_mm_loadu_ps(s1 + i)));
      s = _mm256_add_pd(s, _mm256_cvtps_pd(_mm_loadu_ps(s2 + i)));
      s = _mm256_add_pd(s, _mm256_cvtps_pd(_mm_loadu_ps(s3 + i)));
      _mm256_storeu_pd(sums + i, s);
    }
    for (; i < n; ++i) sums[i] = sums[i] + s0[i] + s1[i] + s2[i] + s3[i];
  }
  for (; r < rows; ++r) {
    const float* s0 = src + r * ld;
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
      _mm256_storeu_pd(sums + i, _mm256_add_pd(_mm256_loadu_pd(sums + i), _mm256_cvtps_pd(_mm_loadu_ps(s0 + i))));
    }
    for (; i < n; ++i) sums[i] += s0[i];
  }
}

// Compiled for AVX2 without FMA3, so that the compiler cannot fuse the products and sums:
// fused, the results would differ from the other paths'.
__attribute__((target("avx2"))) void adam_f32(std::size_t n, const AdamStep& s, const float* g, float* p, float* m,
                                              float* v) {
  const __m256 b1 = _mm256_set1_ps(s.b1), c1 = _mm256_set1_ps(s.c1), b2 = _mm256_set1_ps(s.b2),
               c2 = _mm256_set1_ps(s.c2), step = _mm256_set1_ps(s.step_size), inv = _mm256_set1_ps(s.inv_sqrt_bc2),
               eps = _mm256_set1_ps(s.eps), keep = _mm256_set1_ps(s.keep);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 gi = _mm256_loadu_ps(g + i);
    const __m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(c1, gi));
    const __m256 vi =
        _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)), _mm256_mul_ps(_mm256_mul_ps(c2, gi), gi));
    const __m256 denom = _mm256_add_ps(_mm256_mul_ps(_mm256_sqrt_ps(vi), inv), eps);
    const __m256 pi =
        _mm256_sub_ps(_mm256_mul_ps(_mm256_loadu_ps(p + i), keep), _mm256_div_ps(_mm256_mul_ps(step, mi), denom));
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    _mm256_storeu_ps(p + i, pi);
  }
  scalar_kernels()->adam_f32(n - i, s, g + i, p + i, m + i, v + i);
}

const Kernels table{Isa::Avx2, kMr, kNr, gemm_tile, gemm_f64, gemm_f32, dot_f64, shifted_f32, add_rows_f64, adam_f32};

}  // namespace

const Kernels* avx2_kernels() { return &table; }

}  // namespace restnet

#else

namespace restnet {
const Kernels* avx2_kernels() { return nullptr; }
}  // namespace restnet

#endif
