// A small persistent thread pool shared by the big kernels. Work is split into tasks whose
// boundaries never depend on the thread count, so results are identical for any count.
#pragma once

#include <cstddef>
#include <functional>

namespace restnet {

// Threads used by parallel_for, the calling thread included. Defaults to the hardware threads.
std::size_t thread_count();
// n = 0 restores the default. Takes effect for the next parallel_for.
void set_thread_count(std::size_t n);

// Runs fn(0) ... fn(tasks - 1), each exactly once, on the pool and the calling thread, and
// returns when all have finished. The first exception thrown by a task is rethrown here.
// Calls from inside a task run serially on that thread (no nested fan-out).
void parallel_for(std::size_t tasks, const std::function<void(std::size_t)>& fn);

// Splits [0, n) into consecutive ranges of `chunk` items and runs fn(begin, end) for each on
// the pool. Partial results indexed by begin / chunk combine in a thread-independent order.
void parallel_ranges(std::size_t n, std::size_t chunk, const std::function<void(std::size_t, std::size_t)>& fn);

// While one lives on a thread, parallel_for and parallel_ranges called on that thread run their
// tasks there, in order: for work too small to pay for waking another thread (tens of
// microseconds of arithmetic, such as a stitch applied to one image's rows). Nests.
class RunInline {
 public:
  RunInline();
  ~RunInline();
  RunInline(const RunInline&) = delete;
  RunInline& operator=(const RunInline&) = delete;

 private:
  bool previous_;
};

// While at least one KeepPoolWarm lives (on any thread), a worker that finishes a job polls up
// to 50 us for the next one before it sleeps: one call's jobs follow each other within
// microseconds (a training step runs four of ~0.1 ms), and waking a sleeping thread costs more
// than many of them. With none alive, idle workers sleep at once, so the cores go back to the
// rest of the process (onnxruntime's threads between two stitch calls) and the machine as soon
// as a call returns. The addon keeps one for the length of every call into the core.
class KeepPoolWarm {
 public:
  KeepPoolWarm();
  ~KeepPoolWarm();
  KeepPoolWarm(const KeepPoolWarm&) = delete;
  KeepPoolWarm& operator=(const KeepPoolWarm&) = delete;
};

}  // namespace restnet
