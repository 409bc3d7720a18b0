#!/usr/bin/env bash
# Builds the release of ad-connect from the tree (docs/product.md section 13), on Debian 12,
# with no network access but Debian's archive (for the OCI image's base system):
#   OUTDIR/ad-connect-VERSION-linux-x86_64.tar.gz   bin/adc with the libraries it needs in lib/,
#                                                   example adc.yaml and adc.cfg, README,
#                                                   adc.service, man pages
#   OUTDIR/adc_VERSION_amd64.deb                    the agent (debian/)
#   OUTDIR/adc-server_VERSION_amd64.deb             the server, offering the archive above
#   OUTDIR/adc-server-VERSION.oci.tar               an OCI image archive of adc-server, made
#                                                   from its .deb on a minimal Debian 12
#   OUTDIR/SHA256SUMS
# VERSION is meson.build's. Runs as root (the image's root file system is made with chroot).
#   scripts/release.sh OUTDIR
# Environment:
#   ADC_RELEASE_BASE   an `mmdebstrap --variant=minbase bookworm` tarball to start the image
#                      from (scripts/test-packages.sh reuses its own); default: make one
#   ADC_RELEASE_BASE_WAIT  seconds to wait for ADC_RELEASE_BASE to appear (made at the same time
#                      by the caller; default 0)
#   ADC_RELEASE_MIRROR Debian mirror (default http://deb.debian.org/debian)
#   ADC_RELEASE_SKIP_OCI=1  only the archive and the .debs
set -euo pipefail
umask 022

usage() { echo "usage: scripts/release.sh OUTDIR" >&2; exit 2; }
[ $# -eq 1 ] || usage
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
mirror=${ADC_RELEASE_MIRROR:-http://deb.debian.org/debian}
arch=x86_64

version=$(meson introspect --projectinfo "$src/meson.build" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
# The same date in every file of the release, so that two builds of one commit are alike.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$src" log -1 --format=%ct 2>/dev/null || date +%s)}
log() { printf 'release: %s\n' "$*" >&2; }
log "ad-connect $version into $out"

work=$(mktemp -d /tmp/adc-release.XXXXXX)
cleanup() {
  # Nothing may stay mounted in the image's root file system before it is removed.
  if [ -d "$work/rootfs" ]; then
    for m in proc dev/pts; do
      mountpoint -q "$work/rootfs/$m" 2>/dev/null && umount -l "$work/rootfs/$m"
    done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- a clean copy of the tree: the files git knows (tracked and new, not ignored), so that no
# build directory or local file of the developer's ends up in a package.
log "copying the tree"
mkdir "$work/src"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
  git -C "$src" ls-files -z --cached --others --exclude-standard |
    (cd "$src" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh) |
    tar -C "$src" --null -T - -cf - | tar -C "$work/src" -xf -
else
  tar -C "$src" --exclude='./build*' -cf - . | tar -C "$work/src" -xf -
fi
rm -rf "$work/src/debian/downloads"

# --- the Debian packages and the archive: debian/rules builds adc, adc-portable and
# adc-server once, makes the archive of adc-portable (scripts/make-archive.sh) and puts it in
# adc-server's package.
log "building the Debian packages and the archive"
if [ "$(dpkg-parsechangelog -l "$work/src/debian/changelog" -S Version)" != "$version" ]; then
  # meson.build is the one place for the version: a release entry when debian/changelog is
  # behind it.
  { printf 'ad-connect (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- %s  %s\n\n' \
      "$version" "$version" "ad-connect developers <ad-connect@exchange4all.example>" \
      "$(date -R -u -d "@$SOURCE_DATE_EPOCH")"
    cat "$work/src/debian/changelog"; } > "$work/src/debian/changelog.new"
  mv "$work/src/debian/changelog.new" "$work/src/debian/changelog"
fi
(cd "$work/src" && dpkg-buildpackage -b -us -uc -j"$(nproc)" >"$work/dpkg-buildpackage.log" 2>&1) || {
  tail -50 "$work/dpkg-buildpackage.log" >&2
  log "dpkg-buildpackage failed"
  exit 1
}
for p in adc adc-server; do
  mv "$work/${p}_${version}_amd64.deb" "$out/"
done
archive=ad-connect-$version-linux-$arch.tar.gz
cp "$work/src/debian/downloads/$archive" "$out/"
log "$archive: $(du -h "$out/$archive" | cut -f1)"

# --- the OCI image of adc-server: a minimal Debian 12 with the .deb installed by apt (which
# pulls its dependencies from Debian's archive), written as an OCI image layout.
if [ "${ADC_RELEASE_SKIP_OCI:-0}" != 1 ]; then
  [ "$(id -u)" -eq 0 ] || { log "the OCI image needs root (chroot)"; exit 1; }
  base=${ADC_RELEASE_BASE:-}
  waited=0
  while [ -n "$base" ] && [ ! -e "$base" ] && [ "$waited" -lt "${ADC_RELEASE_BASE_WAIT:-0}" ]; do
    sleep 1
    waited=$((waited + 1))
  done
  if [ -n "$base" ] && [ ! -e "$base" ]; then
    log "ADC_RELEASE_BASE: $base does not exist"
    exit 1
  fi
  if [ -z "$base" ]; then
    log "mmdebstrap: a minimal Debian 12"
    base=$work/base.tar
    mmdebstrap --quiet --variant=minbase bookworm "$base" "$mirror" >&2
  fi
  log "installing adc-server_${version}_amd64.deb into the image"
  rootfs=$work/rootfs
  mkdir "$rootfs"
  tar -C "$rootfs" -xf "$base"
  cp "$out/adc-server_${version}_amd64.deb" "$rootfs/tmp/"
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  mount -t proc proc "$rootfs/proc"
  chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive sh -ec "
    apt-get update -qq
    apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends ./tmp/adc-server_${version}_amd64.deb >/dev/null
    apt-get clean
    rm -rf /var/lib/apt/lists/* /tmp/*.deb /var/log/apt /var/log/dpkg.log /var/cache/debconf/*-old
    test -x /usr/bin/adc-server && id adc-server >/dev/null
  " >&2
  umount "$rootfs/proc"
  : > "$rootfs/etc/resolv.conf"
  uid=$(chroot "$rootfs" id -u adc-server)
  gid=$(chroot "$rootfs" id -g adc-server)
  log "writing the OCI image archive"
  python3 "$work/src/scripts/oci-image.py" --rootfs "$rootfs" --user "$uid:$gid" \
    --version "$version" --output "$out/adc-server-$version.oci.tar"
fi

(cd "$out" && sha256sum -- "$archive" adc_"$version"_amd64.deb adc-server_"$version"_amd64.deb \
  $( [ -e "adc-server-$version.oci.tar" ] && echo "adc-server-$version.oci.tar") > SHA256SUMS)
log "done:"
(cd "$out" && ls -l) >&2
