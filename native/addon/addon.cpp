// Entry point of the restnet addon: thin glue from JavaScript to the C++ core.
#include "addon.h"

#include "args.h"
#include "cancel_token.h"
#include "restnet/dispatch.h"

namespace restnet_addon {

AddonData& addon_data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

Napi::Object init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  // Resolve the SIMD path now, so a bad RESTNET_SIMD fails loudly at load time.
  guarded(env, [] { return restnet::kernels().isa; });
  Napi::Function token = CancelToken::Define(env);
  addon_data(env).cancel_token = Napi::Persistent(token);
  exports.Set("CancelToken", token);
  init_system(env, exports);
  init_similarity(env, exports);
  init_minibatch_cka(env, exports);
  init_resample(env, exports);
  init_stitch(env, exports);
  return exports;
}

}  // namespace restnet_addon

// The module macro needs an unqualified name.
static Napi::Object InitRestnet(Napi::Env env, Napi::Object exports) { return restnet_addon::init(env, exports); }
NODE_API_MODULE(restnet, InitRestnet)
