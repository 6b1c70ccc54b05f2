// LeastSquaresAccumulator (streamed least squares) and TrainableStitch (forward / backward /
// step for losses computed elsewhere).
#include <cstring>

#include "accumulator_wrap.h"
#include "addon.h"
#include "args.h"
#include "promise_worker.h"
#include "restnet/centering.h"
#include "restnet/errors.h"
#include "stitch_args.h"

namespace restnet_addon {
namespace {

class Accumulator : public AccumulatorWrap<Accumulator, restnet::LeastSquaresAccumulator> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "LeastSquaresAccumulator",
        {InstanceMethod<&Accumulator::Update>("update"), InstanceMethod<&Accumulator::UpdateAsync>("updateAsync"),
         InstanceMethod<&Accumulator::Merge>("merge"), InstanceMethod<&Accumulator::Solve>("solve"),
         InstanceMethod<&Accumulator::SolveAsync>("solveAsync"), InstanceAccessor<&Accumulator::Rows>("rows")});
  }

  explicit Accumulator(const Napi::CallbackInfo& info) : AccumulatorWrap(info) {
    guarded(info.Env(), [&] {
      const std::size_t inputs = integer_arg(info[0], "inputs", 1, kMaxSafeInteger),
                        outputs = integer_arg(info[1], "outputs", 1, kMaxSafeInteger);
      // Its state, inputs x (inputs + outputs) doubles, is allocated (zero-filled) now, from two numbers alone.
      // Both are below 2^53, so their sum cannot wrap.
      const std::size_t state = checked_product({inputs, inputs + outputs}, "inputs x (inputs + outputs)");
      check_output_size(state, sizeof(double), "the accumulator's inputs x (inputs + outputs) sums");
      create(inputs, outputs);
      account(info.Env(), state * sizeof(double));
      return 0;
    });
  }

 private:
  Napi::Value Update(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const MatrixArg x = matrix_arg(info[0], "x"), y = matrix_arg(info[1], "y");
      locked([&](restnet::LeastSquaresAccumulator& acc) { acc.update(x.view, y.view); });
      return info.Env().Undefined();
    });
  }

  // updateAsync(x, y, token?)
  Napi::Value UpdateAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      std::vector<MatrixArg> keep = xy_args(info);
      const restnet::MatrixView x = keep[0].view, y = keep[1].view;
      return queue_update(env, std::move(keep), info[2],
                          [x, y](restnet::LeastSquaresAccumulator& acc, const restnet::Control& control) {
                            acc.update(x, y, control);
                          });
    });
  }

  Napi::Value Merge(const Napi::CallbackInfo& info) {
    return merge_from(info, addon_data(info.Env()).least_squares_accumulator, "LeastSquaresAccumulator");
  }

  Napi::Value Solve(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const restnet::LstsqOptions options = lstsq_options(info[0]);
      return lstsq_result_value(info.Env(),
                                locked([&](restnet::LeastSquaresAccumulator& acc) { return acc.solve(options); }));
    });
  }

  // solveAsync(options, token?): solve() on the libuv pool, so a wide stitch's solve (minutes at
  // thousands of inputs) neither blocks the event loop nor ignores an abort.
  Napi::Value SolveAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const restnet::LstsqOptions options = lstsq_options(info[0]);
      std::shared_ptr<State> state = state_;
      return PromiseWorker<restnet::LstsqResult>::Start(
          env,
          [state, options](const restnet::Control& control) {
            std::lock_guard<std::mutex> lock(state->mutex);
            return state->acc.solve(options, control);
          },
          [](Napi::Env e, restnet::LstsqResult& r) -> Napi::Value { return lstsq_result_value(e, r); }, {},
          token_arg(info[1]), env.Undefined());
    });
  }

  Napi::Value Rows(const Napi::CallbackInfo& info) {
    return Napi::Number::New(
        info.Env(), static_cast<double>(locked([](restnet::LeastSquaresAccumulator& acc) { return acc.rows(); })));
  }
};

class Trainable : public Napi::ObjectWrap<Trainable> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TrainableStitch",
                       {InstanceMethod<&Trainable::Forward>("forward"),
                        InstanceMethod<&Trainable::Backward>("backward"), InstanceMethod<&Trainable::Step>("step"),
                        InstanceMethod<&Trainable::Stitch>("stitch"), InstanceAccessor<&Trainable::Steps>("steps")});
  }

  // new TrainableStitch(init, {optimizer, lr, momentum, nesterov, weightDecay})
  explicit Trainable(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Trainable>(info) {
    guarded(info.Env(), [&] {
      restnet::LinearMap init = linear_map_arg(info[0], "init");
      const Napi::Object o =
          options_arg(info[1], "options", {"optimizer", "lr", "momentum", "nesterov", "weightDecay"});
      stitch_ = std::make_unique<restnet::TrainableStitch>(std::move(init), optimizer_options(o));
      return 0;
    });
  }

 private:
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const MatrixArg x = matrix_arg(info[0], "x");
      restnet::check_finite(x.view, "x");
      check_output_size(checked_product({x.view.rows, stitch_->map().out}, "x.rows x outputs"), sizeof(float),
                        "forward");
      return matrix_value(info.Env(), stitch_->forward(x.view), x.view.rows, stitch_->map().out);
    });
  }

  Napi::Value Backward(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const MatrixArg x = matrix_arg(info[0], "x"), g = matrix_arg(info[1], "gradOut");
      restnet::check_finite(x.view, "x");
      if (g.view.rows != x.view.rows || g.view.cols != stitch_->map().out) {
        throw restnet::RangeError("gradOut: expected " + std::to_string(x.view.rows) + " x " +
                                  std::to_string(stitch_->map().out) + " (x.rows x the stitch's output width), got " +
                                  std::to_string(g.view.rows) + " x " + std::to_string(g.view.cols));
      }
      restnet::check_finite(g.view, "gradOut");
      stitch_->backward(x.view, g.view);
      return info.Env().Undefined();
    });
  }

  // step(lr?) with the constructor's lr by default.
  Napi::Value Step(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      if (info[0].IsUndefined()) {
        stitch_->step();
      } else {
        stitch_->step(number_arg(info[0], "lr", kPositive));
      }
      return info.Env().Undefined();
    });
  }

  Napi::Value Stitch(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value { return linear_map_value(info.Env(), stitch_->map()); });
  }

  Napi::Value Steps(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(stitch_->steps()));
  }

  std::unique_ptr<restnet::TrainableStitch> stitch_;
};

}  // namespace

void init_stitch_classes(Napi::Env env, Napi::Object exports) {
  Napi::Function accumulator = Accumulator::Define(env);
  addon_data(env).least_squares_accumulator = Napi::Persistent(accumulator);
  exports.Set("LeastSquaresAccumulator", accumulator);
  exports.Set("TrainableStitch", Trainable::Define(env));
}

}  // namespace restnet_addon
