#!/usr/bin/env bash
# `npm run format`: the whole tree in the project's style, in place: Biome's safe fixes and
# formatter over the TypeScript and scripts, clang-format over native/ (`npm run format:cpp`).
# Run it once over the whole tree in its own commit, then `npm run lint` stays green.
set -euo pipefail
cd "$(dirname "$0")/.."

# Twice: Biome 2.6 settles a few long template literals only on the second pass.
npx biome check --write .
npx biome check --write .
npm run format:cpp
