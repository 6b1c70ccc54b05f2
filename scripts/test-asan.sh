#!/usr/bin/env bash
# `npm run test:asan` (through npm, which passes node-gyp its configuration): the addon built with AddressSanitizer and UndefinedBehaviorSanitizer in
# build-asan/ (the normal build/ is left alone), then the vitest suites that call into it, run
# with the ASan runtime preloaded into Node. node-gyp-build loads the sanitized addon through
# RESTNET_PREBUILD, and the fuzz suite's child processes inherit all of it. Any ASan report or
# UBSan finding aborts the process, so it fails its test. Needs g++ with libasan and libubsan.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# node-gyp always builds into ./build: give it a directory of its own that sees the sources.
mkdir -p build-asan
cp binding.gyp build-asan/
ln -sfn "$root/native" build-asan/native
ln -sfn "$root/node_modules" build-asan/node_modules
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g"
(cd build-asan && CFLAGS="$flags" CXXFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined" \
  "$root/node_modules/.bin/node-gyp" rebuild -j max >/dev/null)

# The tests must load this build, not build/Release or a prebuild.
loaded=$(RESTNET_PREBUILD="$root/build-asan" node -e "console.log(require('node-gyp-build').path('.'))")
if [[ "$loaded" != "$root/build-asan/build/Release/restnet.node" ]]; then
  echo "test:asan: node-gyp-build resolves the addon to $loaded, not the sanitized build" >&2
  exit 1
fi

suites=(
  test/cka-errors.test.ts test/cka-async.test.ts test/cka-golden.test.ts test/cka-oracle.test.ts
  test/matrix.test.ts test/system.test.ts test/native-limits.test.ts
  test/stitch-lstsq.test.ts test/stitch-train.test.ts test/adapters.test.ts test/adapters-fit.test.ts
  test/fuzz.test.ts
)
# Node is not built with ASan: its own allocations are not checked and its leaks not reported.
# allocator_may_return_null: a request too large for the machine throws std::bad_alloc (the
# addon's RangeError) as it does without ASan, instead of ASan ending the process.
LD_PRELOAD="$(g++ -print-file-name=libasan.so)" \
ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:abort_on_error=1" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
RESTNET_PREBUILD="$root/build-asan" \
  "$root/node_modules/.bin/vitest" run "${suites[@]}"
