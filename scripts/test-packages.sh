#!/usr/bin/env bash
# The release, built and tried for real (docs/product.md section 13; run by scripts/test.sh
# in the full run): scripts/release.sh builds everything, then tests/packages/test_packages.py
# checks it with lintian, installs, upgrades and purges the .debs in a fresh minimal Debian 12,
# runs the archive's bin/adc in fresh minimal Debian 12 and 13 against a slapd on the host,
# and checks and runs the OCI image. Needs root (chroot) and Debian's archive on the network.
#   scripts/test-packages.sh [BUILD_DIR]   BUILD_DIR: a meson build for the test harness
#                                           (default build)
# Everything lives in one temporary directory, removed at the end; the two mmdebstrap
# tarballs are made once per run, while the release builds, and each chroot is a fresh copy.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[ "$(id -u)" -eq 0 ] || { echo "test-packages: needs root (chroot)" >&2; exit 1; }
mirror=${ADC_RELEASE_MIRROR:-http://deb.debian.org/debian}

tmp=$(mktemp -d /tmp/adc-test-packages.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
started=$(date +%s)

# The minimal systems, made while the release builds (network, not CPU). Each is renamed into
# place when complete, so that a reader never sees half a tarball.
for suite in bookworm trixie; do
  (mmdebstrap --quiet --variant=minbase "$suite" "$tmp/$suite.partial.tar" "$mirror" \
     >"$tmp/mmdebstrap-$suite.log" 2>&1 &&
   mv "$tmp/$suite.partial.tar" "$tmp/$suite.tar") &
  pids+=($!)
done

echo "== release (scripts/release.sh)"
ADC_RELEASE_BASE="$tmp/bookworm.tar" ADC_RELEASE_BASE_WAIT=600 scripts/release.sh "$tmp/release"
for p in "${pids[@]}"; do
  wait "$p" || { cat "$tmp"/mmdebstrap-*.log >&2; echo "test-packages: mmdebstrap failed" >&2; exit 1; }
done
pids=()
echo "release built in $(($(date +%s) - started)) s"

echo "== packages, archive and image (tests/packages/test_packages.py)"
ADC_RELEASE_DIR="$tmp/release" ADC_BOOKWORM_TAR="$tmp/bookworm.tar" ADC_TRIXIE_TAR="$tmp/trixie.tar" \
  ADC_BIN="$build/src/adc/adc" ADC_SERVER_BIN="$build/src/server/adc-server" \
  ADC_SOURCE_ROOT="$PWD" ADC_TEST_DATA="$PWD/tests/data" \
  PYTHONPATH="$PWD/tests/integration" PYTHONDONTWRITEBYTECODE=1 TMPDIR="$tmp" \
  python3 tests/packages/test_packages.py -v
echo "== packages tested in $(($(date +%s) - started)) s"
