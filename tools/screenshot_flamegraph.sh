#!/usr/bin/env bash
# Profiles a real npm program (tests/support/profile_targets/npm_render.ts:
# markdown-it and yaml) and renders two pages of its profile in headless
# Chromium: the flame graph (the "your JS only" view, zoomed to the stacks
# with JS of yours) into docs/flamegraph.png (or the path given), and the
# top of the HTML report (summary, live bytes over time with the sites that
# held them stacked beneath) into docs/report.png (or the second path given).
# Usage: bash tools/dev.sh build && bash tools/screenshot_flamegraph.sh [flamegraph.png [report.png]]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/docs/flamegraph.png}
report_out=${2:-$root/docs/report.png}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PATH="$root/.tools/bin:$PATH"
# From the root, so the report's heading names the script by its path in the repository.
(cd "$root" && deno run -A cli.ts -A -o "$work/out.json" --flamegraph "$work/fg.html" --html "$work/report.html" \
  tests/support/profile_targets/npm_render.ts >/dev/null)
mkdir -p "$(dirname "$out")" "$(dirname "$report_out")"
shoot() { # <png> <window size> <url>
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$work/profile" --hide-scrollbars \
    --virtual-time-budget=5000 --window-size="$2" --screenshot="$1" "$3"
}
shoot "$out" 1240,860 "file://$work/fg.html#view=js&zoom=code"
shoot "$report_out" 1200,820 "file://$work/report.html"
echo "flame graph screenshot: $out; HTML report screenshot: $report_out"
