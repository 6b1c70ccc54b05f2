// The blocked GEMM and Gram against a naive f64 product, on shapes that straddle every
// micro-tile and cache-block edge of every ISA, and its independence from the thread count.
#include <cmath>

#include "harness.h"
#include "reference.h"
#include "restnet/dispatch.h"
#include "restnet/gemm.h"
#include "restnet/gram.h"
#include "restnet/thread_pool.h"

using restnet::Operand;

namespace {

// Worst-case f32 block accumulation error relative to the sum of |products|.
constexpr double kTol = 2e-5;

// C = op(A) op(B) into an f64 or f32 output that starts at `start` everywhere; with accumulate
// the product is added to it, so the expected value includes the start.
template <class T = double>
void check_product(std::size_t m, std::size_t n, std::size_t k, bool ta, bool tb, bool accumulate = false) {
  const ref::Data a = ref::random_matrix(ta ? k : m, ta ? m : k, 11 + m);
  const ref::Data b = ref::random_matrix(tb ? n : k, tb ? k : n, 17 + n);
  const double start = -1.0;
  std::vector<T> c(m * n, T(start));
  restnet::gemm(m, n, k, Operand{a.values.data(), a.cols, ta}, Operand{b.values.data(), b.cols, tb}, c.data(), n,
                restnet::Part::Full, accumulate);
  double worst = 0.0;
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double s = accumulate ? start : 0.0, mag = 0.0;
      for (std::size_t p = 0; p < k; ++p) {
        const double av = ta ? a.values[p * a.cols + i] : a.values[i * a.cols + p];
        const double bv = tb ? b.values[j * b.cols + p] : b.values[p * b.cols + j];
        s += av * bv;
        mag += std::fabs(av * bv);
      }
      worst = std::fmax(worst, std::fabs(c[i * n + j] - s) / std::fmax(mag, 1.0));
    }
  }
  CHECK_CLOSE(worst, 0.0, kTol);
}

}  // namespace

TEST(gemm_matches_naive_on_edge_shapes) {
  for (std::size_t m : {1, 5, 13, 33, 150}) {
    for (std::size_t n : {1, 7, 31, 65}) {
      for (std::size_t k : {0, 1, 3, 257, 600}) check_product(m, n, k, false, false);
    }
  }
}

// The interior tiles' epilogue (widened in registers) and the edge tiles' (scalar) both
// overwrite on the first k-slice and add afterwards, or add from the start when accumulating.
TEST(gemm_accumulates_and_writes_f32_outputs) {
  for (std::size_t m : {5, 13, 150}) {
    for (std::size_t k : {1, 257, 600}) {
      check_product(m, 65, k, false, true, true);
      check_product<float>(m, 65, k, true, false, false);
      check_product<float>(m, 65, k, false, false, true);
    }
  }
}

TEST(gemm_handles_every_transposition) {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) check_product(37, 45, 300, ta, tb);
  }
}

TEST(linear_gram_is_symmetric_and_matches_naive) {
  for (std::size_t n : {1, 2, 11, 49, 300}) {
    const ref::Data x = ref::random_matrix(n, 37, 5 + n);
    const restnet::Matrix64 g = restnet::linear_gram(restnet::MatrixView(x.values.data(), n, 37));
    const ref::Mat expected = ref::gram_linear(x);
    bool symmetric = true;
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < n; ++j) {
        symmetric = symmetric && g.at(i, j) == g.at(j, i);
        CHECK_CLOSE(g.at(i, j), expected[i * n + j], kTol * 37);
      }
    }
    CHECK(symmetric);
  }
}

