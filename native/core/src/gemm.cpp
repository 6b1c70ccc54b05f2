#include "restnet/gemm.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include "cpu_features.h"
#include "restnet/dispatch.h"
#include "restnet/matrix.h"
#include "restnet/thread_pool.h"

namespace restnet {
namespace {

// Cache blocking (Goto & van de Geijn; BLIS's frame/3 loop nest). Per k-slice of kBlockK steps,
// a kBlockK x nr micro-panel of packed B (32 KiB for AVX-512) stays in L1 while the mc x kBlockK
// block of packed A streams from L2; the mc x nc block of C (f64) is revisited once per slice,
// so A's block and C's block together are sized to half the L2 (row_block), and B's nc columns
// (nc x kBlockK floats, 512 KiB) come from L3.
constexpr std::size_t kNc = 512;
// Packed B is bounded to 8 Mi floats (32 MiB) per column range.
constexpr std::size_t kPackedBudget = std::size_t(8) << 20;
// A row block's packed A for every k-slice (reused by all its column blocks instead of being
// gathered again for each) up to 2 Mi floats (8 MiB); beyond, and when there is one column
// block, it is packed one slice at a time.
constexpr std::size_t kPackedABudget = std::size_t(2) << 20;
// The widest micro-tile side of any kernel table (AVX-512's nr).
constexpr std::size_t kMaxPanel = 32;
// Row blocks per thread, when the shape allows: tasks are claimed dynamically, so several per
// thread even out unequal blocks (the triangle of a rank-k update) and a descheduled thread.
constexpr std::size_t kBlocksPerThread = 4;

std::size_t round_up(std::size_t x, std::size_t to) { return (x + to - 1) / to * to; }

// Rows of a block of C: A's mc x kBlockK f32 block and C's mc x kNc f64 block fill half the L2
// (the other half holds B's slices passing through and whatever else runs), and no more than
// m / (kBlocksPerThread x threads) so that every thread gets work. Block sizes never change
// results: each element of C sums the same kBlockK-term f32 panels in the same order.
std::size_t row_block(std::size_t m, std::size_t mr) {
  const std::size_t fit = cpu_features().l2_bytes / 2 / (kNc * sizeof(double) + kBlockK * sizeof(float));
  const std::size_t parts = kBlocksPerThread * thread_count();
  const std::size_t largest = std::max(mr, std::min(fit / mr * mr, round_up((m + parts - 1) / parts, mr)));
  // As many blocks as that needs, made equal, so the last one is not a sliver of edge tiles.
  const std::size_t blocks = (m + largest - 1) / largest;
  return round_up((m + blocks - 1) / blocks, mr);
}

void full_tile(const Kernels& kern, std::size_t kc, const float* a, const float* b, double* c, std::size_t ldc,
               bool add) {
  kern.gemm_f64(kc, a, b, c, ldc, add);
}

void full_tile(const Kernels& kern, std::size_t kc, const float* a, const float* b, float* c, std::size_t ldc,
               bool add) {
  kern.gemm_f32(kc, a, b, c, ldc, add);
}

// What pack reads: the (i, p) view of `top` for i < split and of `bottom` (its row i - split)
// from there on, each entry minus its stored column's shift when that piece has one. A plain
// GEMM operand is one piece without a shift (plain()).
struct Source {
  ShiftedOperand top;
  ShiftedOperand bottom;
  std::size_t split;
};

Source plain(Operand m) { return Source{{m, nullptr}, {m, nullptr}, kAllRows}; }

// Rows [row0, row0 + count) of one piece at step p (transposed: one contiguous run) into dst.
// A shift is subtracted in f64 and the difference rounded to f32, as center_columns does.
void copy_run(const ShiftedOperand& s, std::size_t row0, std::size_t count, std::size_t p, float* dst) {
  const float* src = s.op.data + p * s.op.ld + row0;
  if (s.shift == nullptr) {
    for (std::size_t r = 0; r < count; ++r) dst[r] = src[r];
    return;
  }
  kernels().shifted_f32(src, s.shift + row0, count, dst);
}

// Packs rows [i0, i1) x columns [p0, p0 + kc) of the (i, p) view of `m` into panels of `width`
// rows, panel t at out + t * panel_stride, laid out step by step: panel[p * width + r]. Rows
// past i1 in the last panel are zero, so edge tiles need no special micro-kernel.
void pack(const Source& m, std::size_t i0, std::size_t i1, std::size_t width, std::size_t p0, std::size_t kc,
          float* out, std::size_t panel_stride) {
  const std::size_t panels = (i1 - i0 + width - 1) / width;
  if (m.top.op.transposed) {
    // (i, p) is data[p * ld + i]: each step is one contiguous run across every panel (per
    // piece), so a row of the source is read once per block (not once per panel: one page visit
    // per step either way). Plain loops, not std::copy: a library memmove call per 12 or 32
    // floats costs more than the copy. Successive steps are ld floats apart, usually in another
    // page, where the hardware prefetchers do not follow: the run kAhead steps on is prefetched
    // by hand.
    constexpr std::size_t kAhead = 8;
    const std::size_t top_end = std::min(i1, std::max(i0, m.split)), bottom_begin = std::max(i0, m.split);
    // A shifted step is centred whole into `row` first, one kernel call per piece instead of one
    // per panel (a call per 32 floats cost more than the arithmetic), then dealt out to the panels.
    // A piece's squares are summed from `row` too: over this slice into `sq`, added at the end.
    double* const top_sq = top_end > i0 ? m.top.squares : nullptr;
    double* const bottom_sq = i1 > bottom_begin ? m.bottom.squares : nullptr;
    const bool shifted = m.top.shift != nullptr || (bottom_begin < i1 && m.bottom.shift != nullptr) ||
                         top_sq != nullptr || bottom_sq != nullptr;
    thread_local std::vector<float> row;
    thread_local std::vector<double> sq;
    if (shifted) row.resize(i1 - i0);
    if (top_sq != nullptr || bottom_sq != nullptr) sq.assign(i1 - i0, 0.0);
    for (std::size_t p = 0; p < kc; ++p) {
      if (p + kAhead < kc) {
        const std::size_t ahead = p0 + p + kAhead;
        for (std::size_t i = i0; i < top_end; i += 16) __builtin_prefetch(m.top.op.data + ahead * m.top.op.ld + i);
        for (std::size_t i = bottom_begin; i < i1; i += 16) {
          __builtin_prefetch(m.bottom.op.data + ahead * m.bottom.op.ld + (i - m.split));
        }
      }
      if (shifted) {
        if (top_end > i0) copy_run(m.top, i0, top_end - i0, p0 + p, row.data());
        if (i1 > bottom_begin) {
          copy_run(m.bottom, bottom_begin - m.split, i1 - bottom_begin, p0 + p, row.data() + (bottom_begin - i0));
        }
        if (top_sq != nullptr) {
          for (std::size_t r = 0; r < top_end - i0; ++r) sq[r] += static_cast<double>(row[r]) * row[r];
        }
        if (bottom_sq != nullptr) {
          for (std::size_t r = bottom_begin - i0; r < i1 - i0; ++r) sq[r] += static_cast<double>(row[r]) * row[r];
        }
      }
      for (std::size_t t = 0; t < panels; ++t) {
        const std::size_t a = i0 + t * width, b = std::min(i1, a + width);
        float* dst = out + t * panel_stride + p * width;
        if (shifted) {
          for (std::size_t r = 0; r < b - a; ++r) dst[r] = row[a - i0 + r];
        } else {
          if (a < m.split) copy_run(m.top, a, std::min(b, m.split) - a, p0 + p, dst);
          if (b > m.split) {
            const std::size_t from = std::max(a, m.split);
            copy_run(m.bottom, from - m.split, b - from, p0 + p, dst + (from - a));
          }
        }
        for (std::size_t r = b - a; r < width; ++r) dst[r] = 0.0f;
      }
    }
    if (top_sq != nullptr) {
      for (std::size_t i = i0; i < top_end; ++i) top_sq[i] += sq[i - i0];
    }
    if (bottom_sq != nullptr) {
      for (std::size_t i = bottom_begin; i < i1; ++i) bottom_sq[i - m.split] += sq[i - i0];
    }
    return;
  }
  // (i, p) is data[i * ld + p]: per panel, gather one value from each row per step, so the
  // packed panel is written sequentially. (Only transposed operands come in pieces or shifted:
  // the feature form's [Xc Yc]^T.)
  const Operand& op = m.top.op;
  for (std::size_t t = 0; t < panels; ++t) {
    const std::size_t valid = std::min(width, i1 - i0 - t * width);
    const float* rows[kMaxPanel];
    for (std::size_t r = 0; r < valid; ++r) rows[r] = op.data + (i0 + t * width + r) * op.ld + p0;
    float* panel = out + t * panel_stride;
    for (std::size_t p = 0; p < kc; ++p) {
      float* dst = panel + p * width;
      for (std::size_t r = 0; r < valid; ++r) dst[r] = rows[r][p];
      for (std::size_t r = valid; r < width; ++r) dst[r] = 0.0f;
    }
  }
}

// Every k-slice of rows [i0, i1) of A, packed: slice p0 at out + p0 * round_up(i1 - i0, mr).
void pack_rows(const Source& a, std::size_t i0, std::size_t i1, std::size_t mr, std::size_t k, float* out) {
  const std::size_t padded = round_up(i1 - i0, mr);
  for (std::size_t p0 = 0; p0 < k; p0 += kBlockK) {
    const std::size_t kc = std::min(kBlockK, k - p0);
    pack(a, i0, i1, mr, p0, kc, out + p0 * padded, mr * kc);
  }
}

// B's columns [j0, j0 + padded) packed by pack_columns in nr-wide panels, slice by slice: k-slice
// p0 (kc steps) holds every panel of the range back to back, so the micro-panels one block of C
// reads in a slice are contiguous. (Panel-major, they would lie k floats apart: at a power-of-two
// k, in the same L2 sets, evicting one another and the blocks of A and C.)
struct PackedColumns {
  float* data;
  std::size_t j0;
  std::size_t padded;  // round_up(columns, nr)

