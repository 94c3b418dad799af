#!/usr/bin/env bash
# build-oldgo.sh OUTDIR: oldgo, a FROM-scratch image of Go binaries built before Go 1.18, whose
# build information holds pointers (to strings earlier in the file) instead of the strings:
#   - usr/bin/age and usr/bin/age-keygen from Debian 11's age 1.0.0~rc1-2+b3 (built with
#     golang-1.15 1.15.9 in GOPATH mode: a Go version and no module list);
#   - srv/node_modules/esbuild-linux-64/bin/esbuild from the npm registry's esbuild-linux-64
#     0.8.57 (built with go1.16 in module mode: a version, and golang.org/x/sys at a
#     pseudo-version in its module list).
# Both downloads are checked against the hashes below. One layer, written as the OCI layout
# OUTDIR/oci/oldgo; tests/images/cached.sh caches OUTDIR by this script's hash.
set -euo pipefail
OUT=$1
export SOURCE_DATE_EPOCH=1700000000
STAMP=$(date -u -d @$SOURCE_DATE_EPOCH +%Y-%m-%dT%H:%M:%SZ)
log() { printf '[images %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
AGE_URL=http://deb.debian.org/debian/pool/main/a/age/age_1.0.0~rc1-2+b3_amd64.deb
AGE_SHA=d429feff1cf854bc143b5f5f8f7c8788337ff70a37f43d32a3425e34174c050b
ESB_URL=https://registry.npmjs.org/esbuild-linux-64/-/esbuild-linux-64-0.8.57.tgz
ESB_SHA=76762543a555ecccf834013c92a1245ec3707241595b243e8e3a92546d4dbe50
D=$OUT/dl R=$OUT/rootfs
mkdir -p "$OUT/oci" "$D" "$R/usr/bin" "$R/srv/node_modules/esbuild-linux-64"
log "oldgo: Debian 11's age, npm's esbuild-linux-64 0.8.57"
curl -fsSL --retry 3 -o "$D/age.deb" "$AGE_URL"
curl -fsSL --retry 3 -o "$D/esbuild.tgz" "$ESB_URL"
echo "$AGE_SHA  $D/age.deb" | sha256sum -c --quiet
echo "$ESB_SHA  $D/esbuild.tgz" | sha256sum -c --quiet
dpkg-deb -x "$D/age.deb" "$D/age"
cp "$D/age/usr/bin/age" "$D/age/usr/bin/age-keygen" "$R/usr/bin/"
tar -xzf "$D/esbuild.tgz" -C "$R/srv/node_modules/esbuild-linux-64" --strip-components=1
find "$R" -newermt @$SOURCE_DATE_EPOCH -exec touch -h -d @$SOURCE_DATE_EPOCH {} + 2>/dev/null || true
L=$OUT/oci/oldgo B=$OUT/bundle
umoci init --layout "$L"; umoci new --image "$L:latest"
umoci unpack --image "$L:latest" "$B" >/dev/null
cp -a "$R/." "$B/rootfs/"
umoci repack --image "$L:latest" --history.created_by "age from Debian 11; esbuild-linux-64 from npm" \
  --history.created "$STAMP" "$B"
umoci config --image "$L:latest" --no-history --config.cmd /usr/bin/age \
  --config.label org.opencontainers.image.title=oldgo --created "$STAMP" --author drydock-tests
umoci gc --layout "$L"
rm -rf "$D" "$R" "$B"
log "done"
