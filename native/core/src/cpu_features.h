// What the CPU and the operating system let us run. Private to the core.
#pragma once

#include <cstddef>

namespace restnet {

struct CpuFeatures {
  bool avx2_fma = false;  // AVX2 and FMA3, with the OS saving YMM state
  bool avx512f = false;   // AVX-512 Foundation, with the OS saving ZMM and opmask state
  bool neon = false;      // Advanced SIMD (always present on aarch64)
  // Per-core L2 data cache in bytes, what the GEMM sizes its blocks of A and C by: from the C
  // library (CPUID on x86-64), else sysfs, else 1 MiB (a middle value: 2 MiB on recent Xeons,
  // 1 MiB on Zen 4, 512 KiB per core on a Raspberry Pi 5).
  std::size_t l2_bytes = 0;
};

const CpuFeatures& cpu_features();

}  // namespace restnet
