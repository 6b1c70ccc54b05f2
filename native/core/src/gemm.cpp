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
// Packed B is bounded to 8 Mi floats (32 MiB) per column range.
constexpr std::size_t kPackedBudget = std::size_t(8) << 20;
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

  // B is packed once, whole (every k-slice of every nr-panel), in column ranges of at most
  // kPackedBudget floats; blocks of C then run every k-slice back to back, so a C block stays
  // in cache for the whole sum instead of streaming from memory once per slice. A block owns
  // its part of C and adds its slices in a fixed order: results do not depend on the threads.
  const std::size_t b_panels = (n + nr - 1) / nr;
  const std::size_t range_panels =
      std::max<std::size_t>(nc / nr, kPackedBudget / (k * nr) / (nc / nr) * (nc / nr));
  std::vector<float> pb(std::min(b_panels, range_panels) * nr * k);

  struct Block {
    std::size_t i0, j0, j1;
  };
  std::vector<Block> blocks;
  for (std::size_t q_begin = 0; q_begin < b_panels; q_begin += range_panels) {
    const std::size_t q_end = std::min(b_panels, q_begin + range_panels);
    const std::size_t s0 = q_begin * nr, s1 = std::min(n, q_end * nr);
    if (part == Part::Lower && s0 >= m) break;  // the rest lies wholly above the diagonal
    parallel_ranges(q_end - q_begin, 8, [&](std::size_t r0, std::size_t r1) {
      for (std::size_t q = q_begin + r0; q < q_begin + r1; ++q) {
        float* panel = pb.data() + (q - q_begin) * nr * k;
        for (std::size_t p0 = 0; p0 < k; p0 += kBlockK) {
          pack(bt, q * nr, std::min(nr, n - q * nr), nr, p0, std::min(kBlockK, k - p0), panel + p0 * nr);
        }
      }
    });
    blocks.clear();
    for (std::size_t i0 = 0; i0 < m; i0 += mc) {
      for (std::size_t j0 = s0; j0 < s1; j0 += nc) {
        if (part == Part::Lower && j0 >= std::min(m, i0 + mc)) break;  // wholly above diagonal
        blocks.push_back({i0, j0, std::min(s1, j0 + nc)});
      }
    }
    parallel_for(blocks.size(), [&](std::size_t t) {
      const std::size_t i0 = blocks[t].i0, j0 = blocks[t].j0, j1 = blocks[t].j1;
      const std::size_t i1 = std::min(m, i0 + mc);
      thread_local std::vector<float> pa, tile;
      pa.resize(mc * kBlockK);
      tile.resize(mr * nr);
      if (!accumulate) {
        for (std::size_t i = i0; i < i1; ++i) std::fill(c + i * ldc + j0, c + i * ldc + j1, T(0));
      }
      for (std::size_t p0 = 0; p0 < k; p0 += kBlockK) {
        const std::size_t kc = std::min(kBlockK, k - p0);
        for (std::size_t i = i0; i < i1; i += mr) {
          pack(a, i, std::min(mr, i1 - i), mr, p0, kc, pa.data() + (i - i0) * kc);
        }
        for (std::size_t j = j0; j < j1; j += nr) {
          const std::size_t cols = std::min(nr, j1 - j);
          const float* panel = pb.data() + (j - s0) * k + p0 * nr;
          for (std::size_t i = i0; i < i1; i += mr) {
            const std::size_t rows = std::min(mr, i1 - i);
            if (part == Part::Lower && j >= i + rows) continue;  // tile wholly above diagonal
            kern.gemm_tile(kc, pa.data() + (i - i0) * kc, panel, tile.data());
            for (std::size_t r = 0; r < rows; ++r) {
              T* out = c + (i + r) * ldc + j;
              const float* sum = tile.data() + r * nr;
              for (std::size_t q = 0; q < cols; ++q) out[q] += static_cast<T>(sum[q]);
            }
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
