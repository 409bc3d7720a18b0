#!/usr/bin/env bash
# Writes the ad-connect archive (docs/product.md section 13) from a built adc-portable (adc
# with the run path $ORIGIN/../lib: meson option portable_adc), for
# /opt/exchange4all/ad-connect:
#   OUTDIR/ad-connect-VERSION-linux-x86_64.tar.gz
#     bin/adc, lib/ (every library bin/adc loads but glibc's), adc.cfg and adc.yaml
#     (commented examples), README (dist/archive-README), adc.service, man/
# debian/rules calls it while building the packages (adc-server's offers the archive), so that
# one compilation makes both.
#   scripts/make-archive.sh ADC_PORTABLE SOURCE_DIR VERSION OUTDIR
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: scripts/make-archive.sh ADC_PORTABLE SOURCE_DIR VERSION OUTDIR" >&2; exit 2; }
binary=$1
src=$2
version=$3
out=$4
log() { printf 'make-archive: %s\n' "$*" >&2; }

# DT_RPATH, not RUNPATH: RPATH also applies to the dependencies of the libraries (libcurl's
# libnghttp2, libldap's libgnutls...), which RUNPATH would not reach.
if ! readelf -d "$binary" | grep -q '(RPATH).*\[\$ORIGIN/../lib\]'; then
  readelf -d "$binary" | grep -i path >&2 || true
  log "$binary has no DT_RPATH \$ORIGIN/../lib (meson -Dportable_adc=true builds adc-portable)"
  exit 1
fi

work=$(mktemp -d /tmp/adc-archive.XXXXXX)
trap 'rm -rf "$work"' EXIT
name=ad-connect-$version
stage=$work/$name
mkdir -p "$stage/bin" "$stage/lib" "$stage/man/man8" "$stage/man/man5"
install -m 0755 "$binary" "$stage/bin/adc"
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
ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' |
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

# Examples for /opt/exchange4all/ad-connect: adc.cfg's paths point there. Private until the
# administrator gives them to the adc group (README).
sed -e 's|/etc/adc/adc\.secret|/opt/exchange4all/ad-connect/secret|' \
    -e 's|/etc/adc/|/opt/exchange4all/ad-connect/|g' \
    "$src/dist/adc.cfg" > "$stage/adc.cfg"
install -m 0644 "$src/dist/adc.yaml" "$stage/adc.yaml"
chmod 0600 "$stage/adc.cfg" "$stage/adc.yaml"
install -m 0644 "$src/dist/adc.service" "$stage/adc.service"
install -m 0644 "$src/docs/adc.8" "$stage/man/man8/adc.8"
install -m 0644 "$src/docs/adc.yaml.5" "$stage/man/man5/adc.yaml.5"
libs=$(cd "$stage/lib" && ls | tr '\n' ' ')
sed -e "s|@VERSION@|$version|g" -e "s|@LIBS@|$libs|" "$src/dist/archive-README" > "$stage/README"
chmod 0644 "$stage/README"

# The same bytes for the same tree: sorted names, numeric root owner, SOURCE_DATE_EPOCH.
mkdir -p "$out"
archive=$out/$name-linux-x86_64.tar.gz
tar -C "$work" --sort=name --owner=0 --group=0 --numeric-owner \
  --mtime="@${SOURCE_DATE_EPOCH:-$(date +%s)}" -cf - "$name" | gzip -9n > "$archive.tmp"
mv "$archive.tmp" "$archive"
log "$(basename "$archive"): $(du -h "$archive" | cut -f1)"
