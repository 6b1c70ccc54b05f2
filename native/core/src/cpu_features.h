// What the CPU and the operating system let us run. Private to the core.
#pragma once

namespace restnet {

struct CpuFeatures {
  bool avx2_fma = false;  // AVX2 and FMA3, with the OS saving YMM state
  bool avx512f = false;   // AVX-512 Foundation, with the OS saving ZMM and opmask state
  bool neon = false;      // Advanced SIMD (always present on aarch64)
};

const CpuFeatures& cpu_features();

}  // namespace restnet
