// Errors the core reports. The addon maps them to JavaScript TypeError, RangeError and
// AbortError, so every message names the argument, what was expected and what was given.
#pragma once

#include <stdexcept>
#include <string>

namespace restnet {

// A value of the wrong kind: unknown option name or value, missing data.
class TypeError : public std::invalid_argument {
 public:
  explicit TypeError(const std::string& what) : std::invalid_argument(what) {}
};

// A value of the right kind outside its domain: shape mismatch, non-finite data, n too small.
class RangeError : public std::out_of_range {
 public:
  explicit RangeError(const std::string& what) : std::out_of_range(what) {}
};

// Long work stopped because its CancelToken was set.
class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("The operation was aborted") {}
};

}  // namespace restnet
