// The optimizers against their update rules written out in long double, the low-level API
// against the fused step, convergence to the least-squares optimum, determinism and checks.
#include <cmath>
#include <exception>
#include <string>

#include "harness.h"
#include "reference.h"
#include "restnet/dispatch.h"
#include "restnet/errors.h"
#include "restnet/lstsq.h"
#include "restnet/sgd.h"
#include "restnet/thread_pool.h"

using restnet::LinearMap;
using restnet::MatrixView;
using restnet::OptimizerKind;
using restnet::OptimizerOptions;

namespace {

MatrixView view(const ref::Data& d) { return MatrixView(d.values.data(), d.rows, d.cols); }

LinearMap random_map(std::size_t in, std::size_t out, unsigned seed) {
  const ref::Data w = ref::random_matrix(in, out, seed), b = ref::random_matrix(1, out, seed + 1);
  LinearMap m(in, out);
  m.weight = w.values;
  m.bias = b.values;
  return m;
}

// The gradient of the mean squared error of (x W + b) against y.
void mse_gradient(const std::vector<long double>& w, const std::vector<long double>& b, const ref::Data& x,
                  const ref::Data& y, std::vector<long double>& gw, std::vector<long double>& gb) {
  const std::size_t d = x.cols, k = y.cols, m = x.rows;
  gw.assign(d * k, 0);
  gb.assign(k, 0);
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < k; ++j) {
      long double p = b[j];
      for (std::size_t q = 0; q < d; ++q) p += x.values[i * d + q] * w[q * k + j];
      const long double g = 2 * (p - y.values[i * k + j]) / (m * k);
      gb[j] += g;
      for (std::size_t q = 0; q < d; ++q) gw[q * k + j] += x.values[i * d + q] * g;
    }
  }
}

// Three steps of the optimizer written out, against train_batch.
void check_three_steps(const OptimizerOptions& o) {
  // 5 x 7 = 35 weights: every SIMD update's vector body (16, 8 or 4 wide) and its scalar tail.
  const ref::Data x = ref::random_matrix(6, 5, 21), y = ref::random_matrix(6, 7, 22);
  const LinearMap init = random_map(5, 7, 23);
  restnet::TrainableStitch stitch(init, o);
  std::vector<long double> w(init.weight.begin(), init.weight.end()), b(init.bias.begin(), init.bias.end());
  std::vector<long double> mw(w.size(), 0), mb(b.size(), 0), vw(w.size(), 0), vb(b.size(), 0), gw, gb;
  for (int t = 1; t <= 3; ++t) {
    stitch.train_batch(view(x), view(y), restnet::Loss::Mse, o.lr);
    mse_gradient(w, b, x, y, gw, gb);
    auto update = [&](std::vector<long double>& p, std::vector<long double>& m, std::vector<long double>& v,
                      const std::vector<long double>& g, bool decay) {
      for (std::size_t e = 0; e < p.size(); ++e) {
        if (decay) p[e] *= 1 - o.lr * o.weight_decay;
        if (o.kind == OptimizerKind::Adam) {
          m[e] = 0.9L * m[e] + 0.1L * g[e];
          v[e] = 0.999L * v[e] + 0.001L * g[e] * g[e];
          const long double mhat = m[e] / (1 - std::pow(0.9L, t)), vhat = v[e] / (1 - std::pow(0.999L, t));
          p[e] -= o.lr * mhat / (std::sqrt(vhat) + 1e-8L);
        } else {
          long double d = g[e];
          if (o.momentum > 0) {
            m[e] = o.momentum * m[e] + d;
            d = o.nesterov ? d + o.momentum * m[e] : m[e];
          }
          p[e] -= o.lr * d;
        }
      }
    };
    update(w, mw, vw, gw, true);
    update(b, mb, vb, gb, false);
  }
  for (std::size_t e = 0; e < w.size(); ++e) CHECK_CLOSE(stitch.map().weight[e], static_cast<double>(w[e]), 2e-6);
  for (std::size_t e = 0; e < b.size(); ++e) CHECK_CLOSE(stitch.map().bias[e], static_cast<double>(b[e]), 2e-6);
}

restnet::TrainOptions adam_options(std::size_t epochs) {
  restnet::TrainOptions o;
  o.optimizer.kind = OptimizerKind::Adam;
  o.optimizer.lr = 0.02;
  o.schedule = restnet::Schedule::Cosine;
  o.epochs = epochs;
  o.batch_size = 64;
  o.seed = 7;
  return o;
}

}  // namespace

