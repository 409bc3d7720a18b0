#!/usr/bin/env bash
# Installs everything ad-connect needs to build, test and run on a fresh Debian 12 machine.
# Used by the README, the demo and CI. Safe to run again.
set -euo pipefail

packages=(
  # build
  build-essential meson ninja-build pkg-config clang llvm
  # libraries
  libldap2-dev libyaml-dev libcurl4-openssl-dev libjansson-dev libmicrohttpd-dev
  libsqlite3-dev libsystemd-dev libssl-dev libcmocka-dev libpq-dev
  # real peers for the tests, the demo and the benchmark
  slapd ldap-utils samba samba-ad-dc samba-ad-provision winbind krb5-user
  389-ds-base postgresql haproxy
  # packages (scripts/release.sh): Debian packages, lintian, chroots for the install tests
  debhelper devscripts lintian mmdebstrap fakeroot
  # systemd: systemd-analyze verify of the units in dist/ (tests)
  sqlite3 curl openssl python3 systemd valgrind procps psmisc iproute2 hyperfine
  # the benchmark: GNU time for the peak memory of adc (bench/bench.py)
  time
  # the web console: password hashing (yescrypt) and its browser tests (Playwright drives
  # Debian's chromium; `npx playwright install` is not used)
  libcrypt-dev chromium
)
# Node.js and npm for the browser tests (npm ci of playwright-core): Debian's packages unless a
# node with npm is installed already (e.g. from NodeSource, whose nodejs conflicts with
# Debian's npm).
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo -E)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Packaged daemons (slapd, samba) must not start system-wide services: our tests
# and the demo start their own instances in temporary directories.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${SUDO[@]}" chmod +x /usr/sbin/policy-rc.d
  trap '"${SUDO[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi
"${SUDO[@]}" apt-get update
"${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
