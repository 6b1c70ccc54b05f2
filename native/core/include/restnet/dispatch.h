// Run-time choice of the SIMD kernels. Every file of the core compiles at the baseline ISA
// (-march=x86-64 or -march=armv8-a); the faster kernels carry function-level target attributes
// and are only called after CPU detection says the machine (and its OS) supports them.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace restnet {

enum class Isa { Scalar, Avx2, Avx512, Neon };

const char* isa_name(Isa isa);
// Parses "scalar" | "avx2" | "avx512" | "neon"; throws TypeError otherwise.
Isa parse_isa(const std::string& name);

// One Adam step's constants, in f32 as the update uses them (PyTorch's order of operations):
// m = b1 m + c1 g; v = b2 v + (c2 g) g; p = p keep - (step_size m) / (sqrt(v) inv_sqrt_bc2 + eps),
// where c1 = 1 - b1, c2 = 1 - b2 and keep = 1 - lr weight_decay.
struct AdamStep {
  float b1, c1, b2, c2, step_size, inv_sqrt_bc2, eps, keep;
};

// The kernels one ISA provides. A GEMM micro-kernel computes an mr x nr tile of A*B over kc
// terms from packed panels: a is kc x mr (mr values per step), b is kc x nr, summed in f32.
// gemm_tile overwrites c (mr x nr, row-major) with the sums: the edge tiles of a product go
// through it. gemm_f64 / gemm_f32 write the sums into a full tile of the output (row stride
// ldc), converting to f64 in registers, adding them to what is there when `add`: the epilogue
// of every interior tile.
struct Kernels {
  Isa isa;
  std::size_t mr;
  std::size_t nr;
  void (*gemm_tile)(std::size_t kc, const float* a, const float* b, float* c);
  void (*gemm_f64)(std::size_t kc, const float* a, const float* b, double* c, std::size_t ldc, bool add);
  void (*gemm_f32)(std::size_t kc, const float* a, const float* b, float* c, std::size_t ldc, bool add);
  // sum_i a[i] * b[i], every product and sum in f64.
  double (*dot_f64)(const float* a, const float* b, std::size_t n);
  // dst[i] = src[i] - shift[i], subtracted in f64 and rounded to f32 (centring as it packs).
  void (*shifted_f32)(const float* src, const double* shift, std::size_t n, float* dst);
  // sums[i] += src[r * ld + i] in f64 for r = 0, 1, ..., rows - 1 in that order (column sums): the
  // SIMD kernels add several rows per load and store of the sums, the same additions in the same
  // order as one row at a time.
  void (*add_rows_f64)(const float* src, std::size_t ld, std::size_t rows, std::size_t n, double* sums);
  // The Adam update (AdamStep) of n parameters p with moments m, v and gradient g, each product
  // and sum rounded on its own (never fused into an FMA), so every path gives the scalar results.
  void (*adam_f32)(std::size_t n, const AdamStep& s, const float* g, float* p, float* m, float* v);
};

// ISAs this CPU and OS can run, best last. Scalar is always present.
const std::vector<Isa>& available_isas();
// The kernels in use: the best available, or the one RESTNET_SIMD names (checked on first use;
// an unknown or unsupported name throws RangeError naming what this CPU offers).
const Kernels& kernels();
Isa active_isa();
// Forces a path (tests and benchmarks compare paths); throws RangeError if unavailable.
void set_isa(Isa isa);
// The kernels of one specific available ISA without switching the active one.
const Kernels& kernels_for(Isa isa);

}  // namespace restnet
