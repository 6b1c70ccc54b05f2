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

}  // namespace restnet
