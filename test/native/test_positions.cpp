// Per-position sums and offsets against direct double-precision loops, for several thread
// counts (the sums must not depend on them).
#include <cmath>
#include <vector>

#include "harness.h"
#include "restnet/errors.h"
#include "restnet/positions.h"
#include "restnet/thread_pool.h"

namespace {

std::vector<float> wave(std::size_t n, double phase) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(std::sin(0.29 * static_cast<double>(i) + phase) * 3.0);
  return v;
}

}  // namespace

TEST(position_sums_match_direct_sums_for_any_thread_count) {
  const std::size_t samples = 7, positions = 37, cols = 5;  // 37 positions: more than two chunks of 16
  const std::vector<float> x = wave(samples * positions * cols, 0.3);
  std::vector<double> expected(positions * cols, 0.5);  // sums add to what is there
  for (std::size_t s = 0; s < samples; ++s)
    for (std::size_t p = 0; p < positions; ++p)
      for (std::size_t j = 0; j < cols; ++j) expected[p * cols + j] += x[(s * positions + p) * cols + j];
  std::vector<double> first;
  for (std::size_t threads : {1, 2, 3}) {
    restnet::set_thread_count(threads);
    std::vector<double> sum(positions * cols, 0.5);
    restnet::add_position_sums(restnet::MatrixView(x.data(), samples * positions, cols), positions, sum.data(), "x");
    for (std::size_t k = 0; k < sum.size(); ++k) CHECK_CLOSE(sum[k], expected[k], 1e-12);
    if (first.empty()) first = sum;
    CHECK(sum == first);
  }
  restnet::set_thread_count(0);
}

TEST(position_offsets_add_each_positions_row) {
  const std::size_t samples = 4, positions = 6, cols = 3;
  std::vector<float> y = wave(samples * positions * cols, 1.1);
  const std::vector<float> before = y, offsets = wave(positions * cols, 2.0);
  restnet::add_position_offsets(y.data(), samples * positions, cols, offsets.data(), positions, "y");
  for (std::size_t r = 0; r < samples * positions; ++r)
    for (std::size_t j = 0; j < cols; ++j) CHECK(y[r * cols + j] == before[r * cols + j] + offsets[(r % positions) * cols + j]);
}

TEST(position_rows_must_be_whole_samples) {
  std::vector<float> y(10, 0.0f), offsets(6, 0.0f);
  std::vector<double> sum(6, 0.0);
  CHECK_THROWS(restnet::add_position_offsets(y.data(), 5, 2, offsets.data(), 3, "y"), restnet::RangeError);
  CHECK_THROWS(restnet::add_position_sums(restnet::MatrixView(y.data(), 5, 2), 3, sum.data(), "x"), restnet::RangeError);
}
