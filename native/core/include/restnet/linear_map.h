// The stitching layer itself: y = x W + b, W (in x out) and b (out) in f32, as it runs between
// the front and the back model.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "restnet/matrix.h"

namespace restnet {

// A stitch's parameters read where they lie, a LinearMap's vectors or a caller's arrays for the
// length of a call: W (in x out, row-major, contiguous) and b (out).
struct LinearMapView {
  std::size_t in = 0;
  std::size_t out = 0;
  const float* weight = nullptr;
  const float* bias = nullptr;
};

struct LinearMap {
  std::size_t in = 0;
  std::size_t out = 0;
  std::vector<float> weight;  // in x out, row-major
  std::vector<float> bias;    // out

  LinearMap() = default;
  LinearMap(std::size_t i, std::size_t o) : in(i), out(o), weight(i * o, 0.0f), bias(o, 0.0f) {}

  LinearMapView view() const { return LinearMapView{in, out, weight.data(), bias.data()}; }
};

// Throws RangeError naming `name` when x does not have map.in columns.
void check_input(LinearMapView map, MatrixView x, const std::string& name);

// x W + b (x.rows x map.out), threaded through the blocked GEMM.
std::vector<float> apply(LinearMapView map, MatrixView x);
// The same written into `out` (x.rows x map.out, every entry overwritten): straight into a
// caller's buffer, such as the JavaScript array the addon returns, without a copy. With
// `finite_name`, throws check_finite's RangeError naming it when x holds a NaN or an infinity:
// checked through the result while the bias is added (a non-finite value in a row of x makes
// that row of x W + b non-finite, whatever the finite W), so finite input costs no extra pass
// over x; only a non-finite result, from bad input or from overflow, reads x again.
void apply(LinearMapView map, MatrixView x, float* out, const std::string* finite_name = nullptr);

// sum over all elements of (x W + b - y)^2, accumulated in f64 (x centred first, so large
// offsets in x do not cancel in the f32 product).
double residual_sum_squares(const LinearMap& map, MatrixView x, MatrixView y);

}  // namespace restnet
