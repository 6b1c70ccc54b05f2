// AVX-512F kernels. Compiled at the x86-64 baseline with function-level targets, like avx2.cpp.
#include <cstddef>

#include "../src/kernel_table.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define RESTNET_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define RESTNET_AVX512_INLINE __attribute__((target("avx512f,avx2,fma"), always_inline)) inline

namespace restnet {
namespace {

// 12 x 32 tile: 24 accumulators + 2 B vectors + 1 broadcast = 27 of the 32 ZMM registers,
// 24 FMAs per 2 loads and 12 broadcasts (the broadcasts are folded into the FMAs as memory
// operands). The B micro-panel (kc x 32 floats = 32 KiB at kc = 256) stays in L1 while A streams.
constexpr std::size_t kMr = 12;
constexpr std::size_t kNr = 32;

// The k loop every entry point shares; acc stays in registers once inlined.
RESTNET_AVX512_INLINE void accumulate(std::size_t kc, const float* a, const float* b, __m512 (&acc)[kMr][2]) {
#pragma GCC unroll 12
  for (std::size_t r = 0; r < kMr; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (std::size_t p = 0; p < kc; ++p) {
    // B's micro-panel streams from L2 (each row tile walks every column panel): fetched 16 steps
    // ahead, two lines a step.
    _mm_prefetch(reinterpret_cast<const char*>(b + (p + 16) * kNr), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + (p + 16) * kNr + 16), _MM_HINT_T0);
    const __m512 b0 = _mm512_loadu_ps(b + p * kNr);
    const __m512 b1 = _mm512_loadu_ps(b + p * kNr + 16);
#pragma GCC unroll 12
    for (std::size_t r = 0; r < kMr; ++r) {
      const __m512 av = _mm512_set1_ps(a[p * kMr + r]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
    }
  }
}

RESTNET_AVX512 void gemm_tile(std::size_t kc, const float* a, const float* b, float* c) {
  __m512 acc[kMr][2];
  accumulate(kc, a, b, acc);
#pragma GCC unroll 12
  for (std::size_t r = 0; r < kMr; ++r) {
    _mm512_storeu_ps(c + r * kNr, acc[r][0]);
    _mm512_storeu_ps(c + r * kNr + 16, acc[r][1]);
  }
}

// c[0..16) = v (+ c[0..16) when add), widening each half of v to eight doubles.
RESTNET_AVX512_INLINE void store_widened(double* c, __m512 v, bool add) {
  const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
  const __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
  _mm512_storeu_pd(c, add ? _mm512_add_pd(_mm512_loadu_pd(c), lo) : lo);
  _mm512_storeu_pd(c + 8, add ? _mm512_add_pd(_mm512_loadu_pd(c + 8), hi) : hi);
}

RESTNET_AVX512 void gemm_f64(std::size_t kc, const float* a, const float* b, double* c, std::size_t ldc, bool add) {
  // The tile of C (12 rows of 256 bytes, usually in L2) is requested now, so that the epilogue's
  // loads find it in L1 after the k loop instead of waiting for it.
  if (add) {
#pragma GCC unroll 12
    for (std::size_t r = 0; r < kMr; ++r) {
      for (std::size_t q = 0; q < kNr; q += 8)
        _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + q), _MM_HINT_T0);
    }
  }
  __m512 acc[kMr][2];
  accumulate(kc, a, b, acc);
#pragma GCC unroll 12
  for (std::size_t r = 0; r < kMr; ++r) {
    store_widened(c + r * ldc, acc[r][0], add);
    store_widened(c + r * ldc + 16, acc[r][1], add);
  }
}

RESTNET_AVX512 void gemm_f32(std::size_t kc, const float* a, const float* b, float* c, std::size_t ldc, bool add) {
  __m512 acc[kMr][2];
  accumulate(kc, a, b, acc);
#pragma GCC unroll 12
  for (std::size_t r = 0; r < kMr; ++r) {
    for (std::size_t v = 0; v < 2; ++v) {
      float* out = c + r * ldc + 16 * v;
      _mm512_storeu_ps(out, add ? _mm512_add_ps(_mm512_loadu_ps(out), acc[r][v]) : acc[r][v]);
    }
  }
}

RESTNET_AVX512 double dot_f64(const float* a, const float* b, std::size_t n) {
  __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm256_loadu_ps(a + i)), _mm512_cvtps_pd(_mm256_loadu_ps(b + i)), s0);
    s1 = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm256_loadu_ps(a + i + 8)), _mm512_cvtps_pd(_mm256_loadu_ps(b + i + 8)), s1);
  }
  alignas(64) double lanes[8];
  _mm512_store_pd(lanes, _mm512_add_pd(s0, s1));
  double sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
  for (; i < n; ++i) sum += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return sum;
}

