#!/usr/bin/env bash
# Profiles a real npm program (tests/support/profile_targets/npm_render.ts:
# markdown-it and yaml), renders its flame graph in headless Chromium (the
# "your JS only" view, zoomed to the stacks with JS of yours) and saves a
# screenshot: docs/flamegraph.png (or the path given).
# Usage: bash tools/dev.sh build && bash tools/screenshot_flamegraph.sh [out.png]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/docs/flamegraph.png}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PATH="$root/.tools/bin:$PATH"
deno run -A "$root/cli.ts" -A -o "$work/out.json" --flamegraph "$work/fg.html" \
  "$root/tests/support/profile_targets/npm_render.ts" >/dev/null
mkdir -p "$(dirname "$out")"
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$work/profile" --hide-scrollbars \
  --virtual-time-budget=5000 --window-size=1240,860 --screenshot="$out" "file://$work/fg.html#view=js&zoom=code"
echo "flame graph screenshot: $out"
