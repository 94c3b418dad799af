#!/usr/bin/env bash
# run.sh: every test of drydock, in order: unit tests, fuzz corpus replay, black-box HTTP
# tests, the vulnerability database and scans, real clients (skopeo, podman, buildah, docker,
# ctr), the kill -9 crash test; once per
# build directory named in RUNS (default: build), e.g. the plain build and the one with
# AddressSanitizer and UndefinedBehaviorSanitizer. Ends with one line "N passed, N failed".
# Called by `make check`.
set -u
cd "$(dirname "$0")/.."
RUNS=${RUNS:-${BUILD:-build}}
PY=/usr/bin/python3   # Debian's interpreter: it has python3-pytest and python3-requests
passed=0 failed=0

count() {  # count LOGFILE: add "N passed" / "N failed" / "N error(s)" of its summary line
  local line p f e
  line=$(grep -E '[0-9]+ (passed|failed)' "$1" | tail -n 1)
  p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+' || true)
  f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+' || true)
  e=$(grep -oE '[0-9]+ errors?' <<<"$line" | grep -oE '[0-9]+' || true)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0} + ${e:-0}))
}

log=$(mktemp)
for BUILD in $RUNS; do
  export DRYDOCK_BIN=$PWD/$BUILD/drydock
  before_p=$passed before_f=$failed
  echo "==== $BUILD"
  echo "== unit tests"
  if "$BUILD/unit-tests" >"$log" 2>&1; then :; else [ -n "$(grep -E 'passed' "$log")" ] || failed=$((failed + 1)); fi
  cat "$log"; count "$log"

  echo "== fuzz corpus replay"
  if "$BUILD/fuzz-replay" fuzz/corpus; then passed=$((passed + 1)); else failed=$((failed + 1)); fi

  echo "== black-box tests (HTTP, version comparators vs the real tools, real clients, crash)"
  "$PY" -m pytest -q -p no:cacheprovider tests/http tests/version tests/inventory tests/vulndb tests/clients tests/auth tests/crash 2>&1 | tee "$log"
  count "$log"
  grep -qE '[0-9]+ (passed|failed)' "$log" || failed=$((failed + 1))  # pytest itself broke
  echo "==== $BUILD: $((passed - before_p)) passed, $((failed - before_f)) failed"
done
rm -f "$log"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
