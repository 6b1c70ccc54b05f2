#include "restnet/linear_map.h"

#include <atomic>
#include <cstdint>
#include <optional>

#include "restnet/centering.h"
#include "restnet/errors.h"
#include "restnet/gemm.h"
#include "restnet/thread_pool.h"

namespace restnet {
namespace {

constexpr std::size_t kRowChunk = 256;

}  // namespace

void check_input(LinearMapView map, MatrixView x, const std::string& name) {
  if (x.cols != map.in) {
    throw RangeError(name + ": expected " + std::to_string(map.in) + " columns (the stitch's input width), got " +
                     std::to_string(x.rows) + " x " + std::to_string(x.cols));
  }
}

void apply(LinearMapView map, MatrixView x, float* out, const std::string* finite_name) {
  if (finite_name != nullptr && map.out == 0) check_finite(x, *finite_name);  // no result to check through
  // A small product's bias pass stays on this thread too (gemm keeps the product there).
  std::optional<RunInline> serial;
  if (small_product(x.rows, map.out, map.in)) serial.emplace();
  gemm(x.rows, map.out, map.in, Operand{x.data, x.stride, false}, Operand{map.weight, map.out, false}, out, map.out);
  std::atomic<bool> non_finite{false};
  parallel_ranges(x.rows, kRowChunk, [&](std::size_t i0, std::size_t i1) {
    std::uint32_t any = 0;
    for (std::size_t i = i0; i < i1; ++i) {
      float* row = out + i * map.out;
      for (std::size_t j = 0; j < map.out; ++j) {
        row[j] += map.bias[j];
        any |= non_finite_bit(row[j]);
      }
    }
    if (any != 0) non_finite.store(true);
  });
  // A non-finite result comes from x (a RangeError naming it) or from W, b or overflow (returned
  // as computed, as a check of x alone would).
  if (finite_name != nullptr && non_finite.load()) check_finite(x, *finite_name);
}

std::vector<float> apply(LinearMapView map, MatrixView x) {
  std::vector<float> out(x.rows * map.out);
  apply(map, x, out.data());
  return out;
}

double residual_sum_squares(const LinearMap& map, MatrixView x, MatrixView y) {
  // x W + b = (x - mean) W + (mean W + b): the product runs on centred rows and the offset
  // term in f64, so a large common offset in x does not cancel in f32.
  const std::vector<double> mean = column_means(x);
  const std::vector<float> xc = center_columns(x, mean);
  std::vector<double> offset(map.out);
  for (std::size_t j = 0; j < map.out; ++j) {
    double s = map.bias[j];
    for (std::size_t p = 0; p < map.in; ++p) s += mean[p] * map.weight[p * map.out + j];
    offset[j] = s;
  }
  std::vector<float> p(x.rows * map.out);
  gemm(x.rows, map.out, map.in, Operand{xc.data(), map.in, false}, Operand{map.weight.data(), map.out, false}, p.data(),
       map.out);
  const std::size_t chunks = (x.rows + kRowChunk - 1) / kRowChunk;
  std::vector<double> partial(chunks, 0.0);
  parallel_ranges(x.rows, kRowChunk, [&](std::size_t i0, std::size_t i1) {
    double s = 0.0;
    for (std::size_t i = i0; i < i1; ++i) {
      const float* pi = p.data() + i * map.out;
      const float* yi = y.row(i);
      for (std::size_t j = 0; j < map.out; ++j) {
        const double r = static_cast<double>(pi[j]) + offset[j] - static_cast<double>(yi[j]);
        s += r * r;
      }
    }
    partial[i0 / kRowChunk] = s;
  });
  double total = 0.0;
  for (double v : partial) total += v;
  return total;
}

}  // namespace restnet
