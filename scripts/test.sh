#!/usr/bin/env bash
# `npm test`: everything this machine can run. Lint (Biome, clang-format), the TypeScript build,
# the prebuilds, the vitest suites, the C++ tests on the host, then aarch64 (cross build, NEON
# under qemu). Steps that need
# aarch64 tools the machine lacks are skipped and named in one line at the end, with the Debian
# package that enables each; RESTNET_REQUIRE_AARCH64=1 (set by .ci/run) makes a skip an error.
set -euo pipefail
cd "$(dirname "$0")/.."

RESTNET_SKIP_LOG="$(mktemp)"
export RESTNET_SKIP_LOG
trap 'rm -f "$RESTNET_SKIP_LOG"' EXIT

npm run lint
npm run compile:ts
npm run prebuild
npx vitest run
bash scripts/native-tests.sh
bash scripts/native-tests.sh --aarch64

if [ -s "$RESTNET_SKIP_LOG" ]; then
  echo "npm test skipped: $(paste -sd ';' "$RESTNET_SKIP_LOG" | sed 's/;/; /g')"
else
  echo "npm test ran every step, aarch64 included"
fi
