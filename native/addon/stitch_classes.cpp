// LeastSquaresAccumulator (streamed least squares) and TrainableStitch (forward / backward /
// step for losses computed elsewhere).
#include <cmath>
#include <cstring>

#include <mutex>

#include "addon.h"
#include "args.h"
#include "restnet/centering.h"
#include "restnet/errors.h"
#include "promise_worker.h"
#include "stitch_args.h"

namespace restnet_addon {
namespace {

std::size_t width_arg(const Napi::Value& v, const char* name) {
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1.0;
  if (!(d >= 1.0 && d <= 1e9) || d != static_cast<double>(static_cast<std::size_t>(d))) {
    throw restnet::RangeError(std::string(name) + ": expected a positive integer, got " + v.ToString().Utf8Value());
  }
  return static_cast<std::size_t>(d);
}

class Accumulator : public Napi::ObjectWrap<Accumulator> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "LeastSquaresAccumulator",
                       {InstanceMethod<&Accumulator::Update>("update"),
                        InstanceMethod<&Accumulator::UpdateAsync>("updateAsync"),
                        InstanceMethod<&Accumulator::Merge>("merge"),
                        InstanceMethod<&Accumulator::Solve>("solve"), InstanceAccessor<&Accumulator::Rows>("rows")});
  }

  explicit Accumulator(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Accumulator>(info) {
    guarded(info.Env(), [&] {
      state_ = std::make_shared<State>(width_arg(info[0], "inputs"), width_arg(info[1], "outputs"));
      return 0;
    });
  }

 private:
  // Shared with async updates in flight, which lock it while they add their batch.
  struct State {
    State(std::size_t in, std::size_t out) : acc(in, out) {}
    std::mutex mutex;
    restnet::LeastSquaresAccumulator acc;
  };

  Napi::Value Update(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const MatrixArg x = matrix_arg(info[0], "x"), y = matrix_arg(info[1], "y");
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->acc.update(x.view, y.view);
      return info.Env().Undefined();
    });
  }

  // updateAsync(x, y, token?)
  Napi::Value UpdateAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      std::vector<MatrixArg> keep;
      keep.push_back(matrix_arg(info[0], "x"));
      keep.push_back(matrix_arg(info[1], "y"));
      const restnet::MatrixView x = keep[0].view, y = keep[1].view;
      std::shared_ptr<State> state = state_;
      return PromiseWorker<bool>::Start(
          env,
          [state, x, y](const restnet::Control& control) {
            std::lock_guard<std::mutex> lock(state->mutex);
            state->acc.update(x, y, control);
            return true;
          },
          [](Napi::Env e, bool&) -> Napi::Value { return e.Undefined(); }, std::move(keep), token_arg(info[2]),
          env.Undefined());
    });
  }

  Napi::Value Merge(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const Napi::Value v = info[0];
      if (!v.IsObject() ||
          !v.As<Napi::Object>().InstanceOf(addon_data(info.Env()).least_squares_accumulator.Value())) {
        throw restnet::TypeError("other: expected a LeastSquaresAccumulator");
      }
      std::shared_ptr<State> other = Unwrap(v.As<Napi::Object>())->state_;
      if (other == state_) throw restnet::RangeError("other: cannot merge an accumulator into itself");
      std::scoped_lock lock(state_->mutex, other->mutex);
      state_->acc.merge(other->acc);
      return info.Env().Undefined();
    });
  }

  Napi::Value Solve(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const restnet::LstsqOptions options = lstsq_options(info[0]);
      std::lock_guard<std::mutex> lock(state_->mutex);
      return lstsq_result_value(info.Env(), state_->acc.solve(options));
    });
  }

  Napi::Value Rows(const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return Napi::Number::New(info.Env(), static_cast<double>(state_->acc.rows()));
  }

  std::shared_ptr<State> state_;
};

class Trainable : public Napi::ObjectWrap<Trainable> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TrainableStitch",
                       {InstanceMethod<&Trainable::Forward>("forward"), InstanceMethod<&Trainable::Backward>("backward"),
                        InstanceMethod<&Trainable::Step>("step"), InstanceMethod<&Trainable::Stitch>("stitch"),
                        InstanceAccessor<&Trainable::Steps>("steps")});
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
      return matrix_value(info.Env(), stitch_->forward(x.view), x.view.rows, stitch_->map().out);
    });
  }

  Napi::Value Backward(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const MatrixArg x = matrix_arg(info[0], "x"), g = matrix_arg(info[1], "gradOut");
      restnet::check_finite(x.view, "x");
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
        const double lr = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1.0;
        if (!(lr > 0.0) || !std::isfinite(lr)) {
          throw restnet::RangeError("lr: expected a finite number > 0, got " + info[0].ToString().Utf8Value());
        }
        stitch_->step(lr);
      }
      return info.Env().Undefined();
    });
  }

  Napi::Value Stitch(const Napi::CallbackInfo& info) { return linear_map_value(info.Env(), stitch_->map()); }

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
