#!/usr/bin/env bash
# Sets up, builds and runs every test (the README's test command; .ci/run runs exactly this).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR="${BUILD_DIR:-build}"
ROOT="$PWD"

# libFuzzer targets need clang: a small separate build that compiles only the fuzzed code.
FUZZ_DIR=""
if command -v clang++ >/dev/null 2>&1; then
  FUZZ_DIR="$ROOT/${BUILD_DIR}-fuzz"
  cmake -S . -B "$FUZZ_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
        -DCOMFY_FUZZ_ONLY=ON -DCOMFY_USE_PCH=OFF >/dev/null
  cmake --build "$FUZZ_DIR" -j"$(nproc)"
fi

status=0
if [[ -n "$FUZZ_DIR" ]]; then
  (cd "$FUZZ_DIR" && ctest --output-on-failure --timeout 300) || status=$?
fi
# The main suite last, so its summary is the closing line.
(cd "$BUILD_DIR" && ctest --output-on-failure -j"$(nproc)" --timeout 900) || status=$?
exit $status
