// A minimal test harness: TEST registers a function, CHECK records a failure and continues.
#pragma once

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace restnet_test {

struct Case {
  const char* name;
  std::function<void()> run;
};
std::vector<Case>& registry();
void fail(const char* file, int line, const std::string& message);

struct Register {
  Register(const char* name, std::function<void()> fn) { registry().push_back({name, std::move(fn)}); }
};

// |actual - expected| <= tol * max(1, |expected|); NaN only matches NaN.
inline bool close(double actual, double expected, double tol) {
  if (std::isnan(expected)) return std::isnan(actual);
  return std::fabs(actual - expected) <= tol * std::fmax(1.0, std::fabs(expected));
}

}  // namespace restnet_test

#define TEST(name)                                                              \
  static void name();                                                           \
  static restnet_test::Register register_##name(#name, name);                   \
  static void name()

#define CHECK(cond)                                                             \
  do {                                                                          \
    if (!(cond)) restnet_test::fail(__FILE__, __LINE__, "CHECK(" #cond ")");    \
  } while (0)

#define CHECK_CLOSE(actual, expected, tol)                                                   \
  do {                                                                                       \
    const double a_ = (actual), e_ = (expected);                                             \
    if (!restnet_test::close(a_, e_, (tol))) {                                               \
      char buf_[256];                                                                        \
      std::snprintf(buf_, sizeof buf_, "%s = %.17g, expected %.17g (tol %g)", #actual, a_, e_, \
                    static_cast<double>(tol));                                               \
      restnet_test::fail(__FILE__, __LINE__, buf_);                                          \
    }                                                                                        \
  } while (0)

#define CHECK_THROWS(expr, type)                                                \
  do {                                                                          \
    bool thrown_ = false;                                                       \
    try {                                                                       \
      (void)(expr);                                                             \
    } catch (const type&) {                                                     \
      thrown_ = true;                                                           \
    }                                                                           \
    if (!thrown_) restnet_test::fail(__FILE__, __LINE__, #expr " did not throw " #type); \
  } while (0)
