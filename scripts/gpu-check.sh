#!/usr/bin/env bash
# The checks to run on a lent GPU machine (see scripts/gpu-build.sh): build against Python torch's
# libtorch, run the CPU suites on that build, the golden sampling/network cases on CUDA, the live
# CUDA-randn comparison, an SD1.5-size fp16 txt2img timing with peak GPU memory, and the SDXL UNet at
# 1024x1024 in fp16 (it/s, peak memory allocated) next to ComfyUI's UNetModel in the same run.
# Expects .debs/ (scripts/fetch-debs.sh), a copy of ../shared/golden in .golden/ and of
# ../shared/baseline in .baseline/ (GPU_CHECK_SDXL=0 skips the SDXL step).
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
if [[ "${GPU_CHECK_SDXL:-1}" == 1 ]]; then
  # Latent 128 = 1024x1024 pixels, batch 2 (cond + uncond, one CFG step); ours then ComfyUI's.
  echo "== SDXL 1024x1024 UNet step, fp16, CUDA: comfy-native then ComfyUI (.baseline/comfy_unet.py --device cuda)"
  timeout 240 "$B/bench/bench_unet" --family sdxl --size 128 --batch 2 --steps 5 --warmup 2 --device cuda --dtype f16 \
    --python python3 --baseline "$PWD/.baseline" > "$OUT/sdxl_step.log" 2>&1
  grep -E "UNet step|peak GPU" "$OUT/sdxl_step.log" || tail -20 "$OUT/sdxl_step.log"
  python3 - "$OUT/sdxl_step.log" <<'PY'
import json, sys
reports = [l for l in open(sys.argv[1]) if l.startswith("{")]  # bench_unet's report is its last JSON line
if not reports:
    sys.exit("no SDXL bench report (see sdxl_step.log)")
r = json.loads(reports[-1])
ours = r["comfy_median_ms"]
line = "SDXL 1024^2 fp16 batch 2: comfy-native %.2f it/s" % (1e3 / ours)
if "comfyui" in r:
    line += ", ComfyUI %.2f it/s (time ratio %.3f)" % (1e3 / r["comfyui"]["median_ms"], r["ratio_comfy_native_over_comfyui"])
print(line)
PY
fi
