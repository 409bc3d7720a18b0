#!/usr/bin/env bash
# The main job on the embedded default, on a fresh Debian 12 machine: install, build, and
# check the demo configuration. (Grows into a full demo sync as the sync engine lands.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
build/src/adc/adc version
build/src/server/adc-server version