  // The micro-panel of column j (j - j0 a multiple of nr) in the slice starting at p0.
  float* panel(std::size_t j, std::size_t p0, std::size_t kc) const { return data + p0 * padded + (j - j0) * kc; }
};

// One block of C: rows [i0, i1) x columns [j0, j1) (c points at C(i0, j0), row stride ldc), over
// every k-slice back to back so that the block stays in L2 for the whole sum. pb holds B's packed
// panels; A's slices come from `packed_a` (pack_rows) or, when null, are packed here one at a
// time. Each slice adds its f32 panel sums in a fixed order.
template <class T>
void block_product(const Kernels& kern, const Source& a, const float* packed_a, std::size_t i0, std::size_t i1,
                   const PackedColumns& pb, std::size_t j0, std::size_t j1, std::size_t k, T* c, std::size_t ldc,
                   Part part, bool accumulate) {
  const std::size_t mr = kern.mr, nr = kern.nr, padded = round_up(i1 - i0, mr);
  thread_local std::vector<float> slice, tile;
  tile.resize(mr * nr);
  if (packed_a == nullptr) slice.resize(padded * kBlockK);
  for (std::size_t p0 = 0; p0 < k; p0 += kBlockK) {
    const std::size_t kc = std::min(kBlockK, k - p0);
    const bool add = accumulate || p0 > 0;  // the first slice overwrites C unless accumulating
    const float* a_slice = packed_a + p0 * padded;
    if (packed_a == nullptr) {
      pack(a, i0, i1, mr, p0, kc, slice.data(), mr * kc);
      a_slice = slice.data();
    }
    for (std::size_t i = i0; i < i1; i += mr) {
      const std::size_t rows = std::min(mr, i1 - i);
      const float* ap = a_slice + (i - i0) * kc;
      for (std::size_t j = j0; j < j1; j += nr) {
        const std::size_t cols = std::min(nr, j1 - j);
        if (part != Part::Full && j >= i + rows) break;  // this tile and the rest lie above the diagonal
        const float* panel = pb.panel(j, p0, kc);
        T* out = c + (i - i0) * ldc + (j - j0);
        if (rows == mr && cols == nr) {
          full_tile(kern, kc, ap, panel, out, ldc, add);
          continue;
        }
        kern.gemm_tile(kc, ap, panel, tile.data());
        for (std::size_t r = 0; r < rows; ++r) {
          const float* sum = tile.data() + r * nr;
          for (std::size_t q = 0; q < cols; ++q)
            out[r * ldc + q] = (add ? out[r * ldc + q] : T(0)) + static_cast<T>(sum[q]);
        }
      }
    }
  }
}

// Copies the entries of rows [i0, i1) x columns [j0, j1) of C that lie strictly below the
// diagonal onto their mirror images, in square tiles so that both the reads (down the columns of
// a tile) and the writes (along the rows of its image) stay within a few pages and in cache.
template <class T>
void mirror_block(T* c, std::size_t ldc, std::size_t i0, std::size_t i1, std::size_t j0, std::size_t j1) {
  constexpr std::size_t kTile = 64;
  for (std::size_t ib = i0; ib < i1; ib += kTile) {
    const std::size_t ie = std::min(i1, ib + kTile);
    for (std::size_t jb = j0; jb < std::min(j1, ie); jb += kTile) {
      const std::size_t je = std::min(j1, jb + kTile);
      for (std::size_t j = jb; j < je; ++j) {
        for (std::size_t i = std::max(ib, j + 1); i < ie; ++i) c[j * ldc + i] = c[i * ldc + j];
      }
    }
  }
}

// pack_rows from the nr-wide panels pack_columns made of the same operand (its columns starting
// at 0): a row block of a symmetric product's left factor gathered from a few sequential streams
// (its rows lie in a handful of those panels) instead of from the source, whose rows may be
// strided, shifted or in pieces.
void repack_rows(const PackedColumns& pb, std::size_t nr, std::size_t i0, std::size_t i1, std::size_t mr, std::size_t k,
                 float* out) {
  const std::size_t padded = round_up(i1 - i0, mr);
  for (std::size_t t = 0; t < padded / mr; ++t) {
    const std::size_t valid = std::min(mr, i1 - i0 - t * mr), first = i0 + t * mr;
    // The panel's rows are one run of an nr-wide panel, or two runs when they cross into the next.
    const std::size_t head = std::min(valid, nr - first % nr), column = first / nr * nr;
    for (std::size_t p0 = 0; p0 < k; p0 += kBlockK) {
      const std::size_t kc = std::min(kBlockK, k - p0);
      const float* run0 = pb.panel(column, p0, kc) + first % nr;
      const float* run1 = head < valid ? pb.panel(column + nr, p0, kc) : run0;
      float* panel = out + p0 * padded + t * mr * kc;
      for (std::size_t p = 0; p < kc; ++p) {
        float* dst = panel + p * mr;
        for (std::size_t r = 0; r < head; ++r) dst[r] = run0[p * nr + r];
        for (std::size_t r = head; r < valid; ++r) dst[r] = run1[p * nr + r - head];
        for (std::size_t r = valid; r < mr; ++r) dst[r] = 0.0f;
      }
    }
  }
}

// B's columns [j0, j1) (its (j, p) view `bt`) packed into nr-wide panels over every k-slice
// (PackedColumns' layout, in `out`), in parallel.
PackedColumns pack_columns(const Source& bt, std::size_t j0, std::size_t j1, std::size_t nr, std::size_t k,
                           float* out) {
  const PackedColumns packed{out, j0, round_up(j1 - j0, nr)};
  // Up to 8 panels per task, but at least one task per thread: a stitch's 256 columns are 8
  // AVX-512 panels, which one task would pack alone while the other threads wait.
  const std::size_t panels = (j1 - j0 + nr - 1) / nr;
  const std::size_t chunk = std::max<std::size_t>(1, std::min<std::size_t>(8, panels / thread_count()));
  parallel_ranges(panels, chunk, [&](std::size_t r0, std::size_t r1) {
    const std::size_t c0 = j0 + r0 * nr, c1 = std::min(j1, j0 + r1 * nr);
    for (std::size_t p0 = 0; p0 < k; p0 += kBlockK) {
      const std::size_t kc = std::min(kBlockK, k - p0);
      pack(bt, c0, c1, nr, p0, kc, packed.panel(c0, p0, kc), nr * kc);
    }
  });
  return packed;
}

template <class T>
void gemm_impl(std::size_t m, std::size_t n, std::size_t k, Operand a, Operand b, T* c, std::size_t ldc, Part part,
               bool accumulate) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate) {
      for (std::size_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, T(0));
    }
    return;
  }
  std::optional<RunInline> serial;
  if (small_product(m, n, k)) serial.emplace();
  const Kernels& kern = kernels();
  const std::size_t mr = kern.mr, nr = kern.nr;
  const std::size_t mc = row_block(m, mr), nc = round_up(kNc, nr);
  // B's (j, p) view: op(B)(p, j) read with the transposition flipped.
  const Source bt = plain(Operand{b.data, b.ld, !b.transposed});
  const Source as = plain(a);

  // B is packed once, whole (every k-slice of every nr-panel), in column ranges of at most
  // kPackedBudget floats. A task owns one row block of C and runs its column blocks in turn
  // (block_product). Results do not depend on the threads.
  const std::size_t b_panels = (n + nr - 1) / nr;
  const std::size_t range_panels = std::max<std::size_t>(nc / nr, kPackedBudget / (k * nr) / (nc / nr) * (nc / nr));
  FloatBuffer pb(std::min(b_panels, range_panels) * nr * k);  // uninitialised: every entry is packed before use
  const std::size_t row_blocks = (m + mc - 1) / mc;

  for (std::size_t q_begin = 0; q_begin < b_panels; q_begin += range_panels) {
    const std::size_t q_end = std::min(b_panels, q_begin + range_panels);
    const std::size_t s0 = q_begin * nr, s1 = std::min(n, q_end * nr);
    if (part != Part::Full && s0 >= m) break;  // the rest lies wholly above the diagonal
    const PackedColumns packed_b = pack_columns(bt, s0, s1, nr, k, pb.data());
    parallel_for(row_blocks, [&](std::size_t t) {
      // A lower triangle's longest row blocks (the last) first; the short ones fill in at the end.
      const std::size_t block = part != Part::Full ? row_blocks - 1 - t : t;
      const std::size_t i0 = block * mc, i1 = std::min(m, i0 + mc);
      const std::size_t j_end = part != Part::Full ? std::min(s1, i1) : s1;  // wholly above the diagonal beyond
      if (j_end <= s0) return;
      // Packing every slice up front only pays when several column blocks reuse it; otherwise
      // block_product packs one slice at a time in a small per-thread buffer.
      std::unique_ptr<float[]> packed_a;
      if (j_end - s0 > nc && round_up(i1 - i0, mr) * k <= kPackedABudget) {
        packed_a.reset(new float[round_up(i1 - i0, mr) * k]);
        pack_rows(as, i0, i1, mr, k, packed_a.get());
      }
      for (std::size_t j0 = s0; j0 < j_end; j0 += nc) {
        // Not past j_end even inside a micro-tile: beyond i1 lie the mirror images that the
        // tasks of later row blocks write while this one runs.
        const std::size_t j1 = std::min(j_end, j0 + nc);
        block_product(kern, as, packed_a.get(), i0, i1, packed_b, j0, j1, k, c + i0 * ldc + j0, ldc, part, accumulate);
        // Mirror images in rows above this row block, columns [i0, i1): no other task writes there.
        if (part == Part::Symmetric) mirror_block(c, ldc, i0, i1, j0, std::min(j1, i0));
      }
      // The diagonal square's own mirror images lie in this block's rows, in columns that a later
      // column block would still write: copied once its last column is final.
      if (part == Part::Symmetric && s1 >= i1) mirror_block(c, ldc, i0, i1, i0, i1);
    });
  }
}

}  // namespace

