#!/usr/bin/env bash
# Cross-compiles the core for aarch64-linux-gnu and runs its unit tests and
# a preloaded call-site run under qemu-aarch64 (`zig build test-aarch64`).
# Without qemu or the aarch64 glibc it says NOT RUN and fails only if
# MOD_ALLOC_REQUIRE_AARCH64=1.
set -euo pipefail
sysroot=/usr/aarch64-linux-gnu
if ! command -v qemu-aarch64 >/dev/null || [ ! -e "$sysroot/lib/ld-linux-aarch64.so.1" ]; then
  echo "aarch64 tests: NOT RUN (needs qemu-aarch64 and $sysroot: apt-get install qemu-user libc6-arm64-cross)"
  [ "${MOD_ALLOC_REQUIRE_AARCH64:-0}" = 1 ] && exit 1
  exit 0
fi
if output=$(zig build test-aarch64 -Daarch64-sysroot="$sysroot" --summary all 2>&1); then
  echo "$output" | grep -E "All [0-9]+ tests passed|Build Summary"
  echo "aarch64 tests: passed under qemu-aarch64"
else
  echo "$output"
  echo "aarch64 tests: FAILED"
  exit 1
fi
