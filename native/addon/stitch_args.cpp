#include "stitch_args.h"

#include <cstring>
#include <utility>

#include "restnet/errors.h"

namespace restnet_addon {
namespace {

// options[key] as the enum value of its name among `names`, `fallback` when absent; a TypeError
// listing the names otherwise.
template <class E>
E choice_option(const Napi::Object& options, const char* key, E fallback,
                std::initializer_list<std::pair<const char*, E>> names) {
  if (options.Get(key).IsUndefined()) return fallback;
  const std::string given = string_option(options, key, "");
  std::string list;
  std::size_t k = 0;
  for (const auto& [name, value] : names) {
    if (given == name) return value;
    ++k;
    list += std::string(k == 1 ? "" : k == names.size() ? " or " : ", ") + "'" + name + "'";
  }
  throw restnet::TypeError(std::string("options.") + key + ": expected " + list + ", got '" + given + "'");
}

}  // namespace

restnet::LinearMapView linear_map_view_arg(const Napi::Value& value, const std::string& name) {
  if (!value.IsObject() || value.IsArray() || value.IsTypedArray()) {
    throw restnet::TypeError(name + ": expected a stitch {weight: Matrix, bias: Float32Array}");
  }
  const Napi::Object obj = value.As<Napi::Object>();
  const MatrixArg weight = matrix_arg(obj.Get("weight"), name + ".weight");
  const Napi::Value bias = obj.Get("bias");
  if (!bias.IsTypedArray() || bias.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw restnet::TypeError(name + ".bias: expected a Float32Array");
  }
  const Napi::Float32Array b = bias.As<Napi::Float32Array>();
  if (b.ElementLength() != weight.view.cols) {
    throw restnet::RangeError(name + ".bias: expected " + std::to_string(weight.view.cols) +
                              " values (weight.cols), got " + std::to_string(b.ElementLength()));
  }
  return restnet::LinearMapView{weight.view.rows, weight.view.cols, weight.view.data, b.Data()};
}

restnet::LinearMap linear_map_arg(const Napi::Value& value, const std::string& name) {
  const restnet::LinearMapView view = linear_map_view_arg(value, name);
  restnet::LinearMap map;
  map.in = view.in;
  map.out = view.out;
  map.weight.assign(view.weight, view.weight + view.in * view.out);
  map.bias.assign(view.bias, view.bias + view.out);
  return map;
}

Napi::Object matrix_value(Napi::Env env, const std::vector<float>& data, std::size_t rows, std::size_t cols) {
  Napi::Float32Array a = float32_output(env, data.size(), "result");
  std::memcpy(a.Data(), data.data(), data.size() * sizeof(float));
  Napi::Object out = Napi::Object::New(env);
  out.Set("data", a);
  out.Set("rows", Napi::Number::New(env, static_cast<double>(rows)));
  out.Set("cols", Napi::Number::New(env, static_cast<double>(cols)));
  return out;
}

Napi::Object linear_map_value(Napi::Env env, const restnet::LinearMap& map) {
  Napi::Float32Array w = float32_output(env, map.weight.size(), "weight");
  std::memcpy(w.Data(), map.weight.data(), map.weight.size() * sizeof(float));
  Napi::Float32Array b = float32_output(env, map.bias.size(), "bias");
  std::memcpy(b.Data(), map.bias.data(), map.bias.size() * sizeof(float));
  Napi::Object weight = Napi::Object::New(env);
  weight.Set("data", w);
  weight.Set("rows", Napi::Number::New(env, static_cast<double>(map.in)));
  weight.Set("cols", Napi::Number::New(env, static_cast<double>(map.out)));
  Napi::Object out = Napi::Object::New(env);
  out.Set("weight", weight);
  out.Set("bias", b);
  return out;
}

void check_stitch_size(const restnet::MatrixView& x, const restnet::MatrixView& y) {
  check_output_size(checked_product({x.cols, y.cols}, "x.cols x y.cols"), sizeof(float), "weight");
}

restnet::LstsqOptions lstsq_options(const Napi::Value& value) {
  const Napi::Object o = options_arg(value, "options", {"ridge", "bias"});
  restnet::LstsqOptions out;
  out.ridge = number_option(o, "ridge", 0.0, kNonNegative);
  out.bias = bool_option(o, "bias", true);
  return out;
}

Napi::Object lstsq_result_value(Napi::Env env, const restnet::LstsqResult& result) {
  Napi::Object out = linear_map_value(env, result.map);
  out.Set("residual", Napi::Number::New(env, result.residual));
  out.Set("rank", Napi::Number::New(env, static_cast<double>(result.rank)));
  out.Set("condition", Napi::Number::New(env, result.condition));
  out.Set("method", Napi::String::New(env, result.method == restnet::LstsqMethod::Cholesky ? "cholesky" : "eigen"));
  return out;
}

restnet::OptimizerOptions optimizer_options(const Napi::Object& options) {
  restnet::OptimizerOptions out;
  using restnet::OptimizerKind;
  out.kind = choice_option(options, "optimizer", OptimizerKind::Adam,
                           {{"sgd", OptimizerKind::Sgd}, {"adam", OptimizerKind::Adam}});
  out.lr = number_option(options, "lr", 1e-3, kPositive);
  out.momentum = number_option(options, "momentum", 0.0, Range{0.0, 1.0, false, true});
  out.nesterov = bool_option(options, "nesterov", false);
  out.weight_decay = number_option(options, "weightDecay", 0.0, kNonNegative);
  if (out.momentum != 0.0 && out.kind != OptimizerKind::Sgd) {
    throw restnet::RangeError("options.momentum: only used by optimizer 'sgd' (Adam has fixed betas 0.9, 0.999)");
  }
  if (out.nesterov && !(out.kind == OptimizerKind::Sgd && out.momentum > 0.0)) {
    throw restnet::RangeError("options.nesterov: needs optimizer 'sgd' with momentum > 0");
  }
  return out;
}

restnet::Schedule schedule_option(const Napi::Object& options) {
  using restnet::Schedule;
  return choice_option(options, "schedule", Schedule::Constant,
                       {{"constant", Schedule::Constant}, {"cosine", Schedule::Cosine}, {"step", Schedule::Step}});
}

restnet::Loss loss_option(const Napi::Object& options) {
  using restnet::Loss;
  return choice_option(options, "loss", Loss::Mse, {{"mse", Loss::Mse}, {"huber", Loss::Huber}});
}

}  // namespace restnet_addon
