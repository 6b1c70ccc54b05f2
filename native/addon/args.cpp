#include "args.h"

#include <algorithm>
#include <cmath>

#include "addon.h"
#include "cancel_token.h"
#include "restnet/errors.h"

namespace restnet_addon {
namespace {

std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsTypedArray()) {
    switch (v.As<Napi::TypedArray>().TypedArrayType()) {
      case napi_float32_array: return "Float32Array";
      case napi_float64_array: return "Float64Array";
      default: return "a typed array of another type";
    }
  }
  if (v.IsArray()) return "an array";
  if (v.IsNumber()) return "the number " + v.ToString().Utf8Value();
  if (v.IsString()) return "a string";
  if (v.IsBoolean()) return "a boolean";
  if (v.IsFunction()) return "a function";
  return "an object";
}

// A bound as JavaScript prints it (1e-7, 0.5, 1024), so a message reads like the caller's code.
std::string number_text(Napi::Env env, double d) { return Napi::Number::New(env, d).ToString().Utf8Value(); }

std::string integer_range_text(Napi::Env env, double min, double max) {
  if (max == kMaxSafeInteger && min == 0.0) return "a non-negative integer";
  if (max == kMaxSafeInteger && min == 1.0) return "a positive integer";
  if (max == kMaxSafeInteger) return "an integer >= " + number_text(env, min);
  return "an integer in [" + number_text(env, min) + ", " + number_text(env, max) + "]";
}

std::string range_text(Napi::Env env, const Range& r) {
  if (std::isinf(r.max)) return std::string("a finite number ") + (r.min_open ? "> " : ">= ") + number_text(env, r.min);
  return std::string("a number in ") + (r.min_open ? "(" : "[") + number_text(env, r.min) + ", " +
         number_text(env, r.max) + (r.max_open ? ")" : "]");
}

bool within(double d, const Range& r) {
  return std::isfinite(d) && (r.min_open ? d > r.min : d >= r.min) && (r.max_open ? d < r.max : d <= r.max);
}

std::string option_name(const char* key) { return std::string("options.") + key; }

std::size_t dimension(const Napi::Object& obj, const char* key, const std::string& name) {
  return integer_arg(obj.Get(key), name + "." + key, 0.0, kMaxSafeInteger);
}

struct Shape {
  Napi::TypedArray data;
  std::size_t rows, cols;
};

Shape shape_of(const Napi::Value& value, const std::string& name, bool allow_f64) {
  if (!value.IsObject() || value.IsArray() || value.IsTypedArray()) {
    throw restnet::TypeError(name + ": expected a matrix {data: Float32Array, rows, cols}, got " + describe(value));
  }
  const Napi::Object obj = value.As<Napi::Object>();
  const Napi::Value data = obj.Get("data");
  const bool ok =
      data.IsTypedArray() && (data.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array ||
                              (allow_f64 && data.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array));
  if (!ok) {
    throw restnet::TypeError(name + ".data: expected " + (allow_f64 ? "Float32Array or Float64Array" : "Float32Array") +
                             ", got " + describe(data));
  }
  Shape s{data.As<Napi::TypedArray>(), dimension(obj, "rows", name), dimension(obj, "cols", name)};
  const std::size_t length = s.data.ElementLength();
  const std::size_t elements = checked_product({s.rows, s.cols}, name + ".rows x " + name + ".cols");
  if (length != elements) {
    throw restnet::RangeError(name + ".data: expected rows x cols = " + std::to_string(s.rows) + " x " +
                              std::to_string(s.cols) + " = " + std::to_string(elements) + " elements, got " +
                              std::to_string(length));
  }
  if (s.rows == 0 || s.cols == 0) {
    throw restnet::RangeError(name + ": expected at least 1 row and 1 column, got " + std::to_string(s.rows) + " x " +
                              std::to_string(s.cols));
  }
  return s;
}

}  // namespace

std::size_t checked_product(std::initializer_list<std::size_t> factors, const std::string& what) {
  // A zero factor makes the product 0 even where a partial product of the others would wrap.
  if (std::find(factors.begin(), factors.end(), std::size_t{0}) != factors.end()) return 0;
  std::size_t product = 1;
  bool overflow = false;
  std::string text;
  for (std::size_t f : factors) {
    overflow = __builtin_mul_overflow(product, f, &product) || overflow;
    text += (text.empty() ? "" : " x ") + std::to_string(f);
  }
  if (overflow) {
    throw restnet::RangeError(what + ": expected a product below 2^" + std::to_string(8 * sizeof(std::size_t)) +
                              ", got " + text);
  }
  return product;
}

