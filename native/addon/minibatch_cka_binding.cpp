// MinibatchCKA: the accumulator object of Nguyen et al.'s minibatch CKA.
#include <mutex>

#include "addon.h"
#include "args.h"
#include "promise_worker.h"
#include "restnet/errors.h"
#include "restnet/minibatch_cka.h"

namespace restnet_addon {
namespace {

std::size_t count_arg(const Napi::Value& v, const char* name) {
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1.0;
  if (!(d >= 1.0) || d != static_cast<double>(static_cast<std::size_t>(d))) {
    throw restnet::RangeError(std::string(name) + ": expected a positive integer, got " + v.ToString().Utf8Value());
  }
  return static_cast<std::size_t>(d);
}

class MinibatchCka : public Napi::ObjectWrap<MinibatchCka> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "MinibatchCKA",
                       {InstanceMethod<&MinibatchCka::Update>("update"),
                        InstanceMethod<&MinibatchCka::UpdateAsync>("updateAsync"),
                        InstanceMethod<&MinibatchCka::Merge>("merge"),
                        InstanceMethod<&MinibatchCka::Result>("result"),
                        InstanceAccessor<&MinibatchCka::Batches>("batches")});
  }

  explicit MinibatchCka(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MinibatchCka>(info) {
    guarded(info.Env(), [&] {
      const std::size_t count_a = count_arg(info[0], "countA");
      const std::size_t count_b = count_arg(info[1], "countB");
      const Napi::Object o = options_arg(info[2], "options", {"kernel", "threshold", "method"});
      restnet::CkaOptions options;
      options.kernel = restnet::parse_kernel(string_option(o, "kernel", "linear"));
      options.threshold = number_option(o, "threshold", 1.0);
      options.method = restnet::parse_method(string_option(o, "method", "auto"));
      state_ = std::make_shared<State>(restnet::MinibatchCka(count_a, count_b, options));
      return 0;
    });
  }

 private:
  // Shared with async updates in flight, which lock it while they add their batch.
  struct State {
    explicit State(restnet::MinibatchCka a) : acc(std::move(a)) {}
    std::mutex mutex;
    restnet::MinibatchCka acc;
  };

  Napi::Value Update(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const std::vector<MatrixArg> a = matrix_list_arg(info[0], "a"), b = matrix_list_arg(info[1], "b");
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->acc.update(layers_of(a, "a"), layers_of(b, "b"));
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
      std::shared_ptr<State> state = state_;
      return PromiseWorker<bool>::Start(
          env,
          [state, la, lb](const restnet::Control& control) {
            std::lock_guard<std::mutex> lock(state->mutex);
            state->acc.update(la, lb, control);
            return true;
          },
          [](Napi::Env e, bool&) -> Napi::Value { return e.Undefined(); }, std::move(keep), token_arg(info[2]),
          env.Undefined());
    });
  }

  Napi::Value Merge(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const Napi::Value v = info[0];
      if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(addon_data(info.Env()).minibatch_cka.Value())) {
        throw restnet::TypeError("other: expected a MinibatchCKA");
      }
      std::shared_ptr<State> other = Unwrap(v.As<Napi::Object>())->state_;
      if (other == state_) throw restnet::RangeError("other: cannot merge an accumulator into itself");
      std::scoped_lock lock(state_->mutex, other->mutex);
      state_->acc.merge(other->acc);
      return info.Env().Undefined();
    });
  }

  Napi::Value Result(const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return matrix64_value(info.Env(), state_->acc.result());
  }

  Napi::Value Batches(const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return Napi::Number::New(info.Env(), static_cast<double>(state_->acc.batches()));
  }

  std::shared_ptr<State> state_;
};

}  // namespace

void init_minibatch_cka(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = MinibatchCka::Define(env);
  addon_data(env).minibatch_cka = Napi::Persistent(cls);
  exports.Set("MinibatchCKA", cls);
}

}  // namespace restnet_addon
