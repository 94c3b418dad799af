#!/usr/bin/env bash
# deps.sh: install the Debian 12 packages that building, running and testing drydock need.
# Idempotent and quiet when everything is present; run as root (or with sudo available).
set -euo pipefail

BUILD="build-essential pkg-config libnghttp2-dev libcurl4-openssl-dev libssl-dev libjansson-dev
  libarchive-dev zlib1g-dev libzstd-dev libsqlite3-dev libpq-dev libseccomp-dev libcrypt-dev libisal-dev libpcre2-dev"
TEST="python3 python3-pytest python3-requests curl openssl skopeo podman umoci debootstrap rsync jq
  uidmap fuse-overlayfs sqlite3 dpkg python3-rpm rpm zstd docker.io containerd buildah man-db groff-base chromium
  ceph-mon ceph-osd radosgw postgresql nginx-light"  # ceph: a real S3 service (radosgw); postgresql and nginx: the multi-node tests
BENCH="docker-registry wrk isal"  # isal: igzip, the inflate floor of a scanned push

want="$BUILD $TEST"
case "${1:-}" in
  --bench) want="$want $BENCH" ;;
  "") ;;
  *) echo "usage: scripts/deps.sh [--bench]" >&2; exit 2 ;;
esac

missing=()
for p in $want; do
  dpkg-query -W -f '${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
done
# node and npm run the browser tests (playwright-core from the npm registry, tests/browser/):
# Debian's nodejs and npm, unless a Node.js with its npm is there already
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
((${#missing[@]} == 0)) && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
for try in 1 2 3; do
  if $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/drydock-deps.log 2>&1; then
    exit 0
  fi
  $sudo apt-get update -q >>/tmp/drydock-deps.log 2>&1 || true
  sleep $((try * 3))
done
cat /tmp/drydock-deps.log >&2
echo "deps: apt-get install failed (log above)" >&2
exit 1
