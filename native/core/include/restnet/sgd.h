// Gradient training of a stitching layer: the optimizers (SGD with momentum / Nesterov, Adam,
// both with AdamW-style decoupled weight decay), a low-level trainable stitch (forward,
// backward, step) for losses computed elsewhere, and the full training loop.
//
// Work is split by output columns: the columns of y = x W + b are independent, so forward,
// loss gradient, backward and the optimizer update of one column slice run as one task with
// no reduction across tasks. Slices have a fixed width, so results are bit-identical for any
// thread count; batches are drawn by a seeded permutation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "restnet/control.h"
#include "restnet/linear_map.h"
#include "restnet/matrix.h"

namespace restnet {

enum class OptimizerKind { Sgd, Adam };
enum class Schedule { Constant, Cosine, Step };
enum class Loss { Mse, Huber };

// PyTorch's conventions: SGD buf = momentum * buf + g (Nesterov: g + momentum * buf); Adam with
// beta1 = 0.9, beta2 = 0.999, eps = 1e-8 and bias correction. weight_decay is decoupled
// (W <- W (1 - lr * weight_decay) before the update) and applies to W, not to the bias.
struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::Adam;
  double lr = 1e-3;
  double momentum = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
};

// The invariants of the options (lr > 0, momentum in [0, 1) and only for SGD, ...): RangeError
// naming the OptimizerOptions field. TrainableStitch checks them; callers that take options from
// users (the addon) check them first, under their own names.
void check_optimizer(const OptimizerOptions& o);

// A stitch with optimizer state and a gradient buffer: the low-level API.
class TrainableStitch {
 public:
  TrainableStitch(LinearMap init, const OptimizerOptions& options);

  // x W + b.
  std::vector<float> forward(MatrixView x) const;
  // Adds x^T g to dW and the column sums of g to db (g = dLoss/dOutput, x.rows x out).
  void backward(MatrixView x, MatrixView grad_out);
  // One optimizer step at `lr` with the accumulated gradient, which is then cleared.
  void step(double lr);
  void step() { step(options_.lr); }

  // One fused training step on a batch (x, y): forward, loss gradient, backward and update
  // per column slice, at `lr`. Returns the batch's loss summed over its elements. Gradients
  // accumulated by backward() are not used and are left untouched.
  double train_batch(MatrixView x, MatrixView y, Loss loss, double lr);

  const LinearMap& map() const { return map_; }
  std::size_t steps() const { return steps_; }

 private:
  // The update of every parameter from gw (in x out) and gb (out) at step t (1-based), in parallel.
  void update(const float* gw, const float* gb, double lr, std::size_t t);
  // The update of n parameters from `at` on: of the weight, or of the bias when `bias`.
  void update_range(bool bias, std::size_t at, std::size_t n, const float* g, double lr, std::size_t t);

  LinearMap map_;
  OptimizerOptions options_;
  std::vector<float> grad_w_, grad_b_;
  // Per-step gradient of train_batch, separate from backward()'s accumulation.
  std::vector<float> step_w_, step_b_;
  // SGD: momentum buffers in m; Adam: first moments in m, second in v.
  std::vector<float> m_w_, m_b_, v_w_, v_b_;
  std::size_t steps_ = 0;
};

struct TrainOptions {
  OptimizerOptions optimizer;
  Schedule schedule = Schedule::Constant;
  std::size_t epochs = 10;
  std::size_t batch_size = 128;
  std::uint64_t seed = 0;
  Loss loss = Loss::Mse;
  // Epochs without a validation improvement before stopping; 0 disables early stopping.
  std::size_t patience = 0;
};

struct EpochRecord {
  std::size_t epoch = 0;         // 1-based
  double train_loss = 0.0;       // mean over the epoch's batches, weighted by rows
  double validation_loss = 0.0;  // NaN without validation data
  double lr = 0.0;               // at the epoch's first step
};

struct TrainResult {
  LinearMap map;  // the best validation epoch's weights when validating, else the last
  std::vector<EpochRecord> history;
};

// The row order of each epoch: 0..rows-1, shuffled again at the start of every epoch
// (Fisher-Yates over the previous epoch's order) by one mt19937_64 seeded with `seed`, whose
// output sequence the C++ standard fixes. train_stitch draws its batches from it, and so does
// task refinement (lib/restnet/refine.ts, through the addon), so a seed means one order everywhere.
class EpochOrder {
 public:
  EpochOrder(std::size_t rows, std::uint64_t seed);
  // The next epoch's order.
  const std::vector<std::size_t>& next();

 private:
  std::mt19937_64 rng_;
  std::vector<std::size_t> order_;
};

// The learning rate at step `s` of `total` (0-based) in epoch `epoch` (0-based) of `epochs`:
// constant; cosine annealing to 0 over all steps; step: x0.1 at 1/2 and again at 3/4 of the
// epochs.
double scheduled_lr(const TrainOptions& o, std::size_t s, std::size_t total, std::size_t epoch);

// Mean loss of the map on (x, y): MSE or Huber (delta 1), averaged over all elements.
double evaluate_loss(const LinearMap& map, MatrixView x, MatrixView y, Loss loss);

// Checks every argument (shapes, finiteness, ranges) and trains. on_epoch runs on the calling
// thread after each epoch; the control is checked between batches.
TrainResult train_stitch(MatrixView x, MatrixView y, const LinearMap& init, const TrainOptions& options,
                         const MatrixView* validation_x, const MatrixView* validation_y, const Control& control,
                         const std::function<void(const EpochRecord&)>& on_epoch);

}  // namespace restnet
