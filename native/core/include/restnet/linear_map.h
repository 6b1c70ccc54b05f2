// The stitching layer itself: y = x W + b, W (in x out) and b (out) in f32, as it runs between
// the front and the back model.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "restnet/matrix.h"

namespace restnet {

struct LinearMap {
  std::size_t in = 0;
  std::size_t out = 0;
  std::vector<float> weight;  // in x out, row-major
  std::vector<float> bias;    // out

  LinearMap() = default;
  LinearMap(std::size_t i, std::size_t o) : in(i), out(o), weight(i * o, 0.0f), bias(o, 0.0f) {}
};

// Throws RangeError naming `name` when x does not have map.in columns.
void check_input(const LinearMap& map, MatrixView x, const std::string& name);

// x W + b (x.rows x map.out), threaded through the blocked GEMM.
std::vector<float> apply(const LinearMap& map, MatrixView x);
// The same written into `out` (x.rows x map.out, every entry overwritten): straight into a
// caller's buffer, such as the JavaScript array the addon returns, without a copy.
void apply(const LinearMap& map, MatrixView x, float* out);

// sum over all elements of (x W + b - y)^2, accumulated in f64 (x centred first, so large
// offsets in x do not cancel in the f32 product).
double residual_sum_squares(const LinearMap& map, MatrixView x, MatrixView y);

}  // namespace restnet
