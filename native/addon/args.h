// Converting JavaScript arguments to core types, and core errors to JavaScript errors. Every
// check names the argument and states what was expected and what was given.
#pragma once

#include <napi.h>

#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "restnet/cka.h"
#include "restnet/control.h"
#include "restnet/gram.h"
#include "restnet/matrix.h"
#include "restnet/thread_pool.h"

namespace restnet_addon {

// A {data: Float32Array, rows, cols} argument viewed without copying. `keep` holds the typed
// array alive while an async worker reads it, even if JavaScript drops every reference.
struct MatrixArg {
  restnet::MatrixView view;
  Napi::Reference<Napi::Value> keep;
};

MatrixArg matrix_arg(const Napi::Value& value, const std::string& name);
std::vector<MatrixArg> matrix_list_arg(const Napi::Value& value, const std::string& name);
// The (x, y) pair of an async call, info[0] and info[1], kept alive in that order.
std::vector<MatrixArg> xy_args(const Napi::CallbackInfo& info);
restnet::Layers layers_of(const std::vector<MatrixArg>& list, const std::string& name);

// The most bytes one result array may take: 4 GiB (2^32), within the typed-array limit of every
// Node.js version the package supports. A larger result is a RangeError naming it, checked before
// anything is allocated, instead of V8's fatal "ArrayBuffer allocation failed".
constexpr std::size_t kMaxOutputBytes = std::size_t{1} << 32;

// The product of shape factors (rows x cols, N x C x H x W, ...), or a RangeError naming `what`
// with the factors when it does not fit in size_t. Every product of caller-given sizes goes
// through here, so no check compares against a wrapped-around product.
std::size_t checked_product(std::initializer_list<std::size_t> factors, const std::string& what);

// RangeError naming the result `name` when `elements` values of `element_bytes` each exceed
// kMaxOutputBytes. Call before the work that produces the result.
void check_output_size(std::size_t elements, std::size_t element_bytes, const std::string& name);

// A new Float32Array of `elements` for the result `name`, owned by V8 (so V8 counts it and
// frees it in any garbage collection), after check_output_size, hinted for huge pages when large
// (restnet::advise_huge_pages): a core function writes its result straight into it instead of
// into a buffer of its own that would be copied.
Napi::Float32Array float32_output(Napi::Env env, std::size_t elements, const std::string& name);
// The same for f64.
Napi::Float64Array float64_output(Napi::Env env, std::size_t elements, const std::string& name);

// {data, rows, cols}, the shape every matrix result takes in JavaScript.
Napi::Object matrix_object(Napi::Env env, const Napi::TypedArray& data, std::size_t rows, std::size_t cols);

// The largest integer a JavaScript number holds exactly (2^53 - 1).
constexpr double kMaxSafeInteger = 9007199254740991.0;

// An integer in [min, max]: TypeError naming `name` when value is not a number, RangeError when
// it is not an integer in range. The message states the range ("a positive integer",
// "a non-negative integer" or "an integer in [min, max]") and the value given.
std::size_t integer_arg(const Napi::Value& value, const std::string& name, double min, double max);

// The values a number argument may take: finite, from min to max, each end open or closed.
struct Range {
  double min;
  double max;
  bool min_open;
  bool max_open;
};
constexpr Range kPositive{0.0, std::numeric_limits<double>::infinity(), true, true};      // a finite number > 0
constexpr Range kNonNegative{0.0, std::numeric_limits<double>::infinity(), false, true};  // a finite number >= 0

// A finite number within `range`: TypeError when value is not a number, RangeError otherwise.
double number_arg(const Napi::Value& value, const std::string& name, const Range& range);

// A square {data: Float32Array | Float64Array, rows, cols} Gram matrix, copied to f64.
restnet::Matrix64 square_matrix64_arg(const Napi::Value& value, const std::string& name);

// An options object (or undefined). Throws TypeError on a property not in `allowed`, so a
// misspelt option is an error rather than silently ignored.
Napi::Object options_arg(const Napi::Value& value, const std::string& name, std::initializer_list<const char*> allowed);
// Optional members of an options object, named options.<key> in errors, `fallback` when absent.
bool bool_option(const Napi::Object& options, const char* key, bool fallback);
double number_option(const Napi::Object& options, const char* key, double fallback, const Range& range);
std::size_t integer_option(const Napi::Object& options, const char* key, std::size_t fallback, double min, double max);
std::string string_option(const Napi::Object& options, const char* key, const std::string& fallback);

// {kernel, threshold, method} and, unless `with_debiased` is false (the minibatch accumulator
// is always debiased), debiased.
restnet::CkaOptions cka_options(const Napi::Value& value, bool with_debiased = true);
restnet::GramOptions gram_options(const Napi::Value& value);

// The cancel token an async call was given (a native CancelToken object), or null.
std::shared_ptr<restnet::CancelToken> token_arg(const Napi::Value& value);

// {data: Float64Array, rows, cols} in a V8-owned buffer (copied from m, whose storage is freed at
// once): V8 sees the memory and reclaims it without waiting for the event loop to turn.
Napi::Object matrix64_value(Napi::Env env, restnet::Matrix64&& m);

// Runs fn, with the pool kept warm for its length (restnet::KeepPoolWarm), and converts core
// exceptions into JavaScript TypeError / RangeError / Error.
template <class Fn>
auto guarded(Napi::Env env, Fn&& fn) -> decltype(fn());

// The JavaScript error for a core exception (used by async workers too).
Napi::Error js_error(Napi::Env env, const std::exception_ptr& error);

template <class Fn>
auto guarded(Napi::Env env, Fn&& fn) -> decltype(fn()) {
  try {
    const restnet::KeepPoolWarm warm;
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw js_error(env, std::current_exception());
  }
}

}  // namespace restnet_addon
