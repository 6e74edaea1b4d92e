#!/usr/bin/env bash
# Builds comfy-native against the libtorch inside the machine's Python torch (CUDA), with the other
# dependencies unpacked from the .deb files in .debs/ (scripts/fetch-debs.sh) into a private prefix.
#   scripts/gpu-build.sh [BUILD_DIR]        (default build-cuda)
set -euo pipefail
# --help prints the comment above; anything else unexpected is refused.
case "${1:-}" in
  -h|--help) sed -n '2,/^set /{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
  -*) echo "gpu-build.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
BUILD_DIR="${1:-build-cuda}"
PREFIX="${COMFY_DEPS_PREFIX:-/tmp/comfy-deps}"
mkdir -p "$PREFIX"
for f in .debs/*.deb; do dpkg -x "$f" "$PREFIX"; done
mkdir -p "$PREFIX/fmt-include" && rm -rf "$PREFIX/fmt-include/fmt" && cp -r "$PREFIX/usr/include/fmt" "$PREFIX/fmt-include/"
PY="${PYTHON:-python3}"
TORCH_CMAKE=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")'
LIBDIR="$PREFIX/usr/lib/x86_64-linux-gnu"
# Debian's CMake package files hard-code /usr paths; point them at the prefix.
grep -rl '/usr/' "$LIBDIR/cmake" "$PREFIX/usr/share/cmake" 2>/dev/null | while read -r f; do
  sed -i "s#\"/usr/#\"$PREFIX/usr/#g; s#{_IMPORT_PREFIX}#{_IMPORT_PREFIX}#g" "$f"; done || true
export LD_LIBRARY_PATH="$LIBDIR:${LD_LIBRARY_PATH:-}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$TORCH_CMAKE;$PREFIX/usr;$LIBDIR/cmake" \
  -DCMAKE_INCLUDE_PATH="$PREFIX/usr/include" -DCMAKE_LIBRARY_PATH="$LIBDIR" \
  -DCMAKE_BUILD_RPATH="$LIBDIR" -DCOMFY_BUILD_FUZZ=OFF \
  -DCMAKE_CXX_FLAGS="-I$PREFIX/fmt-include"
# PyTorch 2.x ships its own fmt 12 headers in torch/include, which Debian's spdlog 1.10 does not compile
# against: a private copy of Debian's fmt 9 headers goes first (-I is searched before every -isystem, but
# GCC ignores an -I that is also an -isystem, hence the separate folder).
cmake --build "$BUILD_DIR" -j"$(nproc)"
echo "LD_LIBRARY_PATH=$LIBDIR"