void check_output_size(std::size_t elements, std::size_t element_bytes, const std::string& name) {
  if (elements > kMaxOutputBytes / element_bytes) {
    throw restnet::RangeError(name + ": expected a result of at most " + std::to_string(kMaxOutputBytes) +
                              " bytes (4 GiB), got " + std::to_string(elements) + " values of " +
                              std::to_string(element_bytes) + " bytes");
  }
}

Napi::Float32Array float32_output(Napi::Env env, std::size_t elements, const std::string& name) {
  check_output_size(elements, sizeof(float), name);
  Napi::Float32Array out = Napi::Float32Array::New(env, elements);
  restnet::advise_huge_pages(out.Data(), out.ByteLength());
  return out;
}

Napi::Float64Array float64_output(Napi::Env env, std::size_t elements, const std::string& name) {
  check_output_size(elements, sizeof(double), name);
  Napi::Float64Array out = Napi::Float64Array::New(env, elements);
  restnet::advise_huge_pages(out.Data(), out.ByteLength());
  return out;
}

Napi::Object matrix_object(Napi::Env env, const Napi::TypedArray& data, std::size_t rows, std::size_t cols) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("data", data);
  out.Set("rows", Napi::Number::New(env, static_cast<double>(rows)));
  out.Set("cols", Napi::Number::New(env, static_cast<double>(cols)));
  return out;
}

MatrixArg matrix_arg(const Napi::Value& value, const std::string& name) {
  const Shape s = shape_of(value, name, false);
  const Napi::Float32Array data = s.data.As<Napi::Float32Array>();
  return MatrixArg{restnet::MatrixView(data.Data(), s.rows, s.cols), Napi::Persistent(Napi::Value(data))};
}

std::vector<MatrixArg> xy_args(const Napi::CallbackInfo& info) {
  std::vector<MatrixArg> keep;
  keep.push_back(matrix_arg(info[0], "x"));
  keep.push_back(matrix_arg(info[1], "y"));
  return keep;
}

std::vector<MatrixArg> matrix_list_arg(const Napi::Value& value, const std::string& name) {
  if (!value.IsArray()) throw restnet::TypeError(name + ": expected an array of matrices, got " + describe(value));
  const Napi::Array array = value.As<Napi::Array>();
  std::vector<MatrixArg> out;
  out.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    out.push_back(matrix_arg(array.Get(i), name + "[" + std::to_string(i) + "]"));
  }
  return out;
}

restnet::Layers layers_of(const std::vector<MatrixArg>& list, const std::string& name) {
  std::vector<restnet::MatrixView> views;
  for (const MatrixArg& m : list) views.push_back(m.view);
  return restnet::Layers(std::move(views), name);
}

std::size_t integer_arg(const Napi::Value& value, const std::string& name, double min, double max) {
  const Napi::Env env = value.Env();
  if (!value.IsNumber()) {
    throw restnet::TypeError(name + ": expected " + integer_range_text(env, min, max) + ", got " + describe(value));
  }
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max) || d != std::floor(d)) {
    throw restnet::RangeError(name + ": expected " + integer_range_text(env, min, max) + ", got " +
                              value.ToString().Utf8Value());
  }
  return static_cast<std::size_t>(d);
}

double number_arg(const Napi::Value& value, const std::string& name, const Range& range) {
  const Napi::Env env = value.Env();
  if (!value.IsNumber())
    throw restnet::TypeError(name + ": expected " + range_text(env, range) + ", got " + describe(value));
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!within(d, range)) {
    throw restnet::RangeError(name + ": expected " + range_text(env, range) + ", got " + value.ToString().Utf8Value());
  }
  return d;
}

restnet::Matrix64 square_matrix64_arg(const Napi::Value& value, const std::string& name) {
  const Shape s = shape_of(value, name, true);
  if (s.rows != s.cols) {
    throw restnet::RangeError(name + ": expected a square Gram matrix, got " + std::to_string(s.rows) + " x " +
                              std::to_string(s.cols));
  }
  restnet::Matrix64 m(s.rows, s.cols);
  if (s.data.TypedArrayType() == napi_float64_array) {
    const double* src = s.data.As<Napi::Float64Array>().Data();
    m.data.assign(src, src + m.data.size());
  } else {
    const float* src = s.data.As<Napi::Float32Array>().Data();
    m.data.assign(src, src + m.data.size());
  }
  for (std::size_t k = 0; k < m.data.size(); ++k) {
    if (!std::isfinite(m.data[k])) {
      throw restnet::RangeError(name + ": expected finite values, got " + std::to_string(m.data[k]) + " at row " +
                                std::to_string(k / s.cols) + ", column " + std::to_string(k % s.cols));
    }
  }
  return m;
}

