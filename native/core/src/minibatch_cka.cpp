#include "restnet/minibatch_cka.h"

#include "restnet/errors.h"

namespace restnet {

MinibatchCka::MinibatchCka(std::size_t count_a, std::size_t count_b, const CkaOptions& options)
    : count_a_(count_a),
      count_b_(count_b),
      options_(options),
      sums_{Matrix64(count_a, count_b), std::vector<double>(count_a), std::vector<double>(count_b)} {
  if (count_a == 0) throw RangeError("countA: expected at least 1 layer, got 0");
  if (count_b == 0) throw RangeError("countB: expected at least 1 layer, got 0");
  options_.debiased = true;
}

void MinibatchCka::update(const Layers& a, const Layers& b, const Control& control) {
  if (a.views.size() != count_a_) {
    throw RangeError(a.name + ": expected " + std::to_string(count_a_) + " matrices (countA), got " +
                     std::to_string(a.views.size()));
  }
  if (b.views.size() != count_b_) {
    throw RangeError(b.name + ": expected " + std::to_string(count_b_) + " matrices (countB), got " +
                     std::to_string(b.views.size()));
  }
  // The whole batch is computed before anything is added, so a failed update changes nothing.
  const HsicTable batch = hsic_table(a, b, options_, control);
  for (std::size_t k = 0; k < sums_.cross.data.size(); ++k) sums_.cross.data[k] += batch.cross.data[k];
  for (std::size_t i = 0; i < count_a_; ++i) sums_.self_a[i] += batch.self_a[i];
  for (std::size_t j = 0; j < count_b_; ++j) sums_.self_b[j] += batch.self_b[j];
  ++batches_;
}

void MinibatchCka::merge(const MinibatchCka& other) {
  if (other.count_a_ != count_a_ || other.count_b_ != count_b_) {
    throw RangeError("other: expected an accumulator of " + std::to_string(count_a_) + " x " +
                     std::to_string(count_b_) + " layers, got " + std::to_string(other.count_a_) + " x " +
                     std::to_string(other.count_b_));
  }
  if (other.options_.kernel != options_.kernel || other.options_.threshold != options_.threshold) {
    throw RangeError("other: expected an accumulator with the same kernel and threshold");
  }
  for (std::size_t k = 0; k < sums_.cross.data.size(); ++k) sums_.cross.data[k] += other.sums_.cross.data[k];
  for (std::size_t i = 0; i < count_a_; ++i) sums_.self_a[i] += other.sums_.self_a[i];
  for (std::size_t j = 0; j < count_b_; ++j) sums_.self_b[j] += other.sums_.self_b[j];
  batches_ += other.batches_;
}

Matrix64 MinibatchCka::result() const {
  // Equal weight per batch: the mean of the per-batch HSICs, whose 1/batches cancels in CKA.
  return cka_from_table(sums_);
}

}  // namespace restnet
