#include "restnet/gemm.h"

#include <algorithm>
#include <vector>

#include "restnet/dispatch.h"
#include "restnet/thread_pool.h"

namespace restnet {
namespace {

// Cache blocking (Goto & van de Geijn): an mc x kBlockK panel of A stays in L2 while each
// kBlockK x nr micro-panel of B streams through L1. Sizes are rounded to the micro-tile.
constexpr std::size_t kTargetMc = 144;
constexpr std::size_t kTargetNc = 512;
// The widest micro-tile side of any kernel table (AVX-512's nr).
constexpr std::size_t kMaxPanel = 32;

std::size_t round_up(std::size_t x, std::size_t to) { return (x + to - 1) / to * to; }

// Packs rows [i0, i0 + valid) x columns [p0, p0 + kc) of the (i, p) view of `m` into `out`
// laid out step by step: out[p * width + r]. Rows valid..width-1 are zero so edge tiles need
// no special micro-kernel.
void pack(Operand m, std::size_t i0, std::size_t valid, std::size_t width, std::size_t p0,
          std::size_t kc, float* out) {
  if (m.transposed) {
    // (i, p) is data[p * ld + i]: each step is a contiguous run of `valid` values.
    for (std::size_t p = 0; p < kc; ++p) {
      const float* src = m.data + (p0 + p) * m.ld + i0;
      float* dst = out + p * width;
      std::copy(src, src + valid, dst);
      std::fill(dst + valid, dst + width, 0.0f);
    }
    return;
  }
  // (i, p) is data[i * ld + p]: gather one value from each row per step, so the packed panel
  // is written sequentially.
  const float* rows[kMaxPanel];
  for (std::size_t r = 0; r < valid; ++r) rows[r] = m.data + (i0 + r) * m.ld + p0;
  for (std::size_t p = 0; p < kc; ++p) {
    float* dst = out + p * width;
    for (std::size_t r = 0; r < valid; ++r) dst[r] = rows[r][p];
    for (std::size_t r = valid; r < width; ++r) dst[r] = 0.0f;
  }
}

template <class T>
void gemm_impl(std::size_t m, std::size_t n, std::size_t k, Operand a, Operand b, T* c,
               std::size_t ldc, Part part, bool accumulate) {
  if (m == 0 || n == 0) return;
  if (k == 0 && !accumulate) {
    for (std::size_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, T(0));
    return;
  }
  const Kernels& kern = kernels();
  const std::size_t mr = kern.mr, nr = kern.nr;
  const std::size_t mc = round_up(kTargetMc, mr), nc = round_up(kTargetNc, nr);
  // B's (j, p) view: op(B)(p, j) read with the transposition flipped.
  const Operand bt{b.data, b.ld, !b.transposed};

  struct Block {
    std::size_t i0, j0;
  };
  std::vector<Block> blocks;
  for (std::size_t i0 = 0; i0 < m; i0 += mc) {
    for (std::size_t j0 = 0; j0 < n; j0 += nc) {
      if (part == Part::Lower && j0 >= std::min(m, i0 + mc)) break;  // wholly above diagonal
      blocks.push_back({i0, j0});
    }
  }

  // B's panels for one kBlockK slice are packed once and shared by every block; each block
  // packs its own A panels. A block owns its part of C, and every element receives its slices
  // in the same order, so the result does not depend on the thread count.
  const std::size_t b_panels = (n + nr - 1) / nr;
  std::vector<float> pb(b_panels * nr * kBlockK);
  for (std::size_t p0 = 0; p0 < k; p0 += kBlockK) {
    const std::size_t kc = std::min(kBlockK, k - p0);
    parallel_ranges(b_panels, 16, [&](std::size_t q0, std::size_t q1) {
      for (std::size_t q = q0; q < q1; ++q) {
        pack(bt, q * nr, std::min(nr, n - q * nr), nr, p0, kc, pb.data() + q * nr * kc);
      }
    });
    parallel_for(blocks.size(), [&](std::size_t t) {
      const std::size_t i0 = blocks[t].i0, j0 = blocks[t].j0;
      const std::size_t i1 = std::min(m, i0 + mc), j1 = std::min(n, j0 + nc);
      thread_local std::vector<float> pa, tile;
      pa.resize(mc * kBlockK);
      tile.resize(mr * nr);
      if (p0 == 0 && !accumulate) {
        for (std::size_t i = i0; i < i1; ++i) std::fill(c + i * ldc + j0, c + i * ldc + j1, T(0));
      }
      for (std::size_t i = i0; i < i1; i += mr) {
        pack(a, i, std::min(mr, i1 - i), mr, p0, kc, pa.data() + (i - i0) * kc);
      }
      for (std::size_t j = j0; j < j1; j += nr) {
        const std::size_t cols = std::min(nr, j1 - j);
        for (std::size_t i = i0; i < i1; i += mr) {
          const std::size_t rows = std::min(mr, i1 - i);
          if (part == Part::Lower && j >= i + rows) continue;  // tile wholly above diagonal
          kern.gemm_tile(kc, pa.data() + (i - i0) * kc, pb.data() + j * kc, tile.data());
          for (std::size_t r = 0; r < rows; ++r) {
            T* out = c + (i + r) * ldc + j;
            const float* sum = tile.data() + r * nr;
            for (std::size_t q = 0; q < cols; ++q) out[q] += static_cast<T>(sum[q]);
          }
        }
      }
    });
  }
}

}  // namespace

void gemm(std::size_t m, std::size_t n, std::size_t k, Operand a, Operand b, double* c,
          std::size_t ldc, Part part, bool accumulate) {
  gemm_impl(m, n, k, a, b, c, ldc, part, accumulate);
}

void gemm(std::size_t m, std::size_t n, std::size_t k, Operand a, Operand b, float* c,
          std::size_t ldc, Part part, bool accumulate) {
  gemm_impl(m, n, k, a, b, c, ldc, part, accumulate);
}

void mirror_lower(double* c, std::size_t n, std::size_t ldc) {
  // Square tiles, so both the reads (rows of the lower tile) and the writes (rows of the upper
  // tile) stay within a few pages; a tile row [i0, i1) writes only above-diagonal entries of
  // columns i0..i1-1, so tasks never overlap.
  constexpr std::size_t kTile = 64;
  parallel_ranges(n, kTile, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t j0 = 0; j0 < i1; j0 += kTile) {
      const std::size_t j1 = std::min(j0 + kTile, i1);
      for (std::size_t j = j0; j < j1; ++j) {
        for (std::size_t i = std::max(i0, j + 1); i < i1; ++i) c[j * ldc + i] = c[i * ldc + j];
      }
    }
  });
}

}  // namespace restnet
