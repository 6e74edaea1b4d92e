#!/usr/bin/env bash
# Drives `comfy-native serve` with @saintno/comfyui-sdk, a ComfyUI client from npm that nobody on this
# project wrote. The package is installed (once) into the build tree.
#   npm_client_test.sh COMFY_NATIVE_BINARY INSTALL_DIR SOURCE_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cli="$(realpath "$1")"; mkdir -p "$2"; dir="$(cd "$2" && pwd)"; src="$(cd "$3" && pwd)"
pkg="@saintno/comfyui-sdk@0.3.1"
if [[ ! -f "$dir/node_modules/@saintno/comfyui-sdk/package.json" ]]; then
  cd "$dir"
  [[ -f package.json ]] || echo '{"name": "comfy-native-npm-client-test", "private": true}' > package.json
  npm install --no-audit --no-fund --loglevel=error "$pkg"
fi
cp "$here/npm_client_test.mjs" "$dir/npm_client_test.mjs"
exec node "$dir/npm_client_test.mjs" "$cli" "$src"
