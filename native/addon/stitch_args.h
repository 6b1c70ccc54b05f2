// Arguments of the stitch bindings: stitches ({weight, bias}) in and out, and the options of
// fitStitch, the optimizers and trainStitch. Every check names the argument.
#pragma once

#include <napi.h>

#include <optional>
#include <string>

#include "args.h"
#include "restnet/lstsq.h"
#include "restnet/sgd.h"

namespace restnet_addon {

// {weight: {data: Float32Array, rows, cols}, bias: Float32Array}. Other properties (apply,
// diagnostics) are ignored so a fitted stitch can be passed back as it is. The view reads the
// caller's arrays in place: valid for the length of a synchronous call only.
restnet::LinearMapView linear_map_view_arg(const Napi::Value& value, const std::string& name);
// The same, copied (for work that outlives the call or keeps the stitch).
restnet::LinearMap linear_map_arg(const Napi::Value& value, const std::string& name);
Napi::Object linear_map_value(Napi::Env env, const restnet::LinearMap& map);

// {data: Float32Array, rows, cols}, copied from `data`.
Napi::Object matrix_value(Napi::Env env, const std::vector<float>& data, std::size_t rows, std::size_t cols);

// RangeError before any work when the x.cols x y.cols weight of a stitch from x to y would
// overflow or exceed the output cap.
void check_stitch_size(const restnet::MatrixView& x, const restnet::MatrixView& y);

restnet::LstsqOptions lstsq_options(const Napi::Value& value);
Napi::Object lstsq_result_value(Napi::Env env, const restnet::LstsqResult& result);

// optimizer, lr, momentum, nesterov, weightDecay from an options object already checked for
// unknown names, each checked here under its JavaScript name (the core's check_optimizer, run
// again by TrainableStitch, is its own invariant).
restnet::OptimizerOptions optimizer_options(const Napi::Object& options);

// options.schedule ('constant' by default, 'cosine', 'step') and options.loss ('mse', 'huber').
restnet::Schedule schedule_option(const Napi::Object& options);
restnet::Loss loss_option(const Napi::Object& options);

}  // namespace restnet_addon