TEST(sgd_and_adam_match_their_update_rules) {
  OptimizerOptions o;
  o.kind = OptimizerKind::Sgd;
  o.lr = 0.1;
  check_three_steps(o);
  o.momentum = 0.9;
  o.weight_decay = 0.05;
  check_three_steps(o);
  o.nesterov = true;
  check_three_steps(o);
  o = OptimizerOptions{};
  o.lr = 0.01;
  o.weight_decay = 0.1;
  check_three_steps(o);
}

// Each path's Adam update rounds every product and sum on its own, as the scalar kernel does: the
// same bits on every path (an FMA, fused by the compiler, would change the last bit).
TEST(adam_kernel_gives_the_scalar_kernels_bits) {
  const std::size_t n = 37;  // vector bodies and a tail on every path
  const ref::Data g = ref::random_matrix(1, n, 41), p = ref::random_matrix(1, n, 42), m = ref::random_matrix(1, n, 43),
                  v0 = ref::random_matrix(1, n, 44);
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = v0.values[i] * v0.values[i];  // second moments are >= 0
  const restnet::AdamStep s{0.9f, 0.1f, 0.999f, 0.001f, 0.0137f, 1.3f, 1e-8f, 0.9993f};
  std::vector<float> p1 = p.values, m1 = m.values, v1 = v, p2 = p.values, m2 = m.values, v2 = v;
  restnet::kernels().adam_f32(n, s, g.values.data(), p1.data(), m1.data(), v1.data());
  restnet::kernels_for(restnet::Isa::Scalar).adam_f32(n, s, g.values.data(), p2.data(), m2.data(), v2.data());
  for (std::size_t i = 0; i < n; ++i) {
    CHECK(p1[i] == p2[i]);
    CHECK(m1[i] == m2[i]);
    CHECK(v1[i] == v2[i]);
  }
}

TEST(backward_and_step_equal_the_fused_step) {
  const ref::Data x = ref::random_matrix(40, 70, 31), y = ref::random_matrix(40, 45, 32);
  const LinearMap init = random_map(70, 45, 33);
  restnet::TrainableStitch fused(init, OptimizerOptions{}), manual(init, OptimizerOptions{});
  for (int t = 0; t < 3; ++t) {
    fused.train_batch(view(x), view(y), restnet::Loss::Mse, 1e-3);
    std::vector<float> g = manual.forward(view(x));
    for (std::size_t e = 0; e < g.size(); ++e) g[e] = 2.0f * (g[e] - y.values[e]) / (40.0f * 45.0f);
    manual.backward(view(x), MatrixView(g.data(), 40, 45));
    manual.step(1e-3);
  }
  for (std::size_t e = 0; e < init.weight.size(); ++e) CHECK_CLOSE(manual.map().weight[e], fused.map().weight[e], 1e-6);
  for (std::size_t e = 0; e < init.bias.size(); ++e) CHECK_CLOSE(manual.map().bias[e], fused.map().bias[e], 1e-6);
}

TEST(adam_from_zeros_reaches_least_squares_validation_error) {
  const ref::Data w = ref::random_matrix(24, 6, 41);
  auto make = [&](std::size_t n, unsigned seed, ref::Data& x, ref::Data& y) {
    x = ref::random_matrix(n, 24, seed, 1.0);
    y = ref::random_matrix(n, 6, seed + 1);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < 6; ++j) {
        float s = 0.5f * y.values[i * 6 + j] + 0.3f;
        for (std::size_t q = 0; q < 24; ++q) s += x.values[i * 24 + q] * w.values[q * 6 + j] * 0.2f;
        y.values[i * 6 + j] = s;
      }
  };
  ref::Data x, y, vx, vy;
  make(3000, 42, x, y);
  make(1000, 44, vx, vy);
  const restnet::LstsqResult ls = restnet::fit_least_squares(view(x), view(y), restnet::LstsqOptions{});
  const double target = restnet::evaluate_loss(ls.map, view(vx), view(vy), restnet::Loss::Mse);
  const MatrixView mvx = view(vx), mvy = view(vy);
  const restnet::TrainResult r =
      restnet::train_stitch(view(x), view(y), LinearMap(24, 6), adam_options(30), &mvx, &mvy, {}, nullptr);
  CHECK(r.history.size() == 30);
  CHECK(r.history.back().validation_loss <= 1.05 * target);
  CHECK(r.history.front().train_loss > r.history.back().train_loss);
}

