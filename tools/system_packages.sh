#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks use, when missing
# and when we may (root with apt-get): qemu-user and the aarch64 glibc for
# the cross-architecture tests, valgrind (which ships DHAT's dh_view.html)
# and heaptrack for the comparisons, chromium for the viewer and
# flame-graph tests, binutils, gcc and libc6-dbg for the symbol tests, g++
# for a C++ program.
# Best effort: a package that cannot be installed leaves its tests to say
# so, never to pass silently.
set -uo pipefail

need=()
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
[ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || need+=(libc6-arm64-cross)
command -v valgrind >/dev/null || need+=(valgrind)
command -v heaptrack >/dev/null || need+=(heaptrack)
command -v chromium >/dev/null || need+=(chromium)
command -v sqlite3 >/dev/null || need+=(sqlite3)
# binutils: c++filt (the demangler's oracle), nm, objcopy; libc6-dbg: glibc's
# separate debug files (build-id lookup); gcc builds the stripped fixture.
command -v c++filt >/dev/null && command -v objcopy >/dev/null || need+=(binutils)
command -v gcc >/dev/null || need+=(gcc)
# g++ builds the C++ program of the allocations-before-our-constructor test.
command -v g++ >/dev/null || need+=(g++)
dpkg -s libc6-dbg >/dev/null 2>&1 || need+=(libc6-dbg)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "system packages: missing ${need[*]} (install them with apt-get as root); the tests that need them will report NOT RUN" >&2
  exit 0
fi
echo "system packages: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${need[@]}" >/dev/null 2>&1; }; }; then
  echo "system packages: apt-get could not install ${need[*]}; the tests that need them will report NOT RUN" >&2
fi
exit 0
