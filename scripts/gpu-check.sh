#!/usr/bin/env bash
# The checks to run on a lent GPU machine (see scripts/gpu-build.sh): build against Python torch's
# libtorch, run the CPU suites on that build, the golden sampling/network cases on CUDA, the live
# CUDA-randn comparison, and an SD1.5-size fp16 txt2img timing with peak GPU memory.
# Expects .debs/ (scripts/fetch-debs.sh) and a copy of ../shared/golden in .golden/.
# Logs go to $OUT (or ./gpu-check-out).
set -uo pipefail
# --help prints the comment above; anything else unexpected is refused.
case "${1:-}" in
  -h|--help) sed -n '2,/^set /{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
  "") ;;
  *) echo "gpu-check.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-check-out}"; mkdir -p "$OUT"
B=build-cuda
scripts/gpu-build.sh "$B" > "$OUT/build.log" 2>&1 || { tail -60 "$OUT/build.log"; exit 1; }
export LD_LIBRARY_PATH=/tmp/comfy-deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
export COMFY_NATIVE_GOLDEN_DIR="$PWD/.golden"
summ() { grep -E "^\[  (PASSED|FAILED)  \]|golden .* summary|tests? ran" "$1" | head -40; }
echo "== unit (CPU + live CUDA checks)"; timeout 150 "$B/tests/test_unit" --gtest_filter="${GPU_CHECK_UNIT_FILTER:-*}" > "$OUT/unit.log" 2>&1; summ "$OUT/unit.log"
[[ "${GPU_CHECK_CPU_GOLDEN:-0}" == 1 ]] && echo "== golden (CPU)" && timeout 150 "$B/tests/test_golden" > "$OUT/golden_cpu.log" 2>&1 && summ "$OUT/golden_cpu.log"
echo "== golden (CUDA)"; COMFY_TEST_DEVICE=cuda timeout 70 "$B/tests/test_golden" \
  --gtest_filter='*SamplingNodesGolden*:*NetsGolden*:*PromptWeighting*' > "$OUT/golden_cuda.log" 2>&1; summ "$OUT/golden_cuda.log"
echo "== SD1.5-size txt2img, fp16, CUDA"
M=/tmp/models/checkpoints; mkdir -p "$M"
timeout 70 "$B/comfy-native" make-checkpoint "$M/v1-5-pruned-emaonly.safetensors" > "$OUT/mkckpt.log" 2>&1 || tail -5 "$OUT/mkckpt.log"
(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$OUT/mem.log" 2>/dev/null &)
t0=$(date +%s.%N)
timeout 90 "$B/comfy-native" run workflows/sd15/txt2img.api.json --models-dir /tmp/models --output-dir /tmp/o \
  --device cuda --dtype fp16 --json 2> "$OUT/run.err" \
  | python3 -u -c 'import sys,time; [print("%.4f %s" % (time.time(), l), end="") for l in sys.stdin]' > "$OUT/run.ndjson"
t1=$(date +%s.%N); pkill -f "nvidia-smi --query-gpu" || true
echo "wall s: $(echo "$t1 - $t0" | bc)"; tail -3 "$OUT/run.err"
python3 - "$OUT/run.ndjson" <<'PY'
import json, sys
ts = [float(l.split(" ", 1)[0]) for l in open(sys.argv[1]) if '"progress"' in l]
if len(ts) > 2: print("sampler steps: %d, it/s (step 2..n): %.2f" % (len(ts), (len(ts) - 2) / (ts[-1] - ts[1])))
PY
echo "peak MiB: $(sort -n "$OUT/mem.log" | tail -1)"
