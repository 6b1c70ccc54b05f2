#include "cancel_token.h"

namespace restnet_addon {

Napi::Function CancelToken::Define(Napi::Env env) {
  return DefineClass(env, "CancelToken", {InstanceMethod<&CancelToken::Cancel>("cancel")});
}

CancelToken::CancelToken(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CancelToken>(info) {}

Napi::Value CancelToken::Cancel(const Napi::CallbackInfo& info) {
  token_->cancel();
  return info.Env().Undefined();
}

}  // namespace restnet_addon
