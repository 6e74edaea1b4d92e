#!/usr/bin/env bash
# Downloads the Debian packages a GPU machine lacks (it has PyTorch with CUDA but no apt access) into
# .debs/ (git-ignored), so scripts/gpu-build.sh can unpack them there with dpkg -x.
set -euo pipefail
# --help prints the comment above; anything else unexpected is refused.
case "${1:-}" in
  -h|--help) sed -n '2,/^set /{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
  "") ;;
  *) echo "fetch-debs.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
mkdir -p .debs
cd .debs
apt-get download nlohmann-json3-dev libcxxopts-dev libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 \
  libgtest-dev libgmock-dev googletest libpng-dev libpng16-16 libjpeg-dev libjpeg62-turbo-dev libjpeg62-turbo \
  zlib1g-dev libutf8proc-dev libutf8proc2 libyaml-dev libyaml-0-2 libgif-dev libgif7 libwebp-dev libwebp7 \
  libwebpmux3 libwebpdemux2 2>&1 | tail -1
ls
