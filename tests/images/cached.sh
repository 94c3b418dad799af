#!/usr/bin/env bash
# cached.sh: print the directory holding the built test images, building them first when the
# cache has no copy made by the current build.sh. The cache lives outside the repository
# (DRYDOCK_IMAGE_CACHE, default /var/cache/drydock-tests) and is keyed by build.sh's hash.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
base=${DRYDOCK_IMAGE_CACHE:-/var/cache/drydock-tests}
key=$(sha256sum "$here/build.sh" | cut -c1-16)
dir=$base/images-$key
if [[ ! -f $dir/.complete ]]; then
  mkdir -p "$base"
  exec 9>"$base/.lock"; flock 9
  if [[ ! -f $dir/.complete ]]; then
    rm -rf "$dir.tmp"
    bash "$here/build.sh" "$dir.tmp" >&2
    rm -rf "$dir"; mv "$dir.tmp" "$dir"; touch "$dir/.complete"
  fi
fi
echo "$dir"
