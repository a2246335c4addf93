#!/usr/bin/env bash
# The project's entry point: bootstraps the pinned toolchains, then runs a
# deno task with them on PATH. Usage: bash tools/dev.sh <task> [args...]
#   quickstart   profile examples/quickstart.ts and print the counters
#   test         every test: Zig unit tests, checks, Deno tests
#   build        build zig-out/lib/libmod_alloc.so
#   bench        the benchmark table
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/tools/bootstrap.sh"
export PATH="$root/.tools/bin:$PATH"
export DENO_NO_UPDATE_CHECK=1
cd "$root"
if [ $# -eq 0 ]; then
  echo "usage: bash tools/dev.sh <task> [args...]; tasks:" >&2
  deno task >&2
  exit 2
fi
exec deno task "$@"
