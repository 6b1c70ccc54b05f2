# Sourced by the build and test scripts: which aarch64 tools this machine lacks, and what to do
# about a step that needs them. A machine without them still runs everything else; CI sets
# RESTNET_REQUIRE_AARCH64=1 so that a missing tool is an error there, never a silent skip.

# Prints the Debian packages missing for: cross (cross-compiling), emulate (running under qemu).
aarch64_missing() {
  local need="$1" missing=()
  command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 || missing+=(g++-aarch64-linux-gnu)
  if [ "$need" = emulate ]; then
    command -v qemu-aarch64 >/dev/null 2>&1 || missing+=(qemu-user)
    [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || missing+=(libc6-arm64-cross)
  fi
  echo "${missing[*]:-}"
}

# aarch64_skip STEP PACKAGES: fails under RESTNET_REQUIRE_AARCH64=1, else records the skip in
# $RESTNET_SKIP_LOG (scripts/test.sh prints them in one line at the end) and on stderr.
aarch64_skip() {
  local step="$1" packages="$2"
  if [ "${RESTNET_REQUIRE_AARCH64:-0}" = 1 ]; then
    echo "error: $step needs $packages (RESTNET_REQUIRE_AARCH64=1 forbids skipping it)" >&2
    exit 1
  fi
  echo "skipped: $step (install $packages)" >&2
  if [ -n "${RESTNET_SKIP_LOG:-}" ]; then echo "$step (apt-get install ${packages})" >>"$RESTNET_SKIP_LOG"; fi
}