RESTNET_AVX512 void shifted_f32(const float* src, const double* shift, std::size_t n, float* dst) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(src + i)), _mm512_loadu_pd(shift + i));
    _mm256_storeu_ps(dst + i, _mm512_cvtpd_ps(d));  // rounds to nearest, as a C++ conversion does
  }
  for (; i < n; ++i) dst[i] = static_cast<float>(src[i] - shift[i]);
}

// Four rows per load and store of the sums (a quarter of their traffic; the column sums of X are
// bound by memory), added in row order; the remaining rows one at a time.
RESTNET_AVX512 void add_rows_f64(const float* src, std::size_t ld, std::size_t rows, std::size_t n, double* sums) {
  std::size_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float* s0 = src + r * ld;
    const float *s1 = s0 + ld, *s2 = s1 + ld, *s3 = s2 + ld;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      __m512d s = _mm512_loadu_pd(sums + i);
      s = _mm512_add_pd(s, _mm512_cvtps_pd(_mm256_loadu_ps(s0 + i)));
      s = _mm512_add_pd(s, _mm512_cvtps_pd(_mm256_loadu_ps(s1 + i)));
      s = _mm512_add_pd(s, _mm512_cvtps_pd(_mm256_loadu_ps(s2 + i)));
      s = _mm512_add_pd(s, _mm512_cvtps_pd(_mm256_loadu_ps(s3 + i)));
      _mm512_storeu_pd(sums + i, s);
    }
    for (; i < n; ++i) sums[i] = sums[i] + s0[i] + s1[i] + s2[i] + s3[i];
  }
  for (; r < rows; ++r) {
    const float* s0 = src + r * ld;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      _mm512_storeu_pd(sums + i, _mm512_add_pd(_mm512_loadu_pd(sums + i), _mm512_cvtps_pd(_mm256_loadu_ps(s0 + i))));
    }
    for (; i < n; ++i) sums[i] += s0[i];
  }
}

// Each product and sum with its own rounding ({rn-sae}: round to nearest as the default mode
// does): written plainly, the compiler fuses them into FMAs, whose results differ from the
// other paths'. Division and square root are correctly rounded on every path.
// GCC 12's intrinsics headers trip -Wmaybe-uninitialized on _mm512_undefined_ps (GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
RESTNET_AVX512 void adam_f32(std::size_t n, const AdamStep& s, const float* g, float* p, float* m, float* v) {
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  const __m512 b1 = _mm512_set1_ps(s.b1), c1 = _mm512_set1_ps(s.c1), b2 = _mm512_set1_ps(s.b2),
               c2 = _mm512_set1_ps(s.c2), step = _mm512_set1_ps(s.step_size), inv = _mm512_set1_ps(s.inv_sqrt_bc2),
               eps = _mm512_set1_ps(s.eps), keep = _mm512_set1_ps(s.keep);
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 gi = _mm512_loadu_ps(g + i);
    const __m512 mi = _mm512_add_round_ps(_mm512_mul_round_ps(b1, _mm512_loadu_ps(m + i), kRound),
                                          _mm512_mul_round_ps(c1, gi, kRound), kRound);
    const __m512 vi = _mm512_add_round_ps(_mm512_mul_round_ps(b2, _mm512_loadu_ps(v + i), kRound),
                                          _mm512_mul_round_ps(_mm512_mul_round_ps(c2, gi, kRound), gi, kRound), kRound);
    const __m512 denom = _mm512_add_round_ps(_mm512_mul_round_ps(_mm512_sqrt_ps(vi), inv, kRound), eps, kRound);
    const __m512 pi = _mm512_sub_round_ps(_mm512_mul_round_ps(_mm512_loadu_ps(p + i), keep, kRound),
                                          _mm512_div_ps(_mm512_mul_round_ps(step, mi, kRound), denom), kRound);
    _mm512_storeu_ps(m + i, mi);
    _mm512_storeu_ps(v + i, vi);
    _mm512_storeu_ps(p + i, pi);
  }
  scalar_kernels()->adam_f32(n - i, s, g + i, p + i, m + i, v + i);
}
#pragma GCC diagnostic pop

const Kernels table{Isa::Avx512, kMr, kNr, gemm_tile, gemm_f64, gemm_f32, dot_f64, shifted_f32, add_rows_f64, adam_f32};

}  // namespace

const Kernels* avx512_kernels() { return &table; }

}  // namespace restnet

#else

namespace restnet {
const Kernels* avx512_kernels() { return nullptr; }
}  // namespace restnet

#endif
