// fitStitch and trainStitch: least-squares and gradient fitting of a stitching layer.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>

#include "addon.h"
#include "args.h"
#include "promise_worker.h"
#include "restnet/centering.h"
#include "stitch_args.h"

namespace restnet_addon {
namespace {

// fitStitch(x, y, options)
Napi::Value FitStitch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const MatrixArg x = matrix_arg(info[0], "x");
    const MatrixArg y = matrix_arg(info[1], "y");
    const restnet::LstsqOptions options = lstsq_options(info[2]);
    check_stitch_size(x.view, y.view);
    return lstsq_result_value(env, restnet::fit_least_squares(x.view, y.view, options));
  });
}

// fitStitchAsync(x, y, options, token?): fitStitch on the libuv pool.
Napi::Value FitStitchAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    std::vector<MatrixArg> keep = xy_args(info);
    const restnet::LstsqOptions options = lstsq_options(info[2]);
    const restnet::MatrixView x = keep[0].view, y = keep[1].view;
    check_stitch_size(x, y);
    return PromiseWorker<restnet::LstsqResult>::Start(
        env,
        [x, y, options](const restnet::Control& control) { return restnet::fit_least_squares(x, y, options, control); },
        [](Napi::Env e, restnet::LstsqResult& r) -> Napi::Value { return lstsq_result_value(e, r); }, std::move(keep),
        token_arg(info[3]), env.Undefined());
  });
}

// applyStitch(stitch, x): x W + b.
Napi::Value ApplyStitch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    // The stitch read in place (no copy of W per call) and x checked for NaN / Inf through the
    // result: one pass over x, the product's own.
    const restnet::LinearMapView map = linear_map_view_arg(info[0], "stitch");
    const MatrixArg x = matrix_arg(info[1], "x");
    restnet::check_input(map, x.view, "x");
    check_output_size(checked_product({x.view.rows, map.out}, "x.rows x stitch.weight.cols"), sizeof(float), "result");
    // Straight into the Float32Array V8 owns (issue 18): no second buffer, no copy.
    Napi::Float32Array out = float32_output(env, x.view.rows * map.out, "result");
    const std::string name = "x";
    restnet::apply(map, x.view, out.Data(), &name);
    return matrix_object(env, out, x.view.rows, map.out);
  });
}

// Epoch records written by the training thread and read by the relay on the main thread.
struct EpochLog {
  std::mutex mutex;
  std::vector<restnet::EpochRecord> records;
};

Napi::Object record_value(Napi::Env env, const restnet::EpochRecord& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("epoch", Napi::Number::New(env, static_cast<double>(r.epoch)));
  o.Set("trainLoss", Napi::Number::New(env, r.train_loss));
  o.Set("validationLoss", Napi::Number::New(env, r.validation_loss));
  o.Set("lr", Napi::Number::New(env, r.lr));
  return o;
}

// The one relay of epoch records: a (done, total) progress function for PromiseWorker that calls
// onEpoch(record of epoch done, total epochs). Each record is logged before its progress call,
// and PromiseWorker delivers every progress call, in order, before the promise settles.
Napi::Value epoch_relay(Napi::Env env, const Napi::Value& on_epoch, const std::shared_ptr<EpochLog>& log) {
  if (on_epoch.IsUndefined()) return env.Undefined();
  if (!on_epoch.IsFunction()) throw restnet::TypeError("onEpoch: expected a function");
  auto callback = std::make_shared<Napi::FunctionReference>(Napi::Persistent(on_epoch.As<Napi::Function>()));
  return Napi::Function::New(env, [callback, log](const Napi::CallbackInfo& info) {
    const std::size_t done = static_cast<std::size_t>(info[0].As<Napi::Number>().DoubleValue());
    restnet::EpochRecord record;
    {
      std::lock_guard<std::mutex> lock(log->mutex);
      record = log->records[done - 1];  // done >= 1: reported only after its record
    }
    callback->Call({record_value(info.Env(), record), info[1]});
  });
}