void gemm(std::size_t m, std::size_t n, std::size_t k, Operand a, Operand b, double* c, std::size_t ldc, Part part,
          bool accumulate) {
  gemm_impl(m, n, k, a, b, c, ldc, part, accumulate);
}

void gemm(std::size_t m, std::size_t n, std::size_t k, Operand a, Operand b, float* c, std::size_t ldc, Part part,
          bool accumulate) {
  gemm_impl(m, n, k, a, b, c, ldc, part, accumulate);
}

void gram_sweep(const std::vector<GramOperand>& xs, const GramBlockFn& fn, std::size_t first_row) {
  if (xs.empty() || xs[0].rows <= first_row) return;
  const std::size_t n = xs[0].rows;
  const Kernels& kern = kernels();
  const std::size_t mr = kern.mr, nr = kern.nr;
  const std::size_t mc = row_block(n - first_row, mr), nc = round_up(kNc, nr);
  // The right operand op(M)^T packed whole: its (j, p) view is op(M) itself.
  std::vector<Source> sources;
  std::vector<FloatBuffer> pbs;
  std::vector<PackedColumns> packed_right;
  for (const GramOperand& x : xs) {
    sources.push_back(Source{x.top, x.bottom, x.split});
    pbs.emplace_back(round_up(n, nr) * x.depth);
    packed_right.push_back(pack_columns(sources.back(), 0, n, nr, x.depth, pbs.back().data()));
  }
  const std::size_t row_blocks = (n - first_row + mc - 1) / mc;
  parallel_for(row_blocks, [&](std::size_t t) {
    const std::size_t block = row_blocks - 1 - t;  // the longest rows first
    const std::size_t i0 = first_row + block * mc, i1 = std::min(n, i0 + mc), padded = round_up(i1 - i0, mr);
    thread_local std::vector<std::vector<float>> packed;
    thread_local std::vector<std::vector<double>> out;
    packed.resize(xs.size());
    out.resize(xs.size());
    std::vector<const double*> blocks(xs.size());
    for (std::size_t s = 0; s < xs.size(); ++s) {
      packed[s].resize(padded * xs[s].depth);
      repack_rows(packed_right[s], nr, i0, i1, mr, xs[s].depth, packed[s].data());
      out[s].resize(mc * nc);
      blocks[s] = out[s].data();
    }
    for (std::size_t j0 = 0; j0 < i1; j0 += nc) {
      const std::size_t j1 = std::min(i1, j0 + nc);
      for (std::size_t s = 0; s < xs.size(); ++s) {
        block_product(kern, sources[s], packed[s].data(), i0, i1, packed_right[s], j0, j1, xs[s].depth, out[s].data(),
                      j1 - j0, Part::Lower, false);
      }
      fn(i0, i1, j0, j1, blocks);
    }
  });
}

void mirror_lower(double* c, std::size_t n, std::size_t ldc) {
  // A task of rows [i0, i1) writes above the diagonal only in columns i0..i1-1: tasks never overlap.
  parallel_ranges(n, 64, [&](std::size_t i0, std::size_t i1) { mirror_block(c, ldc, i0, i1, 0, i1); });
}

}  // namespace restnet
