#!/usr/bin/env bash
# The main job on the embedded default, on a fresh Debian 12 machine: install what is needed,
# build, then sync a demo directory (a throw-away slapd with sample people) into a throw-away
# adc-server: a dry run, a real run, and a run after the directory changed (scripts/demo.py).
# Everything listens on 127.0.0.1 only and is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> Installing the Debian packages ad-connect needs (scripts/install-deps.sh)"
scripts/install-deps.sh
echo "==> Building (meson + ninja)"
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
build/src/adc/adc version
build/src/server/adc-server version
exec python3 scripts/demo.py
