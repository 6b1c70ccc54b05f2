// The JavaScript object of a streaming accumulator (MinibatchCKA, LeastSquaresAccumulator):
// the core accumulator behind a mutex, shared with async updates still in flight, with the
// updateAsync and merge plumbing both classes need.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "args.h"
#include "promise_worker.h"
#include "restnet/control.h"
#include "restnet/errors.h"

namespace restnet_addon {

template <class Derived, class Core>
class AccumulatorWrap : public Napi::ObjectWrap<Derived> {
 public:
  using Napi::ObjectWrap<Derived>::ObjectWrap;

  ~AccumulatorWrap() override {
    if (external_ != 0) Napi::MemoryManagement::AdjustExternalMemory(env_, -external_);
  }

 protected:
  struct State {
    template <class... Args>
    explicit State(Args&&... args) : acc(std::forward<Args>(args)...) {}
    std::mutex mutex;
    Core acc;
  };

  template <class... Args>
  void create(Args&&... args) {
    state_ = std::make_shared<State>(std::forward<Args>(args)...);
  }

  // Tells V8 how many bytes of native state this object holds (a wide stitch's normal equations
  // are hundreds of MB behind a small wrapper), so that garbage collection frees a dropped
  // accumulator when memory grows instead of whenever the JavaScript heap happens to fill.
  void account(Napi::Env env, std::size_t bytes) {
    env_ = env;
    external_ = static_cast<int64_t>(bytes);
    Napi::MemoryManagement::AdjustExternalMemory(env, external_);
  }

  // Runs fn(accumulator) under the lock.
  template <class Fn>
  auto locked(Fn&& fn) -> decltype(fn(std::declval<Core&>())) {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return fn(state_->acc);
  }

  // Queues update(accumulator, control) on the libuv pool; the promise resolves to undefined.
  // `keep` holds the inputs alive; the state is held by the worker, so dropping the JavaScript
  // object mid-update is safe.
  template <class Update>
  Napi::Value queue_update(Napi::Env env, std::vector<MatrixArg> keep, const Napi::Value& token, Update update) {
    std::shared_ptr<State> state = state_;
    return PromiseWorker<bool>::Start(
        env,
        [state, update](const restnet::Control& control) {
          std::lock_guard<std::mutex> lock(state->mutex);
          update(state->acc, control);
          return true;
        },
        [](Napi::Env e, bool&) -> Napi::Value { return e.Undefined(); }, std::move(keep), token_arg(token),
        env.Undefined());
  }

  // merge(other) for another instance of the same class (`constructor`), never itself.
  Napi::Value merge_from(const Napi::CallbackInfo& info, const Napi::FunctionReference& constructor,
                         const char* class_name) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const Napi::Value v = info[0];
      if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(constructor.Value())) {
        throw restnet::TypeError(std::string("other: expected a ") + class_name);
      }
      std::shared_ptr<State> other = Derived::Unwrap(v.As<Napi::Object>())->state_;
      if (other == state_) throw restnet::RangeError("other: cannot merge an accumulator into itself");
      std::scoped_lock lock(state_->mutex, other->mutex);
      state_->acc.merge(other->acc);
      return info.Env().Undefined();
    });
  }

  std::shared_ptr<State> state_;

 private:
  napi_env env_ = nullptr;
  int64_t external_ = 0;
};

}  // namespace restnet_addon
