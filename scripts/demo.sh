#!/usr/bin/env bash
# The main job on the embedded default, on a fresh Debian 12 machine: install what is needed,
# build, then keep a demo directory (a throw-away slapd with sample people and the syncprov
# overlay) in step with a throw-away adc-server: adc imp as a dry run, a real run and a run after
# the directory changed, then adc run with changes arriving live (scripts/demo.py). Exit status
# 0 only when every step did what it says.
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
