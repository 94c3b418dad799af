#!/usr/bin/env bash
# run.sh DRYDOCK_BIN: the side-by-side benchmark of drydock and Debian's docker-registry
# (CNCF Distribution 2.8) on this machine, same images, same clients, one run. Writes
# bench/RESULTS.md. Not part of the tests.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/../scripts/deps.sh" --bench
images=$(bash "$here/../tests/images/cached.sh")
exec /usr/bin/python3 "$here/bench.py" --drydock "${1:?usage: run.sh DRYDOCK_BIN}" --images "$images/oci" \
  --out "$here/RESULTS.md" "${@:2}"
