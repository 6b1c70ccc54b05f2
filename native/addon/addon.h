// Per-environment state of the addon (one per Node.js worker thread that loads it).
#pragma once

#include <napi.h>

namespace restnet_addon {

struct AddonData {
  Napi::FunctionReference cancel_token;
  Napi::FunctionReference minibatch_cka;
  Napi::FunctionReference least_squares_accumulator;
};

AddonData& addon_data(Napi::Env env);

// Each binding file adds its functions and classes to the exports.
void init_system(Napi::Env env, Napi::Object exports);
void init_similarity(Napi::Env env, Napi::Object exports);
void init_minibatch_cka(Napi::Env env, Napi::Object exports);
void init_resample(Napi::Env env, Napi::Object exports);
void init_stitch(Napi::Env env, Napi::Object exports);
void init_stitch_classes(Napi::Env env, Napi::Object exports);

}  // namespace restnet_addon