Napi::Object options_arg(const Napi::Value& value, const std::string& name,
                         std::initializer_list<const char*> allowed) {
  if (value.IsUndefined()) return Napi::Object::New(value.Env());
  if (!value.IsObject() || value.IsArray()) {
    throw restnet::TypeError(name + ": expected an options object, got " + describe(value));
  }
  const Napi::Object obj = value.As<Napi::Object>();
  const Napi::Array keys = obj.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    const std::string key = keys.Get(i).ToString().Utf8Value();
    bool known = false;
    std::string list;
    for (const char* a : allowed) {
      known = known || key == a;
      list += list.empty() ? a : std::string(", ") + a;
    }
    if (!known) throw restnet::TypeError(name + "." + key + ": unknown option; expected one of " + list);
  }
  return obj;
}

bool bool_option(const Napi::Object& options, const char* key, bool fallback) {
  const Napi::Value v = options.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean())
    throw restnet::TypeError(std::string("options.") + key + ": expected a boolean, got " + describe(v));
  return v.As<Napi::Boolean>().Value();
}

double number_option(const Napi::Object& options, const char* key, double fallback, const Range& range) {
  const Napi::Value v = options.Get(key);
  return v.IsUndefined() ? fallback : number_arg(v, option_name(key), range);
}

std::size_t integer_option(const Napi::Object& options, const char* key, std::size_t fallback, double min, double max) {
  const Napi::Value v = options.Get(key);
  return v.IsUndefined() ? fallback : integer_arg(v, option_name(key), min, max);
}

std::string string_option(const Napi::Object& options, const char* key, const std::string& fallback) {
  const Napi::Value v = options.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsString())
    throw restnet::TypeError(std::string("options.") + key + ": expected a string, got " + describe(v));
  return v.As<Napi::String>().Utf8Value();
}

restnet::CkaOptions cka_options(const Napi::Value& value, bool with_debiased) {
  const Napi::Object o = with_debiased ? options_arg(value, "options", {"kernel", "threshold", "debiased", "method"})
                                       : options_arg(value, "options", {"kernel", "threshold", "method"});
  restnet::CkaOptions out;
  out.kernel = restnet::parse_kernel(string_option(o, "kernel", "linear"));
  out.threshold = number_option(o, "threshold", 1.0, kPositive);
  out.debiased = bool_option(o, "debiased", false);
  out.method = restnet::parse_method(string_option(o, "method", "auto"));
  return out;
}

restnet::GramOptions gram_options(const Napi::Value& value) {
  const Napi::Object o = options_arg(value, "options", {"kernel", "threshold", "sigma"});
  restnet::GramOptions out;
  out.kernel = restnet::parse_kernel(string_option(o, "kernel", "linear"));
  out.threshold = number_option(o, "threshold", 1.0, kPositive);
  // The core reads sigma = 0 as "use the median rule" (the default); a caller who passes sigma means it.
  out.sigma = number_option(o, "sigma", 0.0, kPositive);
  return out;
}

std::shared_ptr<restnet::CancelToken> token_arg(const Napi::Value& value) {
  if (value.IsUndefined() || value.IsNull()) return nullptr;
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(addon_data(value.Env()).cancel_token.Value())) {
    throw restnet::TypeError("token: expected a CancelToken, got " + describe(value));
  }
  return CancelToken::Unwrap(value.As<Napi::Object>())->token();
}

Napi::Object matrix64_value(Napi::Env env, restnet::Matrix64&& m) {
  const restnet::Matrix64 owned = std::move(m);  // freed when this returns, not when the event loop turns
  Napi::Float64Array data = float64_output(env, owned.data.size(), "result");
  std::copy(owned.data.begin(), owned.data.end(), data.Data());
  return matrix_object(env, data, owned.rows, owned.cols);
}

Napi::Error js_error(Napi::Env env, const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const restnet::TypeError& e) {
    return Napi::TypeError::New(env, e.what());
  } catch (const restnet::RangeError& e) {
    return Napi::RangeError::New(env, e.what());
  } catch (const restnet::Cancelled& e) {
    Napi::Error err = Napi::Error::New(env, e.what());
    err.Set("name", Napi::String::New(env, "AbortError"));
    err.Set("code", Napi::String::New(env, "ABORT_ERR"));
    return err;
  } catch (const std::bad_alloc&) {
    return Napi::RangeError::New(env, "out of memory: the inputs are too large for this machine");
  } catch (const std::exception& e) {
    return Napi::Error::New(env, e.what());
  } catch (...) {
    return Napi::Error::New(env, "unknown native error");
  }
}

}  // namespace restnet_addon
