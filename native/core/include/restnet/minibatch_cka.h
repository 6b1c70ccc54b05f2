// Minibatch CKA (Nguyen, Raghu & Kornblith 2021): unbiased HSIC per minibatch, averaged over
// batches with equal weight, so CKA over any number of samples needs memory for one batch only.
#pragma once

#include <cstddef>
#include <vector>

#include "restnet/cka.h"

namespace restnet {

class MinibatchCka {
 public:
  // Options other than debiased are honoured (kernel, threshold, method); the per-batch
  // estimator is always the unbiased one, as in the paper.
  MinibatchCka(std::size_t count_a, std::size_t count_b, const CkaOptions& options);

  // One minibatch: a matrix per layer, all with the same rows (>= 4), each layer with the columns
  // it had in the first batch (RangeError naming the layer otherwise).
  void update(const Layers& a, const Layers& b, const Control& control = {});
  // Adds another accumulator's statistics (same layer counts, options and layer widths).
  void merge(const MinibatchCka& other);
  Matrix64 result() const;

  std::size_t batches() const { return batches_; }
  std::size_t count_a() const { return count_a_; }
  std::size_t count_b() const { return count_b_; }
  const CkaOptions& options() const { return options_; }

 private:
  std::size_t count_a_, count_b_;
  CkaOptions options_;
  std::size_t batches_ = 0;
  HsicTable sums_;
  // Each layer's columns, fixed by the first batch (empty before it).
  std::vector<std::size_t> cols_a_, cols_b_;
};

}  // namespace restnet
