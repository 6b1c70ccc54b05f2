// gram, centerGram, hsic, cka, ckaAsync, ckaMatrix.

#include "addon.h"
#include "args.h"
#include "promise_worker.h"
#include "restnet/cka.h"
#include "restnet/hsic.h"

namespace restnet_addon {
namespace {

Napi::Value Gram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const MatrixArg x = matrix_arg(info[0], "x");
    const restnet::GramOptions options = gram_options(info[1]);
    const std::size_t n = x.view.rows;
    // rows x rows doubles, refused before the core computes them; the core writes the Gram
    // straight into this buffer V8 owns (no second n x n buffer, no copy).
    Napi::Float64Array data = float64_output(env, checked_product({n, n}, "x.rows x x.rows"), "gram");
    restnet::gram(x.view, options, data.Data());
    return matrix_object(env, data, n, n);
  });
}

bool unbiased_option(const Napi::Value& value) {
  return bool_option(options_arg(value, "options", {"unbiased"}), "unbiased", false);
}

void require_unbiased_size(std::size_t n, bool unbiased, const char* name) {
  if (unbiased && n < 4) {
    throw restnet::RangeError(std::string(name) + ": the unbiased estimator needs at least 4 rows, got " +
                              std::to_string(n));
  }
}

Napi::Value CenterGram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const restnet::Matrix64 k = square_matrix64_arg(info[0], "k");
    const bool unbiased = unbiased_option(info[1]);
    require_unbiased_size(k.rows, unbiased, "k");
    return matrix64_value(env, restnet::center_gram(k, unbiased));
  });
}

Napi::Value Hsic(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const restnet::Matrix64 k = square_matrix64_arg(info[0], "k");
    const restnet::Matrix64 l = square_matrix64_arg(info[1], "l");
    const bool unbiased = unbiased_option(info[2]);
    if (l.rows != k.rows) {
      throw restnet::RangeError("l: expected " + std::to_string(k.rows) + " x " + std::to_string(k.rows) +
                                " (the shape of k), got " + std::to_string(l.rows) + " x " + std::to_string(l.cols));
    }
    require_unbiased_size(k.rows, unbiased, "k");
    if (k.rows < 2) throw restnet::RangeError("k: HSIC needs at least 2 rows, got " + std::to_string(k.rows));
    return Napi::Number::New(env, restnet::hsic(k, l, unbiased));
  });
}

Napi::Value Cka(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const MatrixArg x = matrix_arg(info[0], "x");
    const MatrixArg y = matrix_arg(info[1], "y");
    return Napi::Number::New(env, restnet::cka(x.view, y.view, cka_options(info[2])));
  });
}

// ckaAsync(x, y, options, token?)
Napi::Value CkaAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    std::vector<MatrixArg> keep = xy_args(info);
    const restnet::CkaOptions options = cka_options(info[2]);
    const restnet::MatrixView x = keep[0].view, y = keep[1].view;
    return PromiseWorker<double>::Start(
        env,
        [x, y, options](const restnet::Control& control) {
          control.check();
          return restnet::cka(x, y, options);
        },
        [](Napi::Env e, double& v) -> Napi::Value { return Napi::Number::New(e, v); }, std::move(keep),
        token_arg(info[3]), env.Undefined());
  });
}

// ckaMatrix(layersA, layersB, options, token?, onProgress?)
Napi::Value CkaMatrix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    std::vector<MatrixArg> a = matrix_list_arg(info[0], "layersA");
    std::vector<MatrixArg> b = matrix_list_arg(info[1], "layersB");
    const restnet::CkaOptions options = cka_options(info[2]);
    if (!info[4].IsUndefined() && !info[4].IsFunction()) {
      throw restnet::TypeError("onProgress: expected a function, got another value");
    }
    restnet::Layers la = layers_of(a, "layersA"), lb = layers_of(b, "layersB");
    std::vector<MatrixArg> keep = std::move(a);
    for (MatrixArg& m : b) keep.push_back(std::move(m));
    return PromiseWorker<restnet::Matrix64>::Start(
        env,
        [la, lb, options](const restnet::Control& control) { return restnet::cka_matrix(la, lb, options, control); },
        [](Napi::Env e, restnet::Matrix64& m) -> Napi::Value { return matrix64_value(e, std::move(m)); },
        std::move(keep), token_arg(info[3]), info[4]);
  });
}

}  // namespace

void init_similarity(Napi::Env env, Napi::Object exports) {
  exports.Set("gram", Napi::Function::New<Gram>(env, "gram"));
  exports.Set("centerGram", Napi::Function::New<CenterGram>(env, "centerGram"));
  exports.Set("hsic", Napi::Function::New<Hsic>(env, "hsic"));
  exports.Set("cka", Napi::Function::New<Cka>(env, "cka"));
  exports.Set("ckaAsync", Napi::Function::New<CkaAsync>(env, "ckaAsync"));
  exports.Set("ckaMatrix", Napi::Function::New<CkaMatrix>(env, "ckaMatrix"));
}

}  // namespace restnet_addon
