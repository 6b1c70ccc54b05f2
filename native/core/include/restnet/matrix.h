// Matrix views shared by every part of the core. Row-major, samples in rows.
#pragma once

#include <cstddef>
#include <vector>

namespace restnet {

// A read-only view of caller-owned f32 data: element (i, j) is data[i * stride + j].
struct MatrixView {
  const float* data = nullptr;
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::size_t stride = 0;

  MatrixView() = default;
  MatrixView(const float* d, std::size_t r, std::size_t c) : data(d), rows(r), cols(c), stride(c) {}
  MatrixView(const float* d, std::size_t r, std::size_t c, std::size_t s)
      : data(d), rows(r), cols(c), stride(s) {}

  const float* row(std::size_t i) const { return data + i * stride; }
};

// An owned f64 matrix: the output of reductions (Grams, CKA tables) that accumulate in f64.
struct Matrix64 {
  std::vector<double> data;
  std::size_t rows = 0;
  std::size_t cols = 0;

  Matrix64() = default;
  Matrix64(std::size_t r, std::size_t c) : data(r * c, 0.0), rows(r), cols(c) {}

  double& at(std::size_t i, std::size_t j) { return data[i * cols + j]; }
  double at(std::size_t i, std::size_t j) const { return data[i * cols + j]; }
};

}  // namespace restnet
