// A stitch's apply, x W + b, against a long-double reference on every SIMD path, small (run on
// the calling thread) and large (threaded) alike, bit for bit the same at any thread count; and
// its check of x for NaN and infinity, which reads the result rather than x.
#include <cmath>
#include <limits>
#include <string>

#include "harness.h"
#include "reference.h"
#include "restnet/errors.h"
#include "restnet/linear_map.h"
#include "restnet/thread_pool.h"

namespace {

restnet::MatrixView view(const ref::Data& d) { return restnet::MatrixView(d.values.data(), d.rows, d.cols); }

restnet::LinearMap random_map(std::size_t in, std::size_t out, unsigned seed) {
  const ref::Data w = ref::random_matrix(in, out, seed), b = ref::random_matrix(1, out, seed + 1);
  restnet::LinearMap map(in, out);
  map.weight = w.values;
  map.bias = b.values;
  return map;
}

std::vector<float> applied(const restnet::LinearMap& map, const ref::Data& x) {
  std::vector<float> out(x.rows * map.out);
  const std::string name = "x";
  restnet::apply(map.view(), view(x), out.data(), &name);
  return out;
}

}  // namespace

TEST(linear_map_apply_matches_reference_small_and_threaded) {
  // 40 x 70 -> 33 is under small_product's bound (one thread); 600 rows are over it.
  for (std::size_t rows : {40, 600}) {
    const ref::Data x = ref::random_matrix(rows, 70, 21);
    const restnet::LinearMap map = random_map(70, 33, 22);
    const std::vector<float> out = applied(map, x);
    for (std::size_t i = 0; i < rows; ++i) {
      for (std::size_t j = 0; j < 33; ++j) {
        long double s = map.bias[j];
        for (std::size_t p = 0; p < 70; ++p)
          s += static_cast<long double>(x.values[i * 70 + p]) * map.weight[p * 33 + j];
        CHECK_CLOSE(out[i * 33 + j], static_cast<double>(s), 1e-5);
      }
    }
    restnet::set_thread_count(1);
    const std::vector<float> one = applied(map, x);
    restnet::set_thread_count(0);
    CHECK(one == out);
  }
}

TEST(linear_map_apply_reports_non_finite_input_through_its_result) {
  for (std::size_t rows : {40, 600}) {
    const ref::Data clean = ref::random_matrix(rows, 70, 23);
    restnet::LinearMap map = random_map(70, 33, 24);
    for (std::size_t p = 0; p < 70; ++p) map.weight[p * 33 + 4] = 0.0f;  // inf x 0 = NaN in column 4
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                      -std::numeric_limits<float>::infinity()}) {
      ref::Data x = clean;
      x.values[(rows - 1) * 70 + 69] = bad;
      CHECK_THROWS(applied(map, x), restnet::RangeError);
    }
    // A finite x whose product overflows is returned as computed.
    restnet::LinearMap ones(70, 2);
    ones.weight.assign(140, 1.0f);
    ref::Data huge = clean;
    huge.values.assign(rows * 70, 1e38f);
    const std::vector<float> out = applied(ones, huge);
    CHECK(std::isinf(out[0]) && out[0] > 0);
  }
}
