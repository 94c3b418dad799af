#!/usr/bin/env bash
# run.sh: install what is missing, build, make sure a vulnerability database is in place, and
# start the registry on 127.0.0.1:5000 with its data under ./drydock-data.
#
# The database (DATA/vulndb.ddb) is refreshed when it is older than 12 hours: `drydock db
# update` downloads the feeds; when nothing can be downloaded it imports the directory of feed
# files named by DRYDOCK_FEEDS_DIR instead. It says which it did and how old the data is. With
# neither (offline, no feed files) the registry still starts and says so: pushed images wait,
# queued, until a database is put in place, which the running server picks up.
#   DRYDOCK_DATA         data directory (default ./drydock-data)
#   DRYDOCK_LISTEN       listen address (default 127.0.0.1:5000)
#   DRYDOCK_FEEDS_DIR    local feed files for offline machines
#   DRYDOCK_FEEDS_MIRROR download the feeds from this mirror instead of their live URLs
#   --prepare-only       stop before starting the server
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
make -j2 >/dev/null
data=${DRYDOCK_DATA:-./drydock-data}
db="$data/vulndb.ddb"
mkdir -p "$data"
if [ -f "$db" ] && [ -n "$(find "$db" -mmin -720)" ] && build/drydock db info --db "$db" >/dev/null 2>&1; then
  echo "run: vulnerability database is fresh (updated in the last 12 hours)" >&2
else
  args=(db update --db "$db")
  [ -n "${DRYDOCK_FEEDS_MIRROR:-}" ] && args+=(--mirror "$DRYDOCK_FEEDS_MIRROR")
  [ -n "${DRYDOCK_FEEDS_DIR:-}" ] && args+=(--fallback-dir "$DRYDOCK_FEEDS_DIR")
  if ! build/drydock "${args[@]}" >/dev/null; then
    if [ -f "$db" ]; then
      echo "run: the update failed; keeping the previous database" >&2
    else
      echo "run: no vulnerability database: the feeds could not be downloaded (offline?) and" \
        "DRYDOCK_FEEDS_DIR names no feed files. The registry starts anyway; pushed images stay" \
        "queued until 'build/drydock db import --db $db DIR' (or db update) puts one in place." >&2
    fi
  fi
fi
[ -f "$db" ] && build/drydock db info --db "$db" | sed -n 's/^data up to: */run: vulnerability data up to /p' >&2
[ "${1:-}" = "--prepare-only" ] && exit 0
exec build/drydock serve --listen "${DRYDOCK_LISTEN:-127.0.0.1:5000}" --data "$data"
