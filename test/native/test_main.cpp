// Runs every registered test once per SIMD path this CPU offers, so each kernel is checked
// against the f64 references (under qemu-aarch64 that is the NEON path).
#include <cstdio>
#include <cstdlib>

#include "harness.h"
#include "restnet/dispatch.h"

namespace restnet_test {

std::vector<Case>& registry() {
  static std::vector<Case> cases;
  return cases;
}

static int failures = 0;

void fail(const char* file, int line, const std::string& message) {
  ++failures;
  std::fprintf(stderr, "  FAIL %s:%d: %s\n", file, line, message.c_str());
}

}  // namespace restnet_test

int main() {
  using namespace restnet_test;
  int total_failures = 0;
  for (restnet::Isa isa : restnet::available_isas()) {
    restnet::set_isa(isa);
    std::printf("[%s]\n", restnet::isa_name(isa));
    for (const Case& c : registry()) {
      failures = 0;
      try {
        c.run();
      } catch (const std::exception& e) {
        fail(__FILE__, __LINE__, std::string("uncaught exception: ") + e.what());
      }
      std::printf("  %s %s\n", failures == 0 ? "ok  " : "FAIL", c.name);
      // Flushed per test, so a run that hangs or crashes shows where.
      std::fflush(stdout);
      total_failures += failures;
    }
  }
  std::printf("%s: %d failure(s)\n", total_failures == 0 ? "PASS" : "FAIL", total_failures);
  return total_failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