std::string widths(std::size_t in, std::size_t out) { return std::to_string(in) + " -> " + std::to_string(out); }

// options.init: a finite stitch of x.cols -> y.cols.
restnet::LinearMap init_arg(const Napi::Value& value, const restnet::MatrixView& x, const restnet::MatrixView& y) {
  restnet::LinearMap init = linear_map_arg(value, "options.init");
  if (init.in != x.cols || init.out != y.cols) {
    throw restnet::RangeError("options.init: expected a stitch of " + widths(x.cols, y.cols) +
                              " (x.cols -> y.cols), got " + widths(init.in, init.out));
  }
  restnet::check_finite(restnet::MatrixView(init.weight.data(), init.in, init.out), "options.init.weight");
  restnet::check_finite(restnet::MatrixView(init.bias.data(), 1, init.out), "options.init.bias");
  return init;
}

// options.validation {x, y}: as many columns as x and y, rows paired, finite.
void check_validation(const restnet::MatrixView& x, const restnet::MatrixView& y, const restnet::MatrixView& vx,
                      const restnet::MatrixView& vy) {
  const auto columns = [](const restnet::MatrixView& v, const restnet::MatrixView& as, const char* name,
                          const char* as_name) {
    if (v.cols != as.cols) {
      throw restnet::RangeError(std::string(name) + ": expected " + std::to_string(as.cols) + " columns (as " +
                                as_name + "), got " + std::to_string(v.rows) + " x " + std::to_string(v.cols));
    }
  };
  columns(vx, x, "options.validation.x", "x");
  columns(vy, y, "options.validation.y", "y");
  restnet::check_pair(vx, vy, "options.validation.x", "options.validation.y");
}

// trainStitch(x, y, options, token?, onEpoch?)
Napi::Value TrainStitch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    std::vector<MatrixArg> keep = xy_args(info);
    const restnet::MatrixView x = keep[0].view, y = keep[1].view;
    check_stitch_size(x, y);
    const Napi::Object o = options_arg(info[2], "options",
                                       {"init", "optimizer", "lr", "momentum", "nesterov", "weightDecay", "schedule",
                                        "epochs", "batchSize", "seed", "validation", "patience", "loss"});
    restnet::TrainOptions options;
    options.optimizer = optimizer_options(o);
    options.schedule = schedule_option(o);
    options.loss = loss_option(o);
    options.epochs = integer_option(o, "epochs", 10, 1, 1e9);
    options.batch_size =
        integer_option(o, "batchSize", std::min<std::size_t>(128, x.rows), 1, static_cast<double>(x.rows));
    options.seed = integer_option(o, "seed", 0, 0, kMaxSafeInteger);
    options.patience = integer_option(o, "patience", 0, 0, 1e9);
    const restnet::LinearMap init =
        o.Get("init").IsUndefined() ? restnet::LinearMap(x.cols, y.cols) : init_arg(o.Get("init"), x, y);
    bool validate = false;
    if (!o.Get("validation").IsUndefined()) {
      const Napi::Object v = options_arg(o.Get("validation"), "options.validation", {"x", "y"});
      keep.push_back(matrix_arg(v.Get("x"), "options.validation.x"));
      keep.push_back(matrix_arg(v.Get("y"), "options.validation.y"));
      check_validation(x, y, keep[2].view, keep[3].view);
      validate = true;
    } else if (options.patience > 0) {
      throw restnet::RangeError("options.patience: early stopping needs options.validation");
    }
    const restnet::MatrixView vx = validate ? keep[2].view : restnet::MatrixView(),
                              vy = validate ? keep[3].view : restnet::MatrixView();
    auto log = std::make_shared<EpochLog>();
    const Napi::Value relay = epoch_relay(env, info[4], log);
    return PromiseWorker<restnet::TrainResult>::Start(
        env,
        [x, y, vx, vy, validate, init, options, log](const restnet::Control& control) {
          const std::size_t epochs = options.epochs;
          return restnet::train_stitch(x, y, init, options, validate ? &vx : nullptr, validate ? &vy : nullptr, control,
                                       [&](const restnet::EpochRecord& r) {
                                         {
                                           std::lock_guard<std::mutex> lock(log->mutex);
                                           log->records.push_back(r);
                                         }
                                         control.report(r.epoch, epochs);
                                       });
        },
        [](Napi::Env e, restnet::TrainResult& r) -> Napi::Value {
          Napi::Object out = linear_map_value(e, r.map);
          Napi::Array history = Napi::Array::New(e, r.history.size());
          for (std::size_t i = 0; i < r.history.size(); ++i)
            history.Set(static_cast<uint32_t>(i), record_value(e, r.history[i]));
          out.Set("history", history);
          return out;
        },
        std::move(keep), token_arg(info[3]), relay);
  });
}

