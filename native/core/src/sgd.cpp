// The trainable stitch: optimizers and the training step (whole products, per-column-slice rest).
#include <algorithm>
#include <cmath>

#include "restnet/dispatch.h"
#include "restnet/errors.h"
#include "restnet/gemm.h"
#include "restnet/sgd.h"
#include "restnet/thread_pool.h"

namespace restnet {
namespace {

// Output columns per task: one AVX-512 micro-tile wide, enough tasks for any core count that
// matters at out = 256, and fixed so that results never depend on the thread count.
constexpr std::size_t kSliceCols = 32;
// Parameters per task of the update, which is elementwise (any split gives the same results):
// 64 KiB of each array, a few tasks per thread at in x out = 512 x 256.
constexpr std::size_t kUpdateChunk = 16384;
// Adam's constants, as PyTorch: moments updated in f32, bias corrections from the f64 betas.
constexpr double kBeta1 = 0.9, kBeta2 = 0.999;
constexpr float kEps = 1e-8f;

std::size_t slices(std::size_t out) { return (out + kSliceCols - 1) / kSliceCols; }

// Sum of the loss over a slice of residuals r = p - y, replacing r by dLoss/dp * scale.
double loss_and_gradient(float* r, std::size_t count, Loss loss, float scale) {
  double sum = 0.0;
  if (loss == Loss::Mse) {
    for (std::size_t e = 0; e < count; ++e) {
      sum += static_cast<double>(r[e]) * r[e];
      r[e] *= 2.0f * scale;
    }
    return sum;
  }
  for (std::size_t e = 0; e < count; ++e) {  // Huber, delta = 1
    const float a = std::fabs(r[e]);
    sum += a <= 1.0f ? 0.5 * static_cast<double>(r[e]) * r[e] : static_cast<double>(a) - 0.5;
    r[e] = (a <= 1.0f ? r[e] : std::copysign(1.0f, r[e])) * scale;
  }
  return sum;
}

}  // namespace

void check_optimizer(const OptimizerOptions& o) {
  if (!(o.lr > 0.0) || !std::isfinite(o.lr)) {
    throw RangeError("OptimizerOptions::lr: expected a finite number > 0, got " + std::to_string(o.lr));
  }
  if (!(o.momentum >= 0.0 && o.momentum < 1.0)) {
    throw RangeError("OptimizerOptions::momentum: expected a number in [0, 1), got " + std::to_string(o.momentum));
  }
  if (o.momentum != 0.0 && o.kind != OptimizerKind::Sgd) {
    throw RangeError("OptimizerOptions::momentum: only used by OptimizerKind::Sgd");
  }
  if (o.nesterov && !(o.kind == OptimizerKind::Sgd && o.momentum > 0.0)) {
    throw RangeError("OptimizerOptions::nesterov: needs OptimizerKind::Sgd with momentum > 0");
  }
  if (!(o.weight_decay >= 0.0) || !std::isfinite(o.weight_decay)) {
    throw RangeError("OptimizerOptions::weight_decay: expected a finite number >= 0, got " +
                     std::to_string(o.weight_decay));
  }
}

TrainableStitch::TrainableStitch(LinearMap init, const OptimizerOptions& options)
    : map_(std::move(init)), options_(options) {
  check_optimizer(options);
  const std::size_t nw = map_.in * map_.out, nb = map_.out;
  grad_w_.assign(nw, 0.0f);
  grad_b_.assign(nb, 0.0f);
  step_w_.assign(nw, 0.0f);
  step_b_.assign(nb, 0.0f);
  const bool moments = options.kind == OptimizerKind::Adam || options.momentum > 0.0;
  if (moments) {
    m_w_.assign(nw, 0.0f);
    m_b_.assign(nb, 0.0f);
  }
  if (options.kind == OptimizerKind::Adam) {
    v_w_.assign(nw, 0.0f);
    v_b_.assign(nb, 0.0f);
  }
}

std::vector<float> TrainableStitch::forward(MatrixView x) const {
  check_input(map_.view(), x, "x");
  return apply(map_.view(), x);
}

void TrainableStitch::backward(MatrixView x, MatrixView grad_out) {
  check_input(map_.view(), x, "x");
  if (grad_out.rows != x.rows || grad_out.cols != map_.out) {
    throw RangeError("grad_out: expected " + std::to_string(x.rows) + " x " + std::to_string(map_.out) +
                     " (x.rows x the stitch's output width), got " + std::to_string(grad_out.rows) + " x " +
                     std::to_string(grad_out.cols));
  }
  gemm(map_.in, map_.out, x.rows, Operand{x.data, x.stride, true}, Operand{grad_out.data, grad_out.stride, false},
       grad_w_.data(), map_.out, Part::Full, true);
  for (std::size_t i = 0; i < grad_out.rows; ++i) {
    const float* g = grad_out.row(i);
    for (std::size_t j = 0; j < map_.out; ++j) grad_b_[j] += g[j];
  }
}

void TrainableStitch::step(double lr) {
  update(grad_w_.data(), grad_b_.data(), lr, ++steps_);
  std::fill(grad_w_.begin(), grad_w_.end(), 0.0f);
  std::fill(grad_b_.begin(), grad_b_.end(), 0.0f);
}

double TrainableStitch::train_batch(MatrixView x, MatrixView y, Loss loss, double lr) {
  const std::size_t t = ++steps_;
  const std::size_t m = x.rows, d = map_.in, k = map_.out;
  const float scale = static_cast<float>(1.0 / (static_cast<double>(m) * static_cast<double>(k)));
  // The two products run whole (the batch is packed once for each, not once per column slice);
  // the residual, loss and bias gradient between them and the update after them run per
  // column slice. Every sum is the one the per-slice products made: results are unchanged.
  std::vector<float> r(m * k);
  gemm(m, k, d, Operand{x.data, x.stride, false}, Operand{map_.weight.data(), k, false}, r.data(), k);
  std::vector<double> partial(slices(k), 0.0);
  parallel_for(slices(k), [&](std::size_t s) {
    const std::size_t j0 = s * kSliceCols, j1 = std::min(k, j0 + kSliceCols), w = j1 - j0;
    // The slice's residuals, contiguous, so the loss sums them in the same order as ever.
    thread_local std::vector<float> slice;
    slice.resize(m * w);
    for (std::size_t i = 0; i < m; ++i) {
      const float* ri = r.data() + i * k + j0;
      const float* yi = y.row(i) + j0;
      for (std::size_t j = 0; j < w; ++j) slice[i * w + j] = ri[j] + (map_.bias[j0 + j] - yi[j]);
    }
    partial[s] = loss_and_gradient(slice.data(), m * w, loss, scale);
    float* gb = step_b_.data() + j0;
    std::fill(gb, gb + w, 0.0f);
    for (std::size_t i = 0; i < m; ++i) {
      for (std::size_t j = 0; j < w; ++j) gb[j] += slice[i * w + j];
      std::copy(slice.data() + i * w, slice.data() + (i + 1) * w, r.data() + i * k + j0);
    }
  });
  gemm(d, k, m, Operand{x.data, x.stride, true}, Operand{r.data(), k, false}, step_w_.data(), k);
  update(step_w_.data(), step_b_.data(), lr, t);
  double sum = 0.0;
  for (double p : partial) sum += p;
  return sum;
}

void TrainableStitch::update(const float* gw, const float* gb, double lr, std::size_t t) {
  const std::size_t nw = map_.in * map_.out, chunks = (nw + kUpdateChunk - 1) / kUpdateChunk;
  parallel_for(chunks + 1, [&](std::size_t c) {
    if (c == chunks) {
      update_range(true, 0, map_.out, gb, lr, t);
      return;
    }
    const std::size_t at = c * kUpdateChunk;
    update_range(false, at, std::min(kUpdateChunk, nw - at), gw + at, lr, t);
  });
}

void TrainableStitch::update_range(bool bias, std::size_t at, std::size_t n, const float* g, double lr, std::size_t t) {
  const OptimizerOptions& o = options_;
  float* p = (bias ? map_.bias : map_.weight).data() + at;
  // Weight decay applies to the weight only.
  const float keep = bias ? 1.0f : static_cast<float>(1.0 - lr * o.weight_decay);
  if (o.kind == OptimizerKind::Adam) {
    const double bc1 = 1.0 - std::pow(kBeta1, static_cast<double>(t));
    const double bc2 = 1.0 - std::pow(kBeta2, static_cast<double>(t));
    const float b1 = static_cast<float>(kBeta1), b2 = static_cast<float>(kBeta2);
    const AdamStep s{
        b1,   1.0f - b1, b2, 1.0f - b2, static_cast<float>(lr / bc1), static_cast<float>(1.0 / std::sqrt(bc2)),
        kEps, keep};
    kernels().adam_f32(n, s, g, p, (bias ? m_b_ : m_w_).data() + at, (bias ? v_b_ : v_w_).data() + at);
    return;
  }
  const float rate = static_cast<float>(lr), mu = static_cast<float>(o.momentum);
  float* buf = mu != 0.0f ? (bias ? m_b_ : m_w_).data() + at : nullptr;
  for (std::size_t j = 0; j < n; ++j) {
    float d = g[j];
    if (mu != 0.0f) {
      buf[j] = mu * buf[j] + d;
      d = o.nesterov ? d + mu * buf[j] : buf[j];
    }
    p[j] = p[j] * keep - rate * d;
  }
}

}  // namespace restnet
