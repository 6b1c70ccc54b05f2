#include "restnet/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace restnet {
namespace {

std::size_t hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

// How long a thread polls for the next job (a worker, while a KeepPoolWarm lives) or for the
// end of its job (the caller) before it sleeps on a condition variable. Training runs jobs of
// ~0.1 ms back to back, four per step: waking a sleeping thread took longer than many of them.
// Bounded, so that idle workers give their core back to other processes after 50 us.
constexpr std::chrono::microseconds kSpin{50};

// Live KeepPoolWarm objects.
std::atomic<std::size_t> warm_scopes{0};

void relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Polls `ready` until it holds or kSpin has passed (the caller then waits on its condition).
template <class Ready>
void spin_until(Ready ready) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (ready()) return;
      relax();
    }
    if (std::chrono::steady_clock::now() >= until) return;
  }
}

// True on a thread that is running a task, so nested parallel_for calls run inline instead of
// waiting for workers that are busy with the outer job; also while a RunInline lives.
thread_local bool inside_task = false;

class Pool {
 public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  std::size_t threads() const { return threads_.load(std::memory_order_relaxed); }
  void set_threads(std::size_t n) { threads_.store(n == 0 ? hardware_threads() : n); }

  void run(std::size_t tasks, const std::function<void(std::size_t)>& fn) {
    // One job at a time: concurrent callers (several async workers) queue here.
    std::lock_guard<std::mutex> submit(submit_mutex_);
    const std::size_t helpers = std::min(threads(), tasks) - 1;
    ensure_workers(helpers);
    {
      std::unique_lock<std::mutex> lock(mutex_);
      // A worker that woke for the previous job after it had finished may still be in work(),
      // reading that job's counters without the lock. Resetting them under it would let it claim
      // a task of this job a second time (and pending_ wrap, so the wait below never ends): wait
      // until it has left.
      done_.wait(lock, [&] { return busy_ == 0; });
      fn_ = &fn;
      tasks_ = tasks;
      next_.store(0);
      pending_ = tasks;
      participants_ = helpers;
      error_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    work();
    spin_until([&] { return pending_ == 0 && busy_ == 0; });
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0 && busy_ == 0; });
    fn_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void ensure_workers(std::size_t n) {
    while (workers_.size() < n) {
      const std::size_t index = workers_.size();
      workers_.emplace_back([this, index] { loop(index); });
    }
  }

  void loop(std::size_t index) {
    std::uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      lock.unlock();
      // No call in progress: sleep at once rather than poll for a job that is not coming.
      spin_until([&] { return stopping_ || generation_ != seen || warm_scopes.load() == 0; });
      lock.lock();
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      if (index >= participants_) continue;
      ++busy_;
      lock.unlock();
      work();
      lock.lock();
      --busy_;
      if (pending_ == 0 && busy_ == 0) done_.notify_all();
    }
  }

  // Claims tasks until none are left.
  void work() {
    inside_task = true;
    for (;;) {
      const std::size_t task = next_.fetch_add(1);
      if (task >= tasks_) break;
      try {
        (*fn_)(task);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0 && busy_ == 0) done_.notify_all();
    }
    inside_task = false;
  }

  std::atomic<std::size_t> threads_{hardware_threads()};
  std::vector<std::thread> workers_;
  std::mutex submit_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(std::size_t)>* fn_ = nullptr;
  std::size_t tasks_ = 0;
  std::atomic<std::size_t> next_{0};
  // Written under mutex_; atomic because spin_until reads them without it.
  std::atomic<std::size_t> pending_{0};
  std::size_t participants_ = 0;
  std::atomic<std::size_t> busy_{0};
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> stopping_{false};
  std::exception_ptr error_;
};

Pool& pool() {
  static Pool instance;
  return instance;
}

}  // namespace

std::size_t thread_count() { return pool().threads(); }

void set_thread_count(std::size_t n) { pool().set_threads(n); }

RunInline::RunInline() : previous_(inside_task) { inside_task = true; }

RunInline::~RunInline() { inside_task = previous_; }

KeepPoolWarm::KeepPoolWarm() { warm_scopes.fetch_add(1); }

KeepPoolWarm::~KeepPoolWarm() { warm_scopes.fetch_sub(1); }

void parallel_for(std::size_t tasks, const std::function<void(std::size_t)>& fn) {
  if (tasks == 0) return;
  if (tasks == 1 || inside_task || thread_count() == 1) {
    for (std::size_t t = 0; t < tasks; ++t) fn(t);
    return;
  }
  pool().run(tasks, fn);
}

void parallel_ranges(std::size_t n, std::size_t chunk, const std::function<void(std::size_t, std::size_t)>& fn) {
  parallel_for((n + chunk - 1) / chunk, [&](std::size_t t) { fn(t * chunk, std::min(n, (t + 1) * chunk)); });
}

}  // namespace restnet