TEST(training_is_bit_identical_for_a_seed_across_thread_counts) {
  const ref::Data x = ref::random_matrix(300, 50, 51), y = ref::random_matrix(300, 70, 52);
  auto run = [&](std::size_t threads, std::uint64_t seed) {
    restnet::set_thread_count(threads);
    restnet::TrainOptions o = adam_options(3);
    o.seed = seed;
    return restnet::train_stitch(view(x), view(y), LinearMap(50, 70), o, nullptr, nullptr, {}, nullptr);
  };
  const restnet::TrainResult a = run(1, 1), b = run(3, 1), c = run(3, 2);
  restnet::set_thread_count(0);
  CHECK(a.map.weight == b.map.weight && a.map.bias == b.map.bias);
  CHECK(a.history[2].train_loss == b.history[2].train_loss);
  CHECK(a.map.weight != c.map.weight);
}

TEST(early_stopping_keeps_the_best_epoch) {
  const ref::Data x = ref::random_matrix(200, 8, 61), y = ref::random_matrix(200, 3, 62);
  const ref::Data vx = ref::random_matrix(50, 8, 63), vy = ref::random_matrix(50, 3, 64);
  restnet::TrainOptions o = adam_options(200);
  o.optimizer.lr = 0.05;
  o.schedule = restnet::Schedule::Constant;
  o.patience = 3;
  const MatrixView mvx = view(vx), mvy = view(vy);
  const restnet::TrainResult r = restnet::train_stitch(view(x), view(y), LinearMap(8, 3), o, &mvx, &mvy, {}, nullptr);
  CHECK(r.history.size() < 200);  // y is noise: validation stops improving early
  double best = 1e300;
  for (const restnet::EpochRecord& e : r.history) best = std::fmin(best, e.validation_loss);
  CHECK(restnet::evaluate_loss(r.map, mvx, mvy, restnet::Loss::Mse) == best);
}

TEST(training_stops_when_cancelled) {
  const ref::Data x = ref::random_matrix(100, 4, 71), y = ref::random_matrix(100, 2, 72);
  restnet::CancelToken token;
  restnet::Control control;
  control.token = &token;
  std::size_t epochs = 0;
  CHECK_THROWS(restnet::train_stitch(view(x), view(y), LinearMap(4, 2), adam_options(50), nullptr, nullptr, control,
                                     [&](const restnet::EpochRecord&) {
                                       if (++epochs == 2) token.cancel();
                                     }),
               restnet::Cancelled);
  CHECK(epochs == 2);
}

TEST(training_rejects_bad_arguments) {
  const ref::Data x = ref::random_matrix(20, 4, 81), y = ref::random_matrix(20, 2, 82);
  auto train = [&](restnet::TrainOptions o, LinearMap init = LinearMap(4, 2)) {
    return restnet::train_stitch(view(x), view(y), init, o, nullptr, nullptr, {}, nullptr);
  };
  restnet::TrainOptions o = adam_options(1);
  o.batch_size = 0;
  CHECK_THROWS(train(o), restnet::RangeError);
  o.batch_size = 21;
  CHECK_THROWS(train(o), restnet::RangeError);
  o = adam_options(1);
  o.epochs = 0;
  CHECK_THROWS(train(o), restnet::RangeError);
  o = adam_options(1);
  o.optimizer.lr = -1;
  CHECK_THROWS(train(o), restnet::RangeError);
  o = adam_options(1);
  o.patience = 2;
  CHECK_THROWS(train(o), restnet::RangeError);
  CHECK_THROWS(train(adam_options(1), LinearMap(3, 2)), restnet::RangeError);
}

// The core names its own fields (the addon checks user options first, under their JavaScript names).
TEST(core_errors_name_cpp_fields) {
  const auto message = [](auto&& fn) -> std::string {
    try {
      fn();
    } catch (const std::exception& e) {
      return e.what();
    }
    return "(nothing thrown)";
  };
  const auto starts = [](const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; };
  const ref::Data x = ref::random_matrix(20, 4, 81), y = ref::random_matrix(20, 2, 82);
  restnet::TrainOptions o = adam_options(1);
  o.batch_size = 0;
  CHECK(starts(
      message([&] { restnet::train_stitch(view(x), view(y), LinearMap(4, 2), o, nullptr, nullptr, {}, nullptr); }),
      "TrainOptions::batch_size: expected [1, 20] (x.rows), got 0"));
  restnet::OptimizerOptions opt;
  opt.weight_decay = -1;
  CHECK(starts(message([&] { restnet::TrainableStitch(LinearMap(4, 2), opt); }),
               "OptimizerOptions::weight_decay: expected a finite number >= 0"));
  restnet::TrainableStitch stitch(LinearMap(4, 2), restnet::OptimizerOptions{});
  const ref::Data g = ref::random_matrix(20, 3, 83);
  CHECK(starts(message([&] { stitch.backward(view(x), view(g)); }), "grad_out: expected 20 x 2"));
}
