#!/usr/bin/env bash
# Sets up, builds and runs every test (the README's test command; .ci/run runs exactly this).
set -euo pipefail
case "${1:-}" in
  "") ;;
  -h|--help)
    echo "usage: scripts/test.sh"
    echo "  Installs the packages (scripts/setup.sh), builds, and runs every test: the libFuzzer targets and"
    echo "  the ThreadSanitizer test in a clang build (build-fuzz), then the unit, golden and e2e suites."
    echo "  BUILD_DIR=DIR selects the build folder (default: build)."
    exit 0 ;;
  *) echo "test.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
esac
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
  # Each fuzzer runs COMFY_FUZZ_SECONDS (60 s) with leak detection and -timeout=2; two at a time.
  (cd "$FUZZ_DIR" && ctest --output-on-failure -j2 --timeout 900) || status=$?
fi
# The main suite last, so its summary is the closing line.
(cd "$BUILD_DIR" && ctest --output-on-failure -j"$(nproc)" --timeout 900) || status=$?
exit $status
