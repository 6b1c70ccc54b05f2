// MinibatchCKA: the accumulator object of Nguyen et al.'s minibatch CKA.
#include "accumulator_wrap.h"
#include "addon.h"
#include "args.h"
#include "restnet/errors.h"
#include "restnet/minibatch_cka.h"

namespace restnet_addon {
namespace {

class MinibatchCka : public AccumulatorWrap<MinibatchCka, restnet::MinibatchCka> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "MinibatchCKA",
        {InstanceMethod<&MinibatchCka::Update>("update"), InstanceMethod<&MinibatchCka::UpdateAsync>("updateAsync"),
         InstanceMethod<&MinibatchCka::Merge>("merge"), InstanceMethod<&MinibatchCka::Result>("result"),
         InstanceAccessor<&MinibatchCka::Batches>("batches")});
  }

  explicit MinibatchCka(const Napi::CallbackInfo& info) : AccumulatorWrap(info) {
    guarded(info.Env(), [&] {
      const std::size_t count_a = integer_arg(info[0], "countA", 1, kMaxSafeInteger);
      const std::size_t count_b = integer_arg(info[1], "countB", 1, kMaxSafeInteger);
      check_output_size(checked_product({count_a, count_b}, "countA x countB"), sizeof(double), "result");
      create(count_a, count_b, cka_options(info[2], false));
      return 0;
    });
  }

 private:
  Napi::Value Update(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const std::vector<MatrixArg> a = matrix_list_arg(info[0], "a"), b = matrix_list_arg(info[1], "b");
      locked([&](restnet::MinibatchCka& acc) { acc.update(layers_of(a, "a"), layers_of(b, "b")); });
      return info.Env().Undefined();
    });
  }

  Napi::Value UpdateAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      std::vector<MatrixArg> a = matrix_list_arg(info[0], "a"), b = matrix_list_arg(info[1], "b");
      restnet::Layers la = layers_of(a, "a"), lb = layers_of(b, "b");
      std::vector<MatrixArg> keep = std::move(a);
      for (MatrixArg& m : b) keep.push_back(std::move(m));
      return queue_update(
          env, std::move(keep), info[2],
          [la, lb](restnet::MinibatchCka& acc, const restnet::Control& control) { acc.update(la, lb, control); });
    });
  }

  Napi::Value Merge(const Napi::CallbackInfo& info) {
    return merge_from(info, addon_data(info.Env()).minibatch_cka, "MinibatchCKA");
  }

  Napi::Value Result(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      return matrix64_value(info.Env(), locked([](restnet::MinibatchCka& acc) { return acc.result(); }));
    });
  }

  Napi::Value Batches(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(),
                             static_cast<double>(locked([](restnet::MinibatchCka& acc) { return acc.batches(); })));
  }
};

}  // namespace

void init_minibatch_cka(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = MinibatchCka::Define(env);
  addon_data(env).minibatch_cka = Napi::Persistent(cls);
  exports.Set("MinibatchCKA", cls);
}

}  // namespace restnet_addon
