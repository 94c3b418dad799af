#!/usr/bin/env bash
# example-image.sh [ARCHIVE]: build a small, real container image offline, from Debian packages
# installed on this machine, and write it as a docker-archive (default ./image.tar) holding the
# image localhost/app:1.0 (`podman load -i image.tar`, `skopeo copy docker-archive:image.tar ...`).
#
# No network and no container engine: each package's files are copied as `dpkg -L` lists them,
# with its entries of /var/lib/dpkg/status and /var/lib/dpkg/info, so the image holds the very
# versions installed here and a scan reports what the vulnerability data says of them. Two layers:
#   1. base-files (/etc/os-release), libc6, libtinfo6, bash    (the image runs bash)
#   2. gzip, tar and the libraries tar needs                     (a second layer, for `sbom`)
# Needs dpkg, umoci and skopeo (scripts/deps.sh installs them); runs as any user.
# The test images of the test suite are built differently (tests/images/build.sh: debootstrap
# from a Debian mirror, bigger, slower, cached): this one is for trying drydock out.
set -euo pipefail
shopt -s nullglob
out=${1:-image.tar}
LAYERS=("base-files libc6 libtinfo6 bash" "zlib1g libzstd1 liblzma5 libacl1 libpcre2-8-0 libselinux1 gzip tar")
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
stamp=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
for tool in dpkg-query umoci skopeo; do
  command -v "$tool" >/dev/null || { echo "example-image: '$tool' is missing (scripts/deps.sh installs it)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
layout=$work/oci
umoci init --layout "$layout"
umoci new --image "$layout:1.0"

declare -A real      # directory -> its real path on this machine
status=$work/status   # the dpkg status file grows with each layer, as apt's would
: >"$status"
n=0
for pkgs in "${LAYERS[@]}"; do
  n=$((n + 1))
  root=$work/layer$n
  mkdir -p "$root/var/lib/dpkg/info"
  if [ $n -eq 1 ]; then  # a merged /usr as here: /bin -> usr/bin, /lib64 -> usr/lib64, ...
    for l in bin sbin lib lib32 lib64 libx32; do
      if [ -L "/$l" ] && [ -d "/$l" ]; then ln -s "$(readlink "/$l")" "$root/$l"; fi
    done
  fi
  for p in $pkgs; do
    if ! dpkg-query -W -f '${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii'; then
      echo "example-image: the Debian package '$p' is not installed here" >&2; exit 1
    fi
    # the package's files that exist here (docs may be excluded by dpkg's path-exclude), each
    # under its real directory: with a merged /usr, dpkg's /lib64/x is /usr/lib64/x
    dpkg-query -L "$p" | while IFS= read -r f; do
      [ -e "$f" ] || [ -L "$f" ] || continue
      if [ -d "$f" ]; then mkdir -p "$root$(realpath "$f")"; continue; fi
      d=${f%/*}
      [ -n "${real[$d]:-}" ] || real[$d]=$(realpath "$d")
      printf '%s/%s\n' "${real[$d]#/}" "${f##*/}"
    done >"$work/files"
    sort -u -o "$work/files" "$work/files"
    tar -C / --no-recursion -cf - -T "$work/files" | tar -C "$root" -xpf - --no-same-owner
    # its dpkg bookkeeping: the status entry and the info files (name or name:arch)
    dpkg-query -s "$p" >>"$status"
    echo >>"$status"
    info=(/var/lib/dpkg/info/"$p".* /var/lib/dpkg/info/"$p":*.*)
    ((${#info[@]} == 0)) || cp -a "${info[@]}" "$root/var/lib/dpkg/info/"
  done
  cp "$status" "$root/var/lib/dpkg/status"
  find "$root" -type d -exec touch -d "@$SOURCE_DATE_EPOCH" {} +
  # the layer written by GNU tar and added as it is (umoci 0.4.7's `insert` can truncate the
  # last file of the layer it writes)
  tar -C "$root" --sort=name --format=gnu --owner=0 --group=0 --numeric-owner -cf "$work/layer$n.tar" .
  umoci raw add-layer --image "$layout:1.0" --history.created "$stamp" \
    --history.created_by "dpkg install $pkgs (copied from this machine)" "$work/layer$n.tar"
done
umoci config --image "$layout:1.0" --config.cmd bash --created "$stamp" --author drydock-example \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.label org.opencontainers.image.title=app
umoci gc --layout "$layout"
rm -f "$out"
skopeo copy --quiet "oci:$layout:1.0" "docker-archive:$out:localhost/app:1.0"
echo "example-image: wrote '$out' (localhost/app:1.0, $(du -h "$out" | cut -f1)):" \
  "$(grep -c '^Package:' "$status") packages from this machine" >&2
