// NEON kernels for aarch64 (Raspberry Pi 4/5, Jetson). Advanced SIMD is part of the ARMv8-A
// baseline, so no target attribute is needed; on other architectures the table is absent.
#include <cstddef>

#include "../src/kernel_table.h"

#if defined(__aarch64__)
#include <arm_neon.h>

namespace restnet {
namespace {

// 8 x 12 tile: 24 accumulators + 3 B vectors + 2 A vectors = 29 of the 32 Q registers; the A
// values are used by lane (fmla by element) instead of being broadcast.
constexpr std::size_t kMr = 8;
constexpr std::size_t kNr = 12;

// The k loop every entry point shares; acc stays in registers once inlined.
__attribute__((always_inline)) inline void accumulate(std::size_t kc, const float* a, const float* b,
                                                      float32x4_t (&acc)[kMr][3]) {
  for (std::size_t r = 0; r < kMr; ++r) acc[r][0] = acc[r][1] = acc[r][2] = vdupq_n_f32(0.0f);
  for (std::size_t p = 0; p < kc; ++p) {
    const float32x4_t b0 = vld1q_f32(b + p * kNr);
    const float32x4_t b1 = vld1q_f32(b + p * kNr + 4);
    const float32x4_t b2 = vld1q_f32(b + p * kNr + 8);
    const float32x4_t a0 = vld1q_f32(a + p * kMr);
    const float32x4_t a1 = vld1q_f32(a + p * kMr + 4);
#define RESTNET_ROW(r, av, lane)                        \
  acc[r][0] = vfmaq_laneq_f32(acc[r][0], b0, av, lane); \
  acc[r][1] = vfmaq_laneq_f32(acc[r][1], b1, av, lane); \
  acc[r][2] = vfmaq_laneq_f32(acc[r][2], b2, av, lane);
    RESTNET_ROW(0, a0, 0)
    RESTNET_ROW(1, a0, 1)
    RESTNET_ROW(2, a0, 2)
    RESTNET_ROW(3, a0, 3)
    RESTNET_ROW(4, a1, 0)
    RESTNET_ROW(5, a1, 1)
    RESTNET_ROW(6, a1, 2)
    RESTNET_ROW(7, a1, 3)
#undef RESTNET_ROW
  }
}

void gemm_tile(std::size_t kc, const float* a, const float* b, float* c) {
  float32x4_t acc[kMr][3];
  accumulate(kc, a, b, acc);
  for (std::size_t r = 0; r < kMr; ++r) {
    vst1q_f32(c + r * kNr, acc[r][0]);
    vst1q_f32(c + r * kNr + 4, acc[r][1]);
    vst1q_f32(c + r * kNr + 8, acc[r][2]);
  }
}

void gemm_f64(std::size_t kc, const float* a, const float* b, double* c, std::size_t ldc, bool add) {
  float32x4_t acc[kMr][3];
  accumulate(kc, a, b, acc);
  for (std::size_t r = 0; r < kMr; ++r) {
    for (std::size_t v = 0; v < 3; ++v) {
      double* out = c + r * ldc + 4 * v;
      const float64x2_t lo = vcvt_f64_f32(vget_low_f32(acc[r][v])), hi = vcvt_high_f64_f32(acc[r][v]);
      vst1q_f64(out, add ? vaddq_f64(vld1q_f64(out), lo) : lo);
      vst1q_f64(out + 2, add ? vaddq_f64(vld1q_f64(out + 2), hi) : hi);
    }
  }
}

void gemm_f32(std::size_t kc, const float* a, const float* b, float* c, std::size_t ldc, bool add) {
  float32x4_t acc[kMr][3];
  accumulate(kc, a, b, acc);
  for (std::size_t r = 0; r < kMr; ++r) {
    for (std::size_t v = 0; v < 3; ++v) {
      float* out = c + r * ldc + 4 * v;
      vst1q_f32(out, add ? vaddq_f32(vld1q_f32(out), acc[r][v]) : acc[r][v]);
    }
  }
}

double dot_f64(const float* a, const float* b, std::size_t n) {
  float64x2_t s0 = vdupq_n_f64(0.0), s1 = vdupq_n_f64(0.0);
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t va = vld1q_f32(a + i), vb = vld1q_f32(b + i);
    s0 = vfmaq_f64(s0, vcvt_f64_f32(vget_low_f32(va)), vcvt_f64_f32(vget_low_f32(vb)));
    s1 = vfmaq_f64(s1, vcvt_high_f64_f32(va), vcvt_high_f64_f32(vb));
  }
  double sum = vaddvq_f64(vaddq_f64(s0, s1));
  for (; i < n; ++i) sum += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return sum;
}

void shifted_f32(const float* src, const double* shift, std::size_t n, float* dst) {
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t v = vld1q_f32(src + i);
    const float64x2_t lo = vsubq_f64(vcvt_f64_f32(vget_low_f32(v)), vld1q_f64(shift + i));
    const float64x2_t hi = vsubq_f64(vcvt_high_f64_f32(v), vld1q_f64(shift + i + 2));
    vst1q_f32(dst + i, vcvt_high_f32_f64(vcvt_f32_f64(lo), hi));  // rounds to nearest, as a C++ conversion does
  }
  for (; i < n; ++i) dst[i] = static_cast<float>(src[i] - shift[i]);
}

