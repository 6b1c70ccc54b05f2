// Independent f64 references, written straight from the published formulas with explicit
// matrices (H = I - 11^T/n, Song et al.'s unbiased HSIC, numpy-style median): slow, obvious,
// and sharing no code with the core.
#pragma once

#include <cstddef>
#include <random>
#include <vector>

namespace ref {

using Mat = std::vector<double>;  // row-major

struct Data {
  std::vector<float> values;
  std::size_t rows, cols;
};

Data random_matrix(std::size_t rows, std::size_t cols, unsigned seed, double offset = 0.0);
Mat gram_linear(const Data& x);
// The linear Gram of x with its column means removed in f64 first. HSIC with a linear kernel
// does not change under feature translation, and this keeps the reference exact for data
// with large offsets, where H K H on the raw Gram cancels catastrophically.
Mat gram_linear_centered(const Data& x);
Mat gram_rbf(const Data& x, double threshold);
double hsic_biased(const Mat& k, const Mat& l, std::size_t n);
double hsic_unbiased(const Mat& k, const Mat& l, std::size_t n);
double cka(const Mat& k, const Mat& l, std::size_t n, bool debiased);

}  // namespace ref
