#!/usr/bin/env bash
# Profiles examples/profile_demo.ts, renders its flame graph in headless
# Chromium and saves a screenshot: docs/flamegraph.png (or the path given).
# Usage: bash tools/dev.sh build && bash tools/screenshot_flamegraph.sh [out.png]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/docs/flamegraph.png}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PATH="$root/.tools/bin:$PATH"
deno run -A "$root/cli.ts" -o "$work/out.json" --flamegraph "$work/fg.html" "$root/examples/profile_demo.ts" >/dev/null
mkdir -p "$(dirname "$out")"
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$work/profile" --hide-scrollbars \
  --window-size=1240,620 --screenshot="$out" "file://$work/fg.html" 2>/dev/null
echo "flame graph screenshot: $out"