// Part::Symmetric mirrors each finished block while the product runs: over several column
// blocks (n > 512, row blocks straddling their edges) and, at k > 16384, several column ranges
// of packed B, every entry equals its mirror image exactly and matches the naive product
// (checked on a lattice of entries in both triangles: the naive sums are long). The column ranges
// do not depend on the kernels, so the long product (2.3 G multiply-adds) runs on the x86 SIMD
// paths only: scalar code, or NEON under qemu, would take minutes.
TEST(symmetric_products_mirror_every_block) {
  const restnet::Isa isa = restnet::active_isa();
  for (const std::size_t k : {7, 16500}) {
    if (k > 1000 && isa != restnet::Isa::Avx2 && isa != restnet::Isa::Avx512) continue;
    const std::size_t n = k > 1000 ? 530 : 1100;
    const ref::Data x = ref::random_matrix(n, k, 23 + k);
    std::vector<double> c(n * n, -7.0);
    restnet::gemm(n, n, k, Operand{x.values.data(), k, false}, Operand{x.values.data(), k, true}, c.data(), n,
                  restnet::Part::Symmetric);
    bool symmetric = true;
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < i; ++j) symmetric = symmetric && c[i * n + j] == c[j * n + i];
    }
    CHECK(symmetric);
    for (std::size_t i = 0; i < n; i += 13) {
      for (std::size_t j = 0; j < n; j += 11) {
        double s = 0.0, mag = 0.0;
        for (std::size_t p = 0; p < k; ++p) {
          const double prod = double(x.values[i * k + p]) * double(x.values[j * k + p]);
          s += prod;
          mag += std::fabs(prod);
        }
        CHECK_CLOSE(c[i * n + j], s, kTol * std::fmax(mag, 1.0) / std::fmax(std::fabs(s), 1.0));
      }
    }
  }
}

// The centring kernels round exactly as the portable code does (f64 difference, nearest f32) and
// sum in the same order, so a SIMD path changes no centred value and no column sum; lengths
// straddle every vector width, values span magnitudes so that the rounding matters.
TEST(centring_kernels_match_the_portable_ones_bit_for_bit) {
  const restnet::Kernels& kern = restnet::kernels();
  const restnet::Kernels& portable = restnet::kernels_for(restnet::Isa::Scalar);
  for (std::size_t n : {1, 3, 4, 7, 8, 15, 16, 17, 33, 100}) {
    const ref::Data x = ref::random_matrix(1, n, 40 + n, 1e3);
    std::vector<double> shift(n), sums(n), expected_sums(n);
    for (std::size_t i = 0; i < n; ++i) {
      shift[i] = std::ldexp(double(x.values[(i * 7) % n]), -int(i % 5)) + 1.0 / 3.0;
      sums[i] = expected_sums[i] = 0.1 * double(i);
    }
    std::vector<float> got(n), expected(n);
    kern.shifted_f32(x.values.data(), shift.data(), n, got.data());
    portable.shifted_f32(x.values.data(), shift.data(), n, expected.data());
    CHECK(got == expected);
    kern.add_rows_f64(x.values.data(), n, 1, n, sums.data());
    portable.add_rows_f64(x.values.data(), n, 1, n, expected_sums.data());
    CHECK(sums == expected_sums);
    // Several rows (a stride wider than a row; row counts on both sides of the blocking of 4).
    for (std::size_t rows : {2, 4, 5, 9}) {
      const ref::Data m = ref::random_matrix(rows, n + 3, 60 + n + rows, 1e3);
      kern.add_rows_f64(m.values.data(), n + 3, rows, n, sums.data());
      portable.add_rows_f64(m.values.data(), n + 3, rows, n, expected_sums.data());
      CHECK(sums == expected_sums);
    }
  }
}

TEST(results_do_not_depend_on_thread_count) {
  const ref::Data x = ref::random_matrix(333, 129, 3);
  const restnet::MatrixView v(x.values.data(), 333, 129);
  restnet::set_thread_count(1);
  const restnet::Matrix64 one = restnet::linear_gram(v);
  restnet::set_thread_count(3);
  const restnet::Matrix64 three = restnet::linear_gram(v);
  restnet::set_thread_count(0);
  CHECK(one.data == three.data);
}
