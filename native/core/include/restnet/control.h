// Cancellation and progress for long-running core work (ckaMatrix, training loops).
// The core polls the token between work units; it never blocks on it.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>

#include "restnet/errors.h"

namespace restnet {

class CancelToken {
 public:
  void cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> cancelled_{false};
};

// What a long call may be given: both parts are optional.
struct Control {
  const CancelToken* token = nullptr;
  // Called from the working thread with (units done, units in all).
  std::function<void(std::size_t, std::size_t)> progress;

  void check() const {
    if (token != nullptr && token->cancelled()) throw Cancelled();
  }
  void report(std::size_t done, std::size_t total) const {
    if (progress) progress(done, total);
  }
};

}  // namespace restnet
