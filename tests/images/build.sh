#!/usr/bin/env bash
# build.sh OUTDIR: build the real test images (debootstrap + umoci, no container engine).
#
#   debian-min  debootstrap --variant=minbase bookworm: 1 layer
#   debian-big  debian-min's layer (byte-identical) + a tools layer + a build layer + a 1 MiB
#               incompressible app layer: 4 layers
#   debian-wide debian-big + a layer of web-app libraries (PostgreSQL client, libxml2, nginx,
#               ImageMagick, Ghostscript): 5 layers, about 300 packages (the matching benchmark)
#
# Each image is written as an OCI layout OUTDIR/oci/NAME (tag "latest"). The caller caches
# OUTDIR keyed by a hash of this script (tests/images/cached.sh), so edits rebuild.
# umoci pitfall: its tar writer rounds mtimes while its diff truncates them, so every mtime in
# a staging tree is rounded to whole seconds before each repack, or unchanged files land again.
set -euo pipefail
OUT=$1
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
export SOURCE_DATE_EPOCH=1700000000
STAMP=$(date -u -d @$SOURCE_DATE_EPOCH +%Y-%m-%dT%H:%M:%SZ)
RF=$OUT/rootfs
mkdir -p "$OUT/oci" "$RF" "$OUT/logs"
log() { printf '[images %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

chroot_run() {  # chroot_run ROOT CMD...: /proc, /dev, /sys mounted in a private namespace
  local root=$1; shift
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"; chmod +x "$root/usr/sbin/policy-rc.d"
  unshare -m --propagation private bash -c '
    r=$1; shift
    mount -t proc proc "$r/proc"; mount --rbind /dev "$r/dev"; mount -t sysfs sys "$r/sys"
    chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"' _ "$root" "$@"
  rm -f "$root/usr/sbin/policy-rc.d"; : >"$root/etc/resolv.conf"
}
strip_rootfs() {
  local r=$1
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb \
    "$r"/var/cache/apt/archives/partial/* "$r"/var/log/apt/* "$r"/var/log/dpkg.log \
    "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old "$r"/tmp/* "$r"/var/tmp/*
  find "$r/dev" "$r/proc" "$r/sys" -mindepth 1 -delete 2>/dev/null || true
  find "$r" -newermt @$SOURCE_DATE_EPOCH -exec touch -h -d @$SOURCE_DATE_EPOCH {} + 2>/dev/null || true
}
add_layer() {  # add_layer NAME TREE HISTORY
  local L=$OUT/oci/$1 B=$OUT/bundle-$1
  rm -rf "$B"
  umoci unpack --image "$L:latest" "$B" >/dev/null
  rsync -aHAX --numeric-ids --delete --checksum "$2/" "$B/rootfs/"
  umoci repack --image "$L:latest" --history.created_by "$3" --history.created "$STAMP" "$B"
  rm -rf "$B"
}
finish() {
  local L=$OUT/oci/$1
  umoci config --image "$L:latest" --no-history --config.cmd "$2" \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.label org.opencontainers.image.title="$1" --created "$STAMP" --author drydock-tests
  umoci gc --layout "$L"
}

S1=$RF/min
if [[ ! -x $S1/bin/bash ]]; then
  rm -rf "$S1"
  log "debootstrap minbase $SUITE"
  unshare -m --propagation private debootstrap --variant=minbase $SUITE "$S1" "$MIRROR" >"$OUT/logs/debootstrap.log" 2>&1
  strip_rootfs "$S1"
fi
log "umoci debian-min"
rm -rf "$OUT/oci/debian-min"
umoci init --layout "$OUT/oci/debian-min"; umoci new --image "$OUT/oci/debian-min:latest"
add_layer debian-min "$S1" "debootstrap --variant=minbase $SUITE"
finish debian-min bash

TOOLS="python3 perl curl openssl ca-certificates git procps less xz-utils bzip2 file sqlite3 jq"
BUILD="build-essential pkg-config libssl-dev zlib1g-dev python3-dev"
WIDE="libpq-dev libxml2-dev libxslt1-dev libjpeg62-turbo-dev libpng-dev libffi-dev libyaml-dev gnupg
  openssh-client unzip wget rsync vim-tiny postgresql-client nginx-light ghostscript imagemagick-6.q16"
S2=$RF/tools S3=$RF/build S4=$RF/app S5=$RF/wide
if [[ ! -x $S2/usr/bin/git ]]; then
  rm -rf "$S2"; cp -a "$S1" "$S2"
  log "tools layer: $TOOLS"
  chroot_run "$S2" sh -c "apt-get update && apt-get install -y --no-install-recommends $TOOLS" >"$OUT/logs/tools.log" 2>&1
  strip_rootfs "$S2"
fi
if [[ ! -x $S3/usr/bin/gcc ]]; then
  rm -rf "$S3"; cp -a "$S2" "$S3"
  log "build layer: $BUILD"
  chroot_run "$S3" sh -c "apt-get update && apt-get install -y --no-install-recommends $BUILD" >"$OUT/logs/build.log" 2>&1
  strip_rootfs "$S3"
fi
rm -rf "$S4"; cp -a "$S3" "$S4"; mkdir -p "$S4/opt/app"
openssl enc -aes-128-ctr -nosalt -pass pass:drydock -pbkdf2 -in <(head -c 1048576 /dev/zero) -out "$S4/opt/app/blob.bin"
printf '#!/bin/sh\necho hello\n' >"$S4/opt/app/run.sh"; chmod 755 "$S4/opt/app/run.sh"
touch -h -d @$SOURCE_DATE_EPOCH "$S4/opt/app/blob.bin" "$S4/opt/app/run.sh" "$S4/opt/app" "$S4/opt"
log "umoci debian-big"
rm -rf "$OUT/oci/debian-big"; cp -a "$OUT/oci/debian-min" "$OUT/oci/debian-big"
add_layer debian-big "$S2" "apt-get install $TOOLS"
add_layer debian-big "$S3" "apt-get install $BUILD"
add_layer debian-big "$S4" "COPY app /opt/app"
finish debian-big bash
if [[ ! -x $S5/usr/bin/gs ]]; then
  rm -rf "$S5"; cp -a "$S4" "$S5"
  log "wide layer: $WIDE"
  chroot_run "$S5" sh -c "apt-get update && apt-get install -y --no-install-recommends $(echo $WIDE)" >"$OUT/logs/wide.log" 2>&1
  strip_rootfs "$S5"
fi
log "umoci debian-wide"
rm -rf "$OUT/oci/debian-wide"; cp -a "$OUT/oci/debian-big" "$OUT/oci/debian-wide"
add_layer debian-wide "$S5" "apt-get install $(echo $WIDE)"
finish debian-wide bash
rm -rf "$RF"
log "done"
