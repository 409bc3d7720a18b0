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

# --- the archive: adc built for /opt/exchange4all/ad-connect, with DT_RPATH $ORIGIN/../lib.
# DT_RPATH (not RUNPATH: --disable-new-dtags) because it also applies to the dependencies of
# the libraries (libcurl's libnghttp2, libldap's libgnutls...), which RUNPATH would not reach.
log "building adc for the archive"
meson setup "$work/build-archive" "$work/src" --prefix=/opt/exchange4all/ad-connect \
  -Dtests=false -Dfuzz=false -Dwerror=false \
  "-Dc_link_args=-Wl,--disable-new-dtags,-rpath,\$ORIGIN/../lib" >/dev/null
ninja -C "$work/build-archive" src/adc/adc >/dev/null

name=ad-connect-$version
stage=$work/stage/$name
mkdir -p "$stage/bin" "$stage/lib" "$stage/man/man8" "$stage/man/man5"
install -m 0755 "$work/build-archive/src/adc/adc" "$stage/bin/adc"
strip --strip-unneeded "$stage/bin/adc"

# The libraries adc loads, except glibc's own (libc, libm, libpthread, libdl, librt,
# libresolv, ld-linux...): Debian 12's glibc is 2.36 and Debian 13's newer, and glibc is
# backward compatible, while carrying it would mix two glibc versions in one process.
is_glibc() { # path -> true when the library belongs to Debian's libc6 package
  local owner
  owner=$(dpkg -S "$(readlink -f "$1")" 2>/dev/null || dpkg -S "$1" 2>/dev/null || true)
  case "${owner%%:*}" in libc6 | libc6-amd64) return 0 ;; esac
  case "$(basename "$1")" in
    ld-linux*.so* | libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | \
      libresolv.so.* | libutil.so.* | libanl.so.* | libnss_*.so.*) return 0 ;;
  esac
  return 1
}
ldd "$work/build-archive/src/adc/adc" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' |
  while read -r soname path; do
    if is_glibc "$path"; then continue; fi
    install -m 0644 "$(readlink -f "$path")" "$stage/lib/$soname"
    strip --strip-unneeded "$stage/lib/$soname"
  done
# Nothing may be left unresolved, and the copy must load its libraries from lib/.
if ldd "$stage/bin/adc" | grep -q 'not found'; then
  ldd "$stage/bin/adc" >&2
  log "bin/adc has unresolved libraries"
  exit 1
fi
ldd "$stage/bin/adc" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | while read -r soname path; do
  if [ -e "$stage/lib/$soname" ] && [ "$(readlink -f "$path")" != "$(readlink -f "$stage/lib/$soname")" ]; then
    log "bin/adc loads $soname from $path, not from lib/"
    exit 1
  fi
done

# Examples for /opt/exchange4all/ad-connect: adc.cfg's paths point there.
sed -e 's|/etc/adc/adc\.secret|/opt/exchange4all/ad-connect/secret|' \
    -e 's|/etc/adc/|/opt/exchange4all/ad-connect/|g' \
    "$work/src/dist/adc.cfg" > "$stage/adc.cfg"
install -m 0644 "$work/src/dist/adc.yaml" "$stage/adc.yaml"
chmod 0600 "$stage/adc.cfg" "$stage/adc.yaml"
install -m 0644 "$work/src/dist/adc.service" "$stage/adc.service"
install -m 0644 "$work/src/docs/adc.8" "$stage/man/man8/adc.8"
install -m 0644 "$work/src/docs/adc.yaml.5" "$stage/man/man5/adc.yaml.5"
libs=$(cd "$stage/lib" && ls | tr '\n' ' ')
sed -e "s|@VERSION@|$version|g" -e "s|@LIBS@|$libs|" "$work/src/dist/archive-README" > "$stage/README"
chmod 0644 "$stage/README"

archive=$name-linux-$arch.tar.gz
tar -C "$work/stage" --sort=name --owner=0 --group=0 --numeric-owner \
  --mtime="@$SOURCE_DATE_EPOCH" -cf - "$name" | gzip -9n > "$out/$archive"
log "$archive: $(du -h "$out/$archive" | cut -f1)"

# --- the Debian packages, with the archive in adc-server's (debian/rules picks it up).
log "building the Debian packages"
mkdir -p "$work/src/debian/downloads"
cp "$out/$archive" "$work/src/debian/downloads/"
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
