#!/usr/bin/env bash
# Prebuilt addons for the package: linux-x64 natively and linux-arm64 cross-compiled with
# Debian's g++-aarch64-linux-gnu. Both at the baseline ISA (binding.gyp), stripped, N-API, and
# tagged with their libc; node-gyp-build picks the right one at load time.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/aarch64-tools.sh

npx prebuildify --napi --strip --tag-libc

missing="$(aarch64_missing cross)"
if [ -z "$missing" ]; then
  CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar \
  PREBUILD_STRIP_BIN=aarch64-linux-gnu-strip \
    npx prebuildify --napi --strip --tag-libc --arch arm64
else
  aarch64_skip "the linux-arm64 prebuild" "$missing"
fi

# prebuildify leaves build/ holding the last (arm64) binary; rebuild the host addon so that
# development and tests keep loading a native one.
npx node-gyp rebuild -j max >/dev/null
