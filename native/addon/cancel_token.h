// CancelToken: the JavaScript handle through which an AbortSignal stops native work. The
// TypeScript layer calls cancel() from the signal's abort event; workers poll the core token.
#pragma once

#include <napi.h>

#include <memory>

#include "restnet/control.h"

namespace restnet_addon {

class CancelToken : public Napi::ObjectWrap<CancelToken> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit CancelToken(const Napi::CallbackInfo& info);

  std::shared_ptr<restnet::CancelToken> token() const { return token_; }

 private:
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  std::shared_ptr<restnet::CancelToken> token_ = std::make_shared<restnet::CancelToken>();
};

}  // namespace restnet_addon
