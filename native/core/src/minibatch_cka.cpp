#include "restnet/minibatch_cka.h"

#include <string>
#include <vector>

#include "restnet/errors.h"

namespace restnet {
namespace {

std::vector<std::size_t> widths(const Layers& layers) {
  std::vector<std::size_t> out;
  for (const MatrixView& v : layers.views) out.push_back(v.cols);
  return out;
}

// Every layer keeps its width from batch to batch: a batch of another layer's activations would
// otherwise be averaged in silently.
void check_widths(const std::vector<std::size_t>& expected, const std::vector<std::size_t>& got,
                  const std::vector<std::string>& names, const std::string& context) {
  if (expected.empty() || got.empty()) return;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (got[i] != expected[i]) {
      throw RangeError(names[i] + ": expected " + std::to_string(expected[i]) + " columns (" + context + "), got " +
                       std::to_string(got[i]));
    }
  }
}

}  // namespace

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
  check_widths(cols_a_, widths(a), a.names, "as in earlier batches");
  check_widths(cols_b_, widths(b), b.names, "as in earlier batches");
  // The whole batch is computed before anything is added, so a failed update changes nothing.
  const HsicTable batch = hsic_table(a, b, options_, control);
  if (cols_a_.empty()) {
    cols_a_ = widths(a);
    cols_b_ = widths(b);
  }
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
  std::vector<std::string> names_a, names_b;
  for (std::size_t i = 0; i < count_a_; ++i) names_a.push_back("other: layer a[" + std::to_string(i) + "]");
  for (std::size_t j = 0; j < count_b_; ++j) names_b.push_back("other: layer b[" + std::to_string(j) + "]");
  check_widths(cols_a_, other.cols_a_, names_a, "as in this accumulator");
  check_widths(cols_b_, other.cols_b_, names_b, "as in this accumulator");
  for (std::size_t k = 0; k < sums_.cross.data.size(); ++k) sums_.cross.data[k] += other.sums_.cross.data[k];
  for (std::size_t i = 0; i < count_a_; ++i) sums_.self_a[i] += other.sums_.self_a[i];
  for (std::size_t j = 0; j < count_b_; ++j) sums_.self_b[j] += other.sums_.self_b[j];
  batches_ += other.batches_;
  if (cols_a_.empty()) {
    cols_a_ = other.cols_a_;
    cols_b_ = other.cols_b_;
  }
}

Matrix64 MinibatchCka::result() const {
  // Equal weight per batch: the mean of the per-batch HSICs, whose 1/batches cancels in CKA.
  return cka_from_table(sums_);
}

}  // namespace restnet
