#!/usr/bin/env bash
# Installs the pinned toolchains into .tools/ (git-ignored) when missing:
# Deno from the npm package `deno`, Zig from the PyPI package `ziglang`.
# Prints nothing when both are already there. Needs python3, pip and npm.
set -euo pipefail

DENO_VERSION=2.9.6
ZIG_VERSION=0.17.1

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="$root/.tools"
mkdir -p "$tools/bin"

installed_deno_version() {
  [ -x "$tools/npm/node_modules/.bin/deno" ] || return 0
  "$tools/npm/node_modules/.bin/deno" --version 2>/dev/null | head -n 1 | awk '{print $2}'
}

if [ "$(installed_deno_version)" != "$DENO_VERSION" ]; then
  echo "bootstrap: installing deno $DENO_VERSION from npm into .tools/npm" >&2
  command -v npm >/dev/null || { echo "bootstrap: npm is needed to install deno (apt-get install npm)" >&2; exit 1; }
  npm install --silent --no-audit --no-fund --prefix "$tools/npm" "deno@$DENO_VERSION" >&2
fi
# Relative, for the same reason as the zig wrapper below.
ln -sfn "../npm/node_modules/.bin/deno" "$tools/bin/deno"

if [ "$(cat "$tools/py/.version" 2>/dev/null)" != "$ZIG_VERSION" ]; then
  echo "bootstrap: installing zig $ZIG_VERSION from PyPI (ziglang) into .tools/py" >&2
  rm -rf "$tools/py"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --target "$tools/py" "ziglang==$ZIG_VERSION" >&2
  echo "$ZIG_VERSION" >"$tools/py/.version"
fi
# The wrapper finds the package next to itself, so a .tools directory reached
# through a symlink from another clone keeps working when that clone is gone.
cat >"$tools/bin/zig" <<'ZIG'
#!/usr/bin/env bash
tools_dir="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
PYTHONPATH="$tools_dir/py" exec python3 -m ziglang "$@"
ZIG
chmod +x "$tools/bin/zig"
