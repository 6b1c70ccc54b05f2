// The machine's own f32 FMA throughput, the ceiling every GEMM is measured against: each thread
// runs 12 (AVX2) or 16 (AVX-512) independent chains of vector FMAs (enough to cover the FMA latency, 4 cycles, on two
// pipes), so only the number of FMA units and the clock limit it. Built and run by
// bench/similarity.bench.mjs: `fma_peak THREADS` prints {"avx2": GFLOP/s, "avx512": GFLOP/s}
// (null for an ISA the CPU lacks), best of 5 runs of about 0.2 s each.
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

constexpr long kSteps = 1 << 22;

// One body per ISA (a target attribute cannot be templated over): CHAINS chains (12 of the 16
// YMM registers for AVX2, 16 of the 32 ZMM for AVX-512: never spilled, and more than the 8 that
// two pipes of 4-cycle latency need), a fixed multiplier
// and addend, the sum of the chains returned so that nothing is optimised away.
#define RESTNET_FMA_CHAINS(V, SET1, FMA, ADD, LANES, kChains)                 \
  V acc[kChains];                                                  \
  for (auto& a : acc) a = SET1(0.999f);                            \
  const V m = SET1(0.9999f), c = SET1(1e-4f);                      \
  for (long s = 0; s < kSteps; ++s) {                              \
    _Pragma("GCC unroll 16") for (int i = 0; i < kChains; ++i) acc[i] = FMA(acc[i], m, c); \
  }                                                                \
  V sum = acc[0];                                                  \
  for (int i = 1; i < kChains; ++i) sum = ADD(sum, acc[i]);        \
  float out[LANES];                                                \
  std::copy_n(reinterpret_cast<const float*>(&sum), LANES, out);   \
  return out[0];

__attribute__((target("avx2,fma"))) float run_avx2() {
  RESTNET_FMA_CHAINS(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, 8, 12)
}

__attribute__((target("avx512f"))) float run_avx512() {
  RESTNET_FMA_CHAINS(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, 16, 16)
}

double gflops(int threads, float (*fn)(), int lanes, int chains) {
  double best = 0.0;
  for (int rep = 0; rep < 5; ++rep) {
    std::vector<std::thread> pool;
    volatile float sink = 0.0f;
    const auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t) pool.emplace_back([&] { sink = sink + fn(); });
    for (auto& t : pool) t.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 2.0 * lanes * chains * static_cast<double>(kSteps) * threads / s / 1e9);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  __builtin_cpu_init();
  std::printf("{\"avx2\": ");
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) std::printf("%.1f", gflops(threads, run_avx2, 8, 12));
  else std::printf("null");
  std::printf(", \"avx512\": ");
  if (__builtin_cpu_supports("avx512f")) std::printf("%.1f", gflops(threads, run_avx512, 16, 16));
  else std::printf("null");
  std::printf("}\n");
}
