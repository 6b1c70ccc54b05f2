// Blocked, packed matrix products on f32 data with the SIMD micro-kernels of dispatch.h.
// Products are summed in f32 over at most kBlockK terms (one packed panel), and the panel sums
// are added into the output in its own precision: with an f64 output every reduction longer
// than kBlockK accumulates in f64, which keeps long sums (n = 10^5 samples) accurate.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

namespace restnet {

constexpr std::size_t kBlockK = 256;

// Products of fewer than 2^20 multiply-adds run on the calling thread (RunInline): about 10-20
// us of arithmetic, what waking a sleeping worker costs. (m n tested first: no overflow.)
constexpr bool small_product(std::size_t m, std::size_t n, std::size_t k) {
  constexpr std::size_t kInlineMacs = std::size_t(1) << 20;
  return m * n < kInlineMacs && m * n * k < kInlineMacs;
}

// op(M) for a row-major f32 matrix: element (i, p) is data[i * ld + p], or data[p * ld + i]
// when transposed.
struct Operand {
  const float* data;
  std::size_t ld;
  bool transposed;
};

// Which part of a square output to compute: Lower computes every tile that touches the lower
// triangle (i >= j), for symmetric products such as X X^T (a rank-k update: half the work).
// Symmetric computes the same tiles and copies each finished block onto its mirror image above
// the diagonal while the block is still in cache: the whole of a product the caller knows to be
// symmetric (op(B) = op(A)^T), without a second pass over C.
enum class Part { Full, Lower, Symmetric };

// C (m x n, leading dimension ldc) = op(A) (m x k) * op(B) (k x n), or C += ... when accumulate.
void gemm(std::size_t m, std::size_t n, std::size_t k, Operand a, Operand b, double* c, std::size_t ldc,
          Part part = Part::Full, bool accumulate = false);
void gemm(std::size_t m, std::size_t n, std::size_t k, Operand a, Operand b, float* c, std::size_t ldc,
          Part part = Part::Full, bool accumulate = false);

// An operand whose stored (row-major) matrix is read with column j shifted by -shift[j] when
// shift is not null: data centred by its column means as it is packed (each difference taken in
// f64 and rounded to f32, as center_columns does), without a centred copy in memory. When
// `squares` is not null (a transposed operand of gram_sweep, which packs each stored column once),
// squares[j] gains the sum of the squares of column j's packed f32 values, in f64, summed per
// k-slice of kBlockK samples and the slices added in order: the diagonal of op(M) op(M)^T in f64
// while the values pass through, without another read of the matrix.
struct ShiftedOperand {
  Operand op;
  const double* shift;
  double* squares = nullptr;
};

constexpr std::size_t kAllRows = static_cast<std::size_t>(-1);

// One factor of a symmetric product op(M) op(M)^T: op(M) is rows x depth. X X^T (a Gram over
// samples) is {X, rows = samples, depth = features}; X^T X (features against features) is
// {X transposed, rows = features, depth = samples}. Two factors may be stacked: rows [split,
// rows) of op(M) are then `bottom`'s rows 0, 1, ...; [Xc Yc]^T is {{X^T, mean x}, dx + dy, n,
// {Y^T, mean y}, dx}, the features of two layers side by side without a copy of either.
struct GramOperand {
  ShiftedOperand top;
  std::size_t rows;
  std::size_t depth;
  ShiftedOperand bottom{};
  std::size_t split = kAllRows;
};

// The lower triangle of every op(M_s) op(M_s)^T for factors with the same rows (layers seen on
// the same samples), swept block by block without ever holding the whole product. For each row
// block [i0, i1) and column block [j0, j1) with j1 <= i1, fn gets every product's f64 block
// (row-major, row stride j1 - j0), summed exactly as gemm sums it. Only the lower triangle and
// the diagonal of a block are defined: micro-tiles wholly above the diagonal are skipped (their
// entries hold whatever an earlier block left), the rest of a tile touching it is computed. The
// calls for one row block come from one thread in increasing j0; row blocks run concurrently,
// their boundaries depending on the thread count, so fn should reduce per row to keep results
// independent of it. Rows before `first_row` are only columns: the sweep covers rows
// [first_row, rows), so a stacked [Yc Xc]^T with first_row = dy gives Xc^T Yc and the lower
// triangle of Xc^T Xc without any of Yc^T Yc (the least-squares normal equations).
using GramBlockFn = std::function<void(std::size_t i0, std::size_t i1, std::size_t j0, std::size_t j1,
                                       const std::vector<const double*>& blocks)>;
void gram_sweep(const std::vector<GramOperand>& xs, const GramBlockFn& fn, std::size_t first_row = 0);

// Copies the lower triangle of a square n x n matrix onto the upper one.
void mirror_lower(double* c, std::size_t n, std::size_t ldc);

}  // namespace restnet
