#!/usr/bin/env bash
# run.sh: every test of drydock. First, once, the include arrows between the folders of src/
# (scripts/check-includes.sh and its tests); then, once per build directory named in RUNS
# (default: build), e.g. the plain build and the one with AddressSanitizer and
# UndefinedBehaviorSanitizer, in order: unit tests, fuzz corpus replay, black-box HTTP tests,
# the vulnerability database and scans, real clients (skopeo, podman, buildah, docker, ctr),
# S3 storage against a real radosgw, three nodes on one PostgreSQL and one bucket behind nginx,
# `make install` and README.md's tour run as written, the kill -9 crash test; for the first
# build, the HTTP and client suites once more with every server's blobs in S3 and its metadata
# in PostgreSQL (beside the others). Ends with one line "N passed, N failed".
# The builds' suites run side by side. Called by `make check`.
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

# one build's whole suite: its output into $out/BUILD.log, "PASSED FAILED" into $out/BUILD.count
suite() {
  local BUILD=$1 log=$out/$1.pytest
  passed=0 failed=0
  export DRYDOCK_BIN=$PWD/$BUILD/drydock
  {
    echo "==== $BUILD"
    echo "== unit tests"
    if "$BUILD/unit-tests" >"$log" 2>&1; then :; else [ -n "$(grep -E 'passed' "$log")" ] || failed=$((failed + 1)); fi
    cat "$log"; count "$log"

    echo "== fuzz corpus replay"
    if "$BUILD/fuzz-replay" fuzz/corpus; then passed=$((passed + 1)); else failed=$((failed + 1)); fi

    echo "== black-box tests (HTTP, version comparators vs the real tools, real clients, install, the README's tour, crash)"
    "$PY" -m pytest -q -p no:cacheprovider tests/http tests/version tests/inventory tests/vulndb tests/clients tests/auth tests/store \
      tests/install tests/tour tests/crash >"$log" 2>&1
    cat "$log"
    count "$log"
    grep -qE '[0-9]+ (passed|failed)' "$log" || failed=$((failed + 1))  # pytest itself broke

    echo "==== $BUILD: $passed passed, $failed failed"
  } >"$out/$BUILD.log" 2>&1
  echo "$passed $failed" >"$out/$BUILD.count"
}

# the first build's suites again on PostgreSQL and S3, beside the others (its own log and count)
suite_pg() {
  local BUILD=$1 log=$out/$1.pg.pytest
  passed=0 failed=0
  export DRYDOCK_BIN=$PWD/$BUILD/drydock
  {
    echo "==== $BUILD on PostgreSQL and S3"
    echo "== the metadata store's unit tests again on PostgreSQL"
    "$PY" tests/store/with_s3.py --pg "$BUILD/unit-tests" >"$log" 2>&1
    cat "$log"
    count "$log"
    grep -qE '[0-9]+ (passed|failed)' "$log" || failed=$((failed + 1))
    echo "== the HTTP and client suites again, every server keeping its blobs in S3 (a real radosgw) and its metadata in PostgreSQL"
    "$PY" tests/store/with_s3.py --pg "$PY" -m pytest -q -p no:cacheprovider tests/http tests/clients >"$log" 2>&1
    cat "$log"
    count "$log"
    grep -qE '[0-9]+ (passed|failed)' "$log" || failed=$((failed + 1))
    echo "==== $BUILD on PostgreSQL and S3: $passed passed, $failed failed"
  } >"$out/$BUILD.pg.log" 2>&1
  echo "$passed $failed" >"$out/$BUILD.pg.count"
}

# The builds' suites run at the same time: they spend most of their time waiting on clients,
# daemons and the network stack (a whole run uses about a third of two cores), every test
# starts its own servers on ports of its own, and the shared image cache is built under a lock.
# Their outputs follow one after the other.
out=$(mktemp -d)

# Once per run, not per build: the include arrows between the folders of src/ (one test) and
# the checker's own tests.
echo "==== include arrows (scripts/check-includes.sh)"
if scripts/check-includes.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
"$PY" -m pytest -q -p no:cacheprovider tests/scripts >"$out/scripts.log" 2>&1
cat "$out/scripts.log"
count "$out/scripts.log"
grep -qE '[0-9]+ (passed|failed)' "$out/scripts.log" || failed=$((failed + 1))  # pytest itself broke

bash tests/images/cached.sh build.sh >/dev/null && bash tests/images/cached.sh build-rpm.sh >/dev/null
first=${RUNS%% *}
for BUILD in $RUNS; do
  suite "$BUILD" &
done
suite_pg "$first" &
wait
for part in $first $first.pg ${RUNS#"$first"}; do
  cat "$out/$part.log"
  read -r p f <"$out/$part.count" || { p=0; f=1; }
  passed=$((passed + p)) failed=$((failed + f))
done
rm -rf "$out"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
