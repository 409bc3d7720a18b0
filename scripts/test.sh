#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds ad-connect and runs every test: unit and
# integration tests on a normal build, then again on a build with AddressSanitizer and
# UndefinedBehaviorSanitizer.
#   scripts/test.sh            everything (what CI runs)
#   scripts/test.sh --quick    the normal build only
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
[ "${1:-}" = "--quick" ] && quick=1

scripts/install-deps.sh

run_suite() { # build-dir, meson setup options...
  local dir=$1; shift
  if [ -d "$dir" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
  ninja -C "$dir"
  meson test -C "$dir" --print-errorlogs --num-processes 2
}

echo "== build and test"
run_suite build

# adc-server's second store engine: the server-side integration tests again, each adc-server
# on a fresh database of a PostgreSQL cluster the test process starts (harness/postgres.py).
# Tests of SQLite's own file (full disk, a lock held by sqlite3) skip themselves here.
echo "== server-side integration tests on PostgreSQL"
ADC_TEST_DB=postgresql meson test -C build --print-errorlogs --num-processes 2 \
  $(scripts/postgresql-tests.sh)

if [ $quick -eq 0 ]; then
  echo "== build and test under AddressSanitizer + UndefinedBehaviorSanitizer"
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
  run_suite build-sanitize -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

  # The corpora are replayed above in both builds (suite 'fuzz'). Here the libFuzzer targets
  # themselves are built with clang and each runs for a short while from its corpus: new
  # inputs that crash, leak or trip a sanitizer fail CI. Long runs are done by hand
  # (docs/RELIABILITY.md).
  echo "== fuzz targets (clang, libFuzzer, ${ADC_FUZZ_SECONDS:-20} s each)"
  scripts/fuzz.sh build-fuzz "${ADC_FUZZ_SECONDS:-20}"

  # A representative subset of the integration tests with the programs under valgrind.
  echo "== integration tests under valgrind (memcheck)"
  scripts/valgrind-tests.sh build

  # The release as users get it: scripts/release.sh builds the .debs, the archive and the OCI
  # image, which are installed, upgraded, purged and run in fresh minimal Debian 12 and 13
  # chroots (root for chroot; Debian's archive on the network; about 8 minutes).
  echo "== packages (scripts/test-packages.sh)"
  if [ "$(id -u)" -eq 0 ]; then
    scripts/test-packages.sh build
  else
    sudo -E scripts/test-packages.sh build
  fi
fi
echo "== all tests passed"
