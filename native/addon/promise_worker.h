// An AsyncWorker that settles a Promise: the work runs on the libuv pool (never on the event
// loop), the inputs it reads are kept alive by references it owns, core exceptions reject the
// promise with the matching JavaScript error, and an optional progress callback is called on
// the main thread through a thread-safe function. Every progress call reaches JavaScript before
// the promise settles: with a callback, the promise settles in the thread-safe function's
// finalizer, which runs after its queue has drained.
#pragma once

#include <napi.h>

#include <exception>
#include <functional>
#include <memory>
#include <vector>

#include "args.h"
#include "restnet/control.h"

namespace restnet_addon {

template <class Result>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<Result(const restnet::Control&)>;
  using Convert = std::function<Napi::Value(Napi::Env, Result&)>;

  // Queues the work and returns its promise. `keep` holds the inputs; `token` may be null;
  // `progress` may be undefined or a function (done, total).
  static Napi::Promise Start(Napi::Env env, Work work, Convert convert, std::vector<MatrixArg> keep,
                             std::shared_ptr<restnet::CancelToken> token, const Napi::Value& progress) {
    auto* worker = new PromiseWorker(env, std::move(work), std::move(convert), std::move(keep), std::move(token));
    if (progress.IsFunction()) worker->attach_progress(env, progress.As<Napi::Function>());
    Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();
    return promise;
  }

 private:
  PromiseWorker(Napi::Env env, Work work, Convert convert, std::vector<MatrixArg> keep,
                std::shared_ptr<restnet::CancelToken> token)
      : Napi::AsyncWorker(env, "restnet"),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        convert_(std::move(convert)),
        keep_(std::move(keep)),
        token_(std::move(token)) {
    control_.token = token_.get();
  }

  void attach_progress(Napi::Env env, Napi::Function callback) {
    // The worker outlives OnOK until the finalizer has settled the promise and deletes it.
    SuppressDestruct();
    progress_ = Napi::ThreadSafeFunction::New(env, callback, "restnet progress", 0, 1, this,
                                              [](Napi::Env e, PromiseWorker* self) {
                                                Napi::HandleScope scope(e);
                                                self->settle(e);
                                                delete self;
                                              });
    has_progress_ = true;
    control_.progress = [this](std::size_t done, std::size_t total) {
      progress_.NonBlockingCall([done, total](Napi::Env e, Napi::Function fn) {
        fn.Call({Napi::Number::New(e, static_cast<double>(done)), Napi::Number::New(e, static_cast<double>(total))});
      });
    };
  }

  void Execute() override {
    try {
      const restnet::KeepPoolWarm warm;  // polling workers between this call's jobs
      result_ = work_(control_);
    } catch (...) {
      error_ = std::current_exception();
    }
  }

  void OnOK() override {
    if (has_progress_) {
      progress_.Release();  // the finalizer settles once the queued progress calls have run
      return;
    }
    Napi::HandleScope scope(Env());
    settle(Env());
  }

  void settle(Napi::Env env) {
    if (error_) {
      deferred_.Reject(js_error(env, error_).Value());
      return;
    }
    try {
      deferred_.Resolve(convert_(env, result_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (...) {
      deferred_.Reject(js_error(env, std::current_exception()).Value());  // a result over the output cap
    }
  }

  Napi::Promise::Deferred deferred_;
  Work work_;
  Convert convert_;
  std::vector<MatrixArg> keep_;
  std::shared_ptr<restnet::CancelToken> token_;
  restnet::Control control_;
  Napi::ThreadSafeFunction progress_;
  bool has_progress_ = false;
  Result result_{};
  std::exception_ptr error_;
};

}  // namespace restnet_addon
