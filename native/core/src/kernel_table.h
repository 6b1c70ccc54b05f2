// The per-ISA kernel tables, one per file in native/core/kernels/. A table is null when its
// ISA cannot exist on the architecture being compiled (AVX on aarch64, NEON on x86-64).
#pragma once

#include "restnet/dispatch.h"

namespace restnet {

const Kernels* scalar_kernels();
const Kernels* avx2_kernels();
const Kernels* avx512_kernels();
const Kernels* neon_kernels();

}  // namespace restnet
