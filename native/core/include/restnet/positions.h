// Per-position rows of a batch: sample-major, `positions` rows per sample (one per pixel or
// token of the back's grid or sequence), as the stitch adapters lay them out. The per-position
// statistics a stitch's offsets come from, and the offsets added back.
#pragma once

#include <cstddef>

#include "restnet/matrix.h"

namespace restnet {

// sum (positions x x.cols, f64) += x's rows, row r into position r % positions. x.rows must be a
// multiple of positions (RangeError naming `name` otherwise). Each position's sum runs over the
// samples in order, so results do not depend on the thread count.
void add_position_sums(MatrixView x, std::size_t positions, double* sum, const char* name);

// y (rows x cols, in place): row r += offsets row r % positions (offsets: positions x cols).
// rows must be a multiple of positions (RangeError naming `name` otherwise).
void add_position_offsets(float* y, std::size_t rows, std::size_t cols, const float* offsets, std::size_t positions,
                          const char* name);

}  // namespace restnet
