#!/usr/bin/env bash
# Installs everything comfy-native needs on Debian 12 (bookworm) and builds it.
#   scripts/setup.sh            install packages + configure + build (Release-ish, with tests)
#   SKIP_APT=1 scripts/setup.sh skip the apt step (packages already there)
set -euo pipefail
# --help prints the comment above; anything else unexpected is refused.
case "${1:-}" in
  -h|--help) sed -n '2,/^set /{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
  "") ;;
  *) echo "setup.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libopenblas0-pthread          # libtorch + an optimized BLAS (6x faster than reference BLAS)
  nlohmann-json3-dev libcxxopts-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev
  libpng-dev libjpeg-dev zlib1g-dev
  libgif-dev libwebp-dev                     # VHS_VideoCombine: animated GIF / WebP
  ffmpeg webp python3-pil                    # VHS video formats; tests decode our videos (ffprobe, webpmux, PIL)
  libutf8proc-dev                            # Unicode tables for the CLIP tokenizer
  libyaml-dev                                # wildcard .yaml files (Impact wildcards)
  libboost-dev                               # Boost.Beast / Asio: `comfy-native serve`
  python3-websocket nodejs                   # server tests: raw websocket client; node runs an npm ComfyUI client
  python3-torch python3-numpy                # tests: torch.load reads our .pt files; bench baseline
  clang libclang-rt-14-dev                   # libFuzzer targets
)

if [[ "${SKIP_APT:-0}" != 1 ]]; then
  SUDO=""
  if [[ $(id -u) != 0 ]]; then SUDO=sudo; fi
  missing=()
  command -v npm >/dev/null || PACKAGES+=(npm)  # Debian's npm (NodeSource's nodejs bundles its own)
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if (( ${#missing[@]} )); then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

BUILD_DIR="${BUILD_DIR:-build}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"

