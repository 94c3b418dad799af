#!/usr/bin/env bash
# campaign.sh [SECONDS] [HARNESS...]: a fuzz campaign. Builds the libFuzzer harnesses (`make
# fuzz`, clang with AddressSanitizer and UndefinedBehaviorSanitizer), runs each for SECONDS of
# its own CPU time (default 600: ten CPU-minutes, one process each), merges the inputs that reach
# new code into fuzz/corpus/<harness>/ (replayed by every `make check`), keeps any crashing
# input in fuzz/corpus/<harness>/ too, and prints per harness the runs, the coverage libFuzzer
# counted and what it found; then the source coverage of the whole saved corpus (`make
# fuzz-coverage`, llvm-cov). SECONDS are CPU seconds of the fuzzer's own, enforced however busy
# the machine is; the wall seconds they took are reported beside them. JOBS (default 1)
# harnesses run at once.
# Not part of the tests: a campaign takes SECONDS x harnesses / JOBS.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
shift || true
make -s -j2 fuzz >/dev/null || exit 1
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
  for f in fuzz/fuzz_*.c; do n=$(basename "$f" .c); harnesses+=("${n#fuzz_}"); done
fi
jobs=${JOBS:-1}
out=$(mktemp -d)

run_one() {  # run_one HARNESS: one table row into $out/HARNESS.row, exit status into .rc
  local h=$1 bin=build-fuzz/fuzz_$1 kept=fuzz/corpus/$1 work log before rc runs cov ft found crashes after
  work=$(mktemp -d)
  log=$(mktemp)
  mkdir -p "$kept"
  before=$(ls "$kept" | wc -l)
  # the kept corpus seeds the run; new inputs go to the work directory. SECONDS are the
  # fuzzer's own CPU seconds: it is stopped (SIGINT: it prints its stats and exits) when it has
  # used them, however busy the machine; 20 times as long in wall time at most.
  "$bin" -max_total_time=$((secs * 20)) -max_len=65536 -timeout=25 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$work/crash-" "$work" "$kept" >"$log" 2>&1 &
  local pid=$! tick cpu=0 t0=$SECONDS
  tick=$(getconf CLK_TCK)
  while kill -0 "$pid" 2>/dev/null; do
    cpu=$(awk -v t="$tick" '{printf "%d", ($14 + $15) / t}' "/proc/$pid/stat" 2>/dev/null || echo "$cpu")
    if [ "$cpu" -ge "$secs" ]; then kill -INT "$pid"; break; fi
    sleep 1
  done
  wait "$pid"
  rc=$?
  local wall=$((SECONDS - t0))
  [ $rc -eq 130 ] || [ $rc -eq 72 ] && rc=0  # stopped by its budget (libFuzzer exits 72 on SIGINT)
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo "?")
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo "?")
  found="nothing"
  crashes=$(ls "$work"/crash-* 2>/dev/null || true)
  if [ -n "$crashes" ] || [ $rc -ne 0 ]; then
    found="**a failure** (exit $rc): kept as $(for c in $crashes; do b=$(basename "$c"); cp "$c" "$kept/$b"; echo -n "$b "; done)"
    tail -40 "$log" >&2
    echo 1 >"$out/$h.rc"
  fi
  # keep only inputs that add coverage to what is kept
  rm -f "$work"/crash-*
  "$bin" -merge=1 -max_len=65536 "$kept" "$work" >/dev/null 2>&1
  after=$(ls "$kept" | wc -l)
  printf '| %s | %s | %s | %s | %s | %s | %s / %s | %s |\n' "$h" "$wall" "$cpu" "$runs" "$cov" "$ft" \
    "$before" "$after" "$found" >"$out/$h.row"
  rm -rf "$work" "$log"
}

for h in "${harnesses[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  run_one "$h" &
done
wait
printf '| harness | wall seconds | CPU seconds | runs | coverage (edges) | features | corpus kept before / after | found |\n'
printf '|---|---|---|---|---|---|---|---|\n'
status=0
for h in "${harnesses[@]}"; do
  cat "$out/$h.row"
  [ -e "$out/$h.rc" ] && status=1
done
rm -rf "$out"
echo
echo "Source coverage of the saved corpora (llvm-cov, library files):"
make -s fuzz-coverage 2>/dev/null | tail -n 1
exit $status
