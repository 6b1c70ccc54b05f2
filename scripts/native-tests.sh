#!/usr/bin/env bash
# Builds and runs the C++ tests of the core (every SIMD path the CPU offers), natively and, with
# --aarch64, cross-compiled for ARMv8-A and run under qemu-aarch64 (the NEON path).
# Needs cmake and g++; --aarch64 also needs g++-aarch64-linux-gnu and qemu-user (skipped with a
# note when they are missing, unless RESTNET_REQUIRE_AARCH64=1).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/aarch64-tools.sh

run_host() {
  cmake -S . -B build-native -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build-native -j "$(nproc)"
  ctest --test-dir build-native --output-on-failure
}

run_aarch64() {
  local missing
  missing="$(aarch64_missing emulate)"
  if [ -n "$missing" ]; then
    aarch64_skip "the aarch64 (NEON) C++ tests under qemu" "$missing"
    return 0
  fi
  cmake -S . -B build-aarch64 -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE=scripts/cross/aarch64-linux-gnu.cmake \
    "-DRESTNET_TEST_EMULATOR=qemu-aarch64;-L;/usr/aarch64-linux-gnu" >/dev/null
  cmake --build build-aarch64 -j "$(nproc)"
  # A Raspberry Pi 4's core, so nothing newer than ARMv8.0-A may slip in.
  QEMU_CPU=cortex-a72 ctest --test-dir build-aarch64 --output-on-failure
}

case "${1:-}" in
  --aarch64) run_aarch64 ;;
  "") run_host ;;
  *) echo "usage: $0 [--aarch64]" >&2; exit 2 ;;
esac
