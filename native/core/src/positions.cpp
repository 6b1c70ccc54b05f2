// Per-position sums and offsets of sample-major per-position rows.
#include "restnet/positions.h"

#include <string>

#include "restnet/errors.h"
#include "restnet/thread_pool.h"

namespace restnet {
namespace {

std::size_t samples_of(std::size_t rows, std::size_t positions, const char* name) {
  if (positions == 0 || rows % positions != 0) {
    throw RangeError(std::string(name) + ": expected rows = samples x " + std::to_string(positions) +
                     " positions, got " + std::to_string(rows) + " rows");
  }
  return rows / positions;
}

// Positions per task: a fixed split, so the work of a position never depends on the thread count.
constexpr std::size_t kPositionChunk = 16;

}  // namespace

void add_position_sums(MatrixView x, std::size_t positions, double* sum, const char* name) {
  const std::size_t samples = samples_of(x.rows, positions, name);
  parallel_ranges(positions, kPositionChunk, [&](std::size_t p0, std::size_t p1) {
    for (std::size_t s = 0; s < samples; ++s) {
      for (std::size_t p = p0; p < p1; ++p) {
        const float* row = x.row(s * positions + p);
        double* acc = sum + p * x.cols;
        for (std::size_t j = 0; j < x.cols; ++j) acc[j] += row[j];
      }
    }
  });
}

void add_position_offsets(float* y, std::size_t rows, std::size_t cols, const float* offsets, std::size_t positions,
                          const char* name) {
  const std::size_t samples = samples_of(rows, positions, name);
  const std::size_t block = positions * cols;
  parallel_for(samples, [&](std::size_t s) {
    float* out = y + s * block;
    for (std::size_t k = 0; k < block; ++k) out[k] += offsets[k];
  });
}

}  // namespace restnet
