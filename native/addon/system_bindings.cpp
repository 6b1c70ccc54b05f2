// capabilities, setThreads, setSimd: what the machine offers and how the core uses it.
#include "addon.h"
#include "args.h"
#include "restnet/dispatch.h"
#include "restnet/errors.h"
#include "restnet/thread_pool.h"

namespace restnet_addon {
namespace {

Napi::Value Capabilities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("simd", restnet::isa_name(restnet::active_isa()));
  Napi::Array available = Napi::Array::New(env);
  for (restnet::Isa isa : restnet::available_isas()) available.Set(available.Length(), restnet::isa_name(isa));
  out.Set("available", available);
  out.Set("threads", Napi::Number::New(env, static_cast<double>(restnet::thread_count())));
  return out;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    // 0 asks for the hardware default.
    restnet::set_thread_count(integer_arg(info[0], "threads", 0, 1024));
    return env.Undefined();
  });
}

Napi::Value SetSimd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (!info[0].IsString()) throw restnet::TypeError("simd: expected a string such as 'avx2'");
    restnet::set_isa(restnet::parse_isa(info[0].As<Napi::String>().Utf8Value()));
    return env.Undefined();
  });
}

}  // namespace

void init_system(Napi::Env env, Napi::Object exports) {
  exports.Set("capabilities", Napi::Function::New<Capabilities>(env, "capabilities"));
  exports.Set("setThreads", Napi::Function::New<SetThreads>(env, "setThreads"));
  exports.Set("setSimd", Napi::Function::New<SetSimd>(env, "setSimd"));
}

}  // namespace restnet_addon
