// The machine's own f32 FMA throughput per core, the ceiling every GEMM is measured against:
// each thread runs 12 (AVX2) or 16 (AVX-512) independent chains of vector FMAs (enough to cover
// the FMA latency, 4 cycles, on two pipes), so only the number of FMA units and the clock limit
// it. Built and run by bench/similarity.bench.mjs: `fma_peak THREADS` runs THREADS such threads
// at once (all cores busy, as in a threaded GEMM, so the clock is the all-core one) and prints
// {"avx2": GFLOP/s per core, "avx512": GFLOP/s per core} (null for an ISA the CPU lacks).
#include <immintrin.h>

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

constexpr long kSteps = 1 << 22;

// One body per ISA (a target attribute cannot be templated over): kChains chains (12 of the 16
// YMM registers for AVX2, 16 of the 32 ZMM for AVX-512: never spilled, and more than the 8 that
// two pipes of 4-cycle latency need), a fixed multiplier and addend, the sum of the chains
// returned so that nothing is optimised away.
#define RESTNET_FMA_CHAINS(V, SET1, FMA, ADD, LANES, kChains)      \
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

double thread_cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// GFLOP/s of one core: each thread's FLOP over its own CPU time (so time spent descheduled on a
// shared machine does not count), the best thread of the best of 5 runs.
double gflops(int threads, float (*fn)(), int lanes, int chains) {
  double best = 0.0;
  for (int rep = 0; rep < 5; ++rep) {
    std::vector<std::thread> pool;
    std::vector<double> rate(threads, 0.0);
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        const double c = thread_cpu_seconds();
        volatile float sink = fn();
        (void)sink;
        rate[t] = 2.0 * lanes * chains * static_cast<double>(kSteps) / (thread_cpu_seconds() - c) / 1e9;
      });
    }
    for (auto& t : pool) t.join();
    for (double r : rate) best = std::max(best, r);
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
