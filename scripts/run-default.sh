#!/usr/bin/env bash
# The README's first command: set up and build, then run the example workflows on the embedded
# default model (builtin:shapes, no download) and write PNGs plus a progress contact sheet to ./output.
#   scripts/run-default.sh            full setup + build + runs
#   SKIP_SETUP=1 scripts/run-default.sh   reuse an existing build
set -euo pipefail
# --help prints the comment above; anything else unexpected is refused.
case "${1:-}" in
  -h|--help) sed -n '2,/^set /{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
  "") ;;
  *) echo "run-default.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
ROOT="$PWD"
BUILD_DIR="${BUILD_DIR:-build}"
if [[ "${SKIP_SETUP:-0}" != 1 ]]; then
  scripts/setup.sh
fi
BIN="$ROOT/$BUILD_DIR/comfy-native"
OUT="$ROOT/output"
PROGRESS="$OUT/progress-latents"
mkdir -p "$OUT" "$PROGRESS"

run() {
  local wf="$1"; shift
  echo "== $wf"
  local t0=$SECONDS
  "$BIN" run "$wf" --output-dir "$OUT" --input-dir "$ROOT/workflows/input" "$@"
  echo "   ($((SECONDS - t0)) s)"
}

before=$(mktemp)
find "$OUT" -type f | sort > "$before"

run workflows/shapes/txt2img.api.json
run workflows/shapes/progress.api.json --dump-progress "$PROGRESS"

# Contact sheet of the progress run: rows = batch items, columns = steps, decoded by the model's VAE.
latest=$(ls -t "$PROGRESS"/*.pt 2>/dev/null | head -n 1 || true)
if [[ -n "$latest" ]]; then
  sheet="$OUT/progress-sheet-$(date +%Y%m%d-%H%M%S).png"
  "$BIN" preview "$latest" --vae builtin:shapes -o "$sheet"
fi

echo
echo "Files written:"
find "$OUT" -type f | sort | comm -13 "$before" - | sed "s|^$ROOT/||; s|^|  |"
rm -f "$before"