// Row by row (the blocking of avx512.cpp's cannot be timed under qemu).
void add_rows_f64(const float* src, std::size_t ld, std::size_t rows, std::size_t n, double* sums) {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = src + r * ld;
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
      const float32x4_t v = vld1q_f32(row + i);
      vst1q_f64(sums + i, vaddq_f64(vld1q_f64(sums + i), vcvt_f64_f32(vget_low_f32(v))));
      vst1q_f64(sums + i + 2, vaddq_f64(vld1q_f64(sums + i + 2), vcvt_high_f64_f32(v)));
    }
    for (; i < n; ++i) sums[i] += row[i];
  }
}

// Products and sums rounded one by one: fused (fp-contract), the results would differ from the
// other paths'. GCC fuses NEON's vmulq + vaddq like plain arithmetic, hence the attribute.
__attribute__((optimize("fp-contract=off"))) void adam_f32(std::size_t n, const AdamStep& s, const float* g, float* p,
                                                           float* m, float* v) {
  const float32x4_t b1 = vdupq_n_f32(s.b1), c1 = vdupq_n_f32(s.c1), b2 = vdupq_n_f32(s.b2), c2 = vdupq_n_f32(s.c2),
                    step = vdupq_n_f32(s.step_size), inv = vdupq_n_f32(s.inv_sqrt_bc2), eps = vdupq_n_f32(s.eps),
                    keep = vdupq_n_f32(s.keep);
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t gi = vld1q_f32(g + i);
    const float32x4_t mi = vaddq_f32(vmulq_f32(b1, vld1q_f32(m + i)), vmulq_f32(c1, gi));
    const float32x4_t vi = vaddq_f32(vmulq_f32(b2, vld1q_f32(v + i)), vmulq_f32(vmulq_f32(c2, gi), gi));
    const float32x4_t denom = vaddq_f32(vmulq_f32(vsqrtq_f32(vi), inv), eps);
    const float32x4_t pi = vsubq_f32(vmulq_f32(vld1q_f32(p + i), keep), vdivq_f32(vmulq_f32(step, mi), denom));
    vst1q_f32(m + i, mi);
    vst1q_f32(v + i, vi);
    vst1q_f32(p + i, pi);
  }
  scalar_kernels()->adam_f32(n - i, s, g + i, p + i, m + i, v + i);
}

const Kernels table{Isa::Neon, kMr, kNr, gemm_tile, gemm_f64, gemm_f32, dot_f64, shifted_f32, add_rows_f64, adam_f32};

}  // namespace

const Kernels* neon_kernels() { return &table; }

}  // namespace restnet

#else

namespace restnet {
const Kernels* neon_kernels() { return nullptr; }
}  // namespace restnet

#endif
