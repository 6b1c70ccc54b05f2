// The thread pool under many back-to-back small jobs, the pattern where a worker that wakes late
// for a finished job overlaps the next one: every task must run exactly once per job, and no
// job may wait forever. Run with the pool cold (workers sleep between jobs), kept warm (they
// poll), and warm for every other job only, so that scopes end while workers poll.
#include <atomic>
#include <memory>
#include <vector>

#include "harness.h"
#include "restnet/thread_pool.h"

TEST(thread_pool_runs_each_task_once_across_back_to_back_jobs) {
  enum class Warmth { Cold, Warm, Alternating };
  for (Warmth warmth : {Warmth::Cold, Warmth::Warm, Warmth::Alternating}) {
    for (std::size_t threads : {2, 3, 4}) {
      restnet::set_thread_count(threads);
      std::unique_ptr<restnet::KeepPoolWarm> whole;
      if (warmth == Warmth::Warm) whole = std::make_unique<restnet::KeepPoolWarm>();
      std::vector<std::atomic<int>> runs(8);
      bool exact = true;
      for (int job = 0; job < 4000; ++job) {
        std::unique_ptr<restnet::KeepPoolWarm> this_job;
        if (warmth == Warmth::Alternating && job % 2 == 0) this_job = std::make_unique<restnet::KeepPoolWarm>();
        const std::size_t tasks = 2 + static_cast<std::size_t>(job % 7);
        for (std::size_t t = 0; t < tasks; ++t) runs[t].store(0);
        restnet::parallel_for(tasks, [&](std::size_t t) { runs[t].fetch_add(1); });
        for (std::size_t t = 0; t < tasks; ++t) exact = exact && runs[t].load() == 1;
      }
      CHECK(exact);
    }
  }
  restnet::set_thread_count(0);
}
