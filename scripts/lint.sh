#!/usr/bin/env bash
# `npm run lint`: Biome (lint rules and the 120-column format, biome.json) over the TypeScript and
# scripts, that docs/api (the API reference TypeDoc writes from the doc comments, `npm run docs`)
# is current, the type check of the tests (tsconfig.test.json: vitest runs them untyped, so an import
# of a name that no longer exists would otherwise only show as 'is not a function'), that
# bench/RESULTS.md is the assembly of bench/results/*.md (bench/assemble.mjs), then clang-format (.clang-format) over native/. Without clang-format the C++ check is
# skipped and named (in $RESTNET_SKIP_LOG under `npm test`), except under RESTNET_REQUIRE_CLANG_FORMAT=1 (.ci/run), where
# .ci/run installs it and a skip is an error.
set -euo pipefail
cd "$(dirname "$0")/.."

npx biome check --error-on-warnings .
docs=$(mktemp -d)
trap 'rm -rf "$docs"' EXIT
npx typedoc --logLevel Warn --out "$docs"
if ! diff -r -q "$docs" docs/api >/dev/null; then
  echo "error: docs/api is out of date with the doc comments: run npm run docs and commit it" >&2
  exit 1
fi
npx tsc -p tsconfig.test.json
node bench/assemble.mjs --check

mapfile -t cpp < <(git ls-files 'native/*.cpp' 'native/*.h')
if command -v clang-format >/dev/null; then
  clang-format --dry-run --Werror "${cpp[@]}"
elif [ "${RESTNET_REQUIRE_CLANG_FORMAT:-0}" = 1 ]; then
  echo "error: the C++ format check needs clang-format (apt-get install clang-format)" >&2
  exit 1
else
  echo "skipped: the C++ format check (install clang-format)" >&2
  if [ -n "${RESTNET_SKIP_LOG:-}" ]; then echo "the C++ format check (apt-get install clang-format)" >>"$RESTNET_SKIP_LOG"; fi
fi