// epochOrders(rows, epochs, seed): trainStitch's row order of each epoch for `seed`, epoch e at
// [e * rows, (e + 1) * rows), for loops that train outside the core (task refinement).
Napi::Value EpochOrders(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const std::size_t rows = integer_arg(info[0], "rows", 1, 4294967295.0);
    const std::size_t epochs = integer_arg(info[1], "epochs", 1, 1e9);
    const std::uint64_t seed = integer_arg(info[2], "seed", 0, kMaxSafeInteger);
    const std::size_t elements = checked_product({rows, epochs}, "rows x epochs");
    check_output_size(elements, sizeof(std::uint32_t), "result");
    Napi::Uint32Array out = Napi::Uint32Array::New(env, elements);
    restnet::EpochOrder orders(rows, seed);
    for (std::size_t e = 0; e < epochs; ++e) {
      const std::vector<std::size_t>& order = orders.next();
      std::copy(order.begin(), order.end(), out.Data() + e * rows);
    }
    return out;
  });
}

// learningRates(stepsPerEpoch, {schedule, lr, epochs}): trainStitch's learning rate at every step
// (its defaults: constant, 1e-3, 10 epochs).
Napi::Value LearningRates(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const std::size_t per_epoch = integer_arg(info[0], "stepsPerEpoch", 1, kMaxSafeInteger);
    const Napi::Object o = options_arg(info[1], "options", {"schedule", "lr", "epochs"});
    restnet::TrainOptions options;
    options.schedule = schedule_option(o);
    options.optimizer.lr = number_option(o, "lr", 1e-3, kPositive);
    options.epochs = integer_option(o, "epochs", 10, 1, 1e9);
    const std::size_t total = checked_product({per_epoch, options.epochs}, "stepsPerEpoch x options.epochs");
    check_output_size(total, sizeof(double), "result");
    Napi::Float64Array out = Napi::Float64Array::New(env, total);
    for (std::size_t s = 0; s < total; ++s) out[s] = restnet::scheduled_lr(options, s, total, s / per_epoch);
    return out;
  });
}

}  // namespace

void init_stitch(Napi::Env env, Napi::Object exports) {
  exports.Set("fitStitch", Napi::Function::New<FitStitch>(env, "fitStitch"));
  exports.Set("fitStitchAsync", Napi::Function::New<FitStitchAsync>(env, "fitStitchAsync"));
  exports.Set("applyStitch", Napi::Function::New<ApplyStitch>(env, "applyStitch"));
  exports.Set("trainStitch", Napi::Function::New<TrainStitch>(env, "trainStitch"));
  exports.Set("epochOrders", Napi::Function::New<EpochOrders>(env, "epochOrders"));
  exports.Set("learningRates", Napi::Function::New<LearningRates>(env, "learningRates"));
  init_stitch_classes(env, exports);
}

}  // namespace restnet_addon
