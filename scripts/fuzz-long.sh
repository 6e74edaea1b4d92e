#!/usr/bin/env bash
# Runs the libFuzzer targets for longer than CI does (default 10 minutes each), with the same options
# as their ctest entries (leak detection on, -timeout=2 per input) and the same corpora, and prints
# each target's executions, coverage and findings. Findings (crash-*, leak-*, timeout-*, oom-*) land
# in build-fuzz/fuzz-long/; minimise one with `TARGET -minimize_crash=1 FILE` and commit it to the
# target's seed corpus as a regression input.
#   scripts/fuzz-long.sh [--time SECONDS] [--jobs N] [TARGET...]
set -euo pipefail
usage() {
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
  echo "  --time SECONDS  time per target (default 600)"
  echo "  --jobs N        targets run at once (default 1)"
  echo "  TARGET          run only these (default: every target labelled fuzz in build-fuzz)"
}
TIME=600
JOBS=1
TARGETS=()
while (( $# )); do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --time|--jobs)
      [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz-long.sh: $1 needs a positive integer" >&2; exit 2; }
      if [[ "$1" == --time ]]; then TIME=$2; else JOBS=$2; fi
      shift 2 ;;
    -*) echo "fuzz-long.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
cd "$(dirname "$0")/.."
FUZZ_DIR="${FUZZ_DIR:-$PWD/build-fuzz}"
if [[ ! -f "$FUZZ_DIR/CTestTestfile.cmake" ]]; then
  cmake -S . -B "$FUZZ_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
        -DCOMFY_FUZZ_ONLY=ON -DCOMFY_USE_PCH=OFF >/dev/null
fi
[[ "${FUZZ_NO_BUILD:-0}" == 1 ]] || cmake --build "$FUZZ_DIR" -j"$(nproc)" >/dev/null  # FUZZ_NO_BUILD=1: as built
OUT="$FUZZ_DIR/fuzz-long"
mkdir -p "$OUT"

# The ctest command lines of the fuzz targets, with the time replaced: one source of truth.
python3 - "$FUZZ_DIR" "$TIME" "$OUT" "${TARGETS[@]}" > "$OUT/commands.txt" <<'PY'
import json, shlex, subprocess, sys
fuzz_dir, secs, out, wanted = sys.argv[1], sys.argv[2], sys.argv[3], set(sys.argv[4:])
info = json.loads(subprocess.run(["ctest", "--show-only=json-v1", "-L", "^fuzz$"], cwd=fuzz_dir,
                                 capture_output=True, text=True, check=True).stdout)
found = set()
for t in info["tests"]:
    if wanted and t["name"] not in wanted:
        continue
    found.add(t["name"])
    cmd = [a for a in t["command"] if not a.startswith(("-max_total_time=", "-artifact_prefix="))]
    cmd[1:1] = ["-max_total_time=" + secs, "-artifact_prefix=%s/%s-" % (out, t["name"])]
    env = [p["value"] for p in t.get("properties", []) if p["name"] == "ENVIRONMENT"]
    print(t["name"], " ".join(shlex.quote(a) for a in (sum(env, []) + cmd)))
missing = wanted - found
if missing:
    sys.exit("no such fuzz target: " + ", ".join(sorted(missing)))
PY

run_one() {
  local name=$1; shift
  echo "$name: running $TIME s" >&2
  (cd "$FUZZ_DIR" && eval "env $*") >"$OUT/$name.log" 2>&1 && echo "$name: ok" >&2 || echo "$name: FINDING (see $OUT/$name.log)" >&2
}
export -f run_one
export FUZZ_DIR OUT TIME
status=0
xargs -P "$JOBS" -L 1 bash -c 'run_one "$@"' _ < "$OUT/commands.txt" || status=$?

echo
printf '%-22s %14s %8s %8s %10s  %s\n' target executions cov ft corpus findings
while read -r name _; do
  log="$OUT/$name.log"
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  last=$(grep -E '#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' <<<"$last" | awk '{print $2}')
  ft=$(grep -o 'ft: [0-9]*' <<<"$last" | awk '{print $2}')
  corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' <<<"$last" | awk '{print $2}')
  finds=$(ls "$OUT" | grep -c "^$name-\(crash\|leak\|timeout\|oom\|slow-unit\)-" || true)
  printf '%-22s %14s %8s %8s %10s  %s\n' "$name" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$finds"
  (( finds == 0 )) || status=1
done < "$OUT/commands.txt"
exit $status
