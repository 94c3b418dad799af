#!/usr/bin/env bash
# run.sh DRYDOCK_BIN [bench.py options]: the side-by-side benchmark of drydock and Debian's
# docker-registry (CNCF Distribution 2.8) on this machine, same images, same clients, one run
# (bench/bench.py), the same two under load and at scale, over HTTP and HTTPS (bench/stamina.py;
# options in DRYDOCK_STAMINA_ARGS); what authentication costs per request (bench/auth.py); then
# the inventory benchmark (drydock sbom against gzip -dc), then the vulnerability database,
# scan-on-push and query language (bench/query.py) benchmarks. When DRYDOCK_FEEDS_DIR names a directory of feed files, drydock scans
# every push in the registry comparisons (a database of every feed in place); without it they
# run with scanning off and say so, and the database benchmarks are skipped. Writes
# bench/RESULTS.md, the key numbers first (bench/summary.py), and keeps what it holds below the
# marker line of hand-written sections. Not part of the tests.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/../scripts/deps.sh" --bench
images=$(bash "$here/../tests/images/cached.sh")
bin=${1:?usage: run.sh DRYDOCK_BIN [bench.py options]}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db=()
if [ -n "${DRYDOCK_FEEDS_DIR:-}" ]; then  # a database of every feed: pushes are measured scanned
  "$bin" db import --db "$tmp/all.ddb" "$DRYDOCK_FEEDS_DIR" >/dev/null
  db=(--db "$tmp/all.ddb")
fi
/usr/bin/python3 "$here/bench.py" --drydock "$bin" --floor-rss "$(dirname "$bin")/floor-rss" \
  --images "$images/oci" --out "$tmp/registry.md" "${db[@]}" "${@:2}"
# shellcheck disable=SC2086 # word splitting of the options is meant
/usr/bin/python3 "$here/stamina.py" --drydock "$bin" --images "$images/oci" --out "$tmp/stamina.md" \
  "${db[@]}" ${DRYDOCK_STAMINA_ARGS:-}
/usr/bin/python3 "$here/auth.py" --drydock "$bin" --out "$tmp/auth.md"
/usr/bin/python3 "$here/inventory.py" --drydock "$bin" --images "$images/oci" --out "$tmp/inventory.md"
touch "$tmp/vulndb.md"
touch "$tmp/scan.md"
touch "$tmp/query.md"
if [ -n "${DRYDOCK_FEEDS_DIR:-}" ]; then
  /usr/bin/python3 "$here/vulndb.py" --drydock "$bin" --bench-vulndb "$(dirname "$bin")/bench-vulndb" \
    --feeds "$DRYDOCK_FEEDS_DIR" --images "$images/oci" --out "$tmp/vulndb.md"
  # scan on push: a second database of every feed (another generation) to swap in, and one of other data
  "$bin" db import --db "$tmp/again.ddb" "$DRYDOCK_FEEDS_DIR" >/dev/null
  "$bin" db import --db "$tmp/other.ddb" "$DRYDOCK_FEEDS_DIR/debian-osv" >/dev/null
  /usr/bin/python3 "$here/scan.py" --drydock "$bin" --db "$tmp/all.ddb" --same-db "$tmp/again.ddb" \
    --small-db "$tmp/other.ddb" \
    --images "$images/oci" --out "$tmp/scan.md"
  /usr/bin/python3 "$here/query.py" --drydock "$bin" --db "$tmp/all.ddb" --images "$images/oci" --runs 3 \
    --out "$tmp/query.md"
fi
sections=("$tmp/registry.md" "$tmp/stamina.md" "$tmp/auth.md" "$tmp/inventory.md" "$tmp/vulndb.md" "$tmp/scan.md"
  "$tmp/query.md")
/usr/bin/python3 "$here/summary.py" "${sections[@]}" > "$tmp/summary.md"
# what RESULTS.md holds from the marker line on was written by hand (other benchmarks, campaigns): kept
marker='<!-- Sections below this line are written by hand; bench/run.sh keeps them. -->'
touch "$tmp/kept.md"
if [ -f "$here/RESULTS.md" ]; then
  awk -v m="$marker" 'kept || $0 == m { kept = 1; print }' "$here/RESULTS.md" > "$tmp/kept.md"
fi
cat "$tmp/summary.md" "${sections[@]}" "$tmp/kept.md" > "$here/RESULTS.md"
