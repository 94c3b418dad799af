#!/usr/bin/env bash
# cached.sh [SCRIPT]: print the directory holding the test images that SCRIPT builds
# (build.sh, the default: the Debian images; build-rpm.sh: the Rocky-shaped rpm image;
# build-app.sh: the application image, on debian-min, keyed by both scripts; build-oldgo.sh:
# Go binaries built before Go 1.18),
# building them first when the cache has no copy made by the current script. The cache lives
# outside the repository (DRYDOCK_IMAGE_CACHE, default /var/cache/drydock-tests) and is keyed
# by the script's hash.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
script=${1:-build.sh}
base=${DRYDOCK_IMAGE_CACHE:-/var/cache/drydock-tests}
key=$(sha256sum "$here/$script" | cut -c1-16)
case $script in
  build.sh) dir=$base/images-$key ;;
  build-rpm.sh) dir=$base/images-rpm-$key ;;
  build-app.sh) dir=$base/images-app-$(cat "$here/build.sh" "$here/build-app.sh" | sha256sum | cut -c1-16) ;;
  build-oldgo.sh) dir=$base/images-oldgo-$key ;;
  *) echo "cached.sh: unknown image script '$script'" >&2; exit 2 ;;
esac
if [[ ! -f $dir/.complete ]]; then
  [[ $script != build-app.sh ]] || bash "$here/cached.sh" build.sh >/dev/null  # its base, before the lock
  mkdir -p "$base"
  exec 9>"$base/.lock"; flock 9
  if [[ ! -f $dir/.complete ]]; then
    rm -rf "$dir.tmp"
    bash "$here/$script" "$dir.tmp" >&2
    rm -rf "$dir"; mv "$dir.tmp" "$dir"; touch "$dir/.complete"
  fi
fi
echo "$dir"
