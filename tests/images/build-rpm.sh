#!/usr/bin/env bash
# build-rpm.sh OUTDIR: build rpm-min, a Rocky Linux 9 shaped image with a real rpm database
# (rpm 4.18, SQLite backend) written by Debian's rpm. Its packages are built here with
# rpmbuild from spec files that split like the distribution's own: source RPM "openssl" gives
# the binary "openssl-libs", "curl" gives "curl" and "libcurl", "glibc" gives "glibc" and
# "glibc-common", so source-RPM matching (Rocky's feed) is exercised as in a real image. The
# versions are ones Rocky 9.2 shipped:
#
#   openssl 1:3.0.7-16.el9_2    fixed by RLSA-2024:6783 in 1:3.0.7-28.el9_4      -> a finding
#   curl    7.76.1-23.el9_2.2   fixed by RLSA-2023:5763 in 7.76.1-23.el9_2.4     -> a finding
#   glibc   2.34-60.el9         fixed by RLSA-2024:3339 in 2.34-100.el9_4.2      -> a finding
#   zlib    1.2.11-39.el9       newest fix RLSA-2022:7314 at 1.2.11-32.el9_0     -> none
#   bash    5.1.8-6.el9_1       fixed by RLSA-2023:0340 in exactly this version  -> none
#
# Two layers: the base (glibc, bash, zlib, openssl) and an app layer (curl). Written as the
# OCI layout OUTDIR/oci/rpm-min; tests/images/cached.sh caches OUTDIR by this script's hash.
set -euo pipefail
OUT=$1
export SOURCE_DATE_EPOCH=1700000000
STAMP=$(date -u -d @$SOURCE_DATE_EPOCH +%Y-%m-%dT%H:%M:%SZ)
TOP=$OUT/rpmbuild R1=$OUT/rootfs/base R2=$OUT/rootfs/app
mkdir -p "$OUT/oci" "$TOP"/{SPECS,RPMS,BUILD,BUILDROOT,SOURCES,SRPMS} "$R1"
log() { printf '[images %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

mkrpm() {  # mkrpm SOURCE EPOCH VERSION RELEASE "BINARY..." ("-" is the source's own name)
  local src=$1 epoch=$2 ver=$3 rel=$4 bins=$5 spec=$TOP/SPECS/$1.spec
  {
    echo "Name: $src"
    [[ $epoch != 0 ]] && echo "Epoch: $epoch"
    printf 'Version: %s\nRelease: %s\nSummary: %s (drydock test package)\nLicense: MIT\n' "$ver" "$rel" "$src"
    printf 'BuildArch: x86_64\n%%global debug_package %%{nil}\n%%global __os_install_post %%{nil}\n'
    printf '%%description\n%s %s-%s, built for drydock tests.\n' "$src" "$ver" "$rel"
    for b in $bins; do
      [[ $b == - ]] && continue
      printf '%%package -n %s\nSummary: %s\n%%description -n %s\nPart of %s.\n' "$b" "$b" "$b" "$src"
    done
    printf '%%install\n'
    for b in $bins; do
      local n=$([[ $b == - ]] && echo "$src" || echo "$b")
      printf 'mkdir -p %%{buildroot}/usr/share/doc/%s\necho "%s %s-%s" > %%{buildroot}/usr/share/doc/%s/README\n' \
        "$n" "$n" "$ver" "$rel" "$n"
    done
    for b in $bins; do
      if [[ $b == - ]]; then printf '%%files\n/usr/share/doc/%s/README\n' "$src"
      else printf '%%files -n %s\n/usr/share/doc/%s/README\n' "$b" "$b"; fi
    done
  } >"$spec"
  rpmbuild --quiet --define "_topdir $TOP" --define "_build_id_links none" --define "_buildhost drydock" \
    --define "use_source_date_epoch_as_buildtime 1" -bb "$spec" >/dev/null
}
install_rpms() {  # install_rpms ROOT NAME...
  local root=$1; shift
  local files=()
  for n in "$@"; do files+=("$(ls "$TOP"/RPMS/x86_64/"$n"-[0-9]*.rpm)"); done
  rpm --root "$root" --dbpath /var/lib/rpm -i --nodeps --noscripts --ignorearch "${files[@]}" 2>/dev/null
  rm -f "$root"/var/lib/rpm/.rpm.lock "$root"/var/lib/rpm/rpmdb.sqlite-shm "$root"/var/lib/rpm/rpmdb.sqlite-wal
}
add_layer() {  # add_layer NAME TREE HISTORY
  local L=$OUT/oci/$1 B=$OUT/bundle-$1
  find "$2" -newermt @$SOURCE_DATE_EPOCH -exec touch -h -d @$SOURCE_DATE_EPOCH {} + 2>/dev/null || true
  rm -rf "$B"
  umoci unpack --image "$L:latest" "$B" >/dev/null
  rsync -aHAX --numeric-ids --delete --checksum "$2/" "$B/rootfs/"
  umoci repack --image "$L:latest" --history.created_by "$3" --history.created "$STAMP" "$B"
  rm -rf "$B"
}

log "rpmbuild: openssl, curl, glibc, zlib, bash"
mkrpm openssl 1 3.0.7 16.el9_2 "openssl-libs"
mkrpm curl 0 7.76.1 23.el9_2.2 "- libcurl"
mkrpm glibc 0 2.34 60.el9 "- glibc-common"
mkrpm zlib 0 1.2.11 39.el9 "-"
mkrpm bash 0 5.1.8 6.el9_1 "-"

mkdir -p "$R1"/{etc,usr/bin,var/lib/rpm,tmp}
cat >"$R1/etc/os-release" <<'OS'
NAME="Rocky Linux"
VERSION="9.2 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.2"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.2 (Blue Onyx)"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
OS
echo "Rocky Linux release 9.2 (Blue Onyx)" >"$R1/etc/redhat-release"
ln -s redhat-release "$R1/etc/system-release"
rpm --root "$R1" --dbpath /var/lib/rpm --initdb 2>/dev/null
install_rpms "$R1" glibc glibc-common bash zlib openssl-libs
rm -rf "$R2"; cp -a "$R1" "$R2"
install_rpms "$R2" curl libcurl
log "umoci rpm-min"
L=$OUT/oci/rpm-min
umoci init --layout "$L"; umoci new --image "$L:latest"
add_layer rpm-min "$R1" "rpm -i glibc glibc-common bash zlib openssl-libs"
add_layer rpm-min "$R2" "rpm -i curl libcurl"
umoci config --image "$L:latest" --no-history --config.cmd /bin/sh \
  --config.label org.opencontainers.image.title=rpm-min --created "$STAMP" --author drydock-tests
umoci gc --layout "$L"
rm -rf "$OUT/rootfs" "$TOP"
log "done"
