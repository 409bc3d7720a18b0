#!/usr/bin/env bash
# The benchmark from a fresh Debian 12 machine: installs the packages (scripts/install-deps.sh),
# makes a release build in build-bench/, and runs bench/bench.py with the arguments given:
#   bench/run.sh                      100,000 users, 3 runs of each step, the table
#   bench/run.sh --users 10000 --runs 5
#   bench/run.sh --scaling [--million] also 10,000 and 100,000 (and 1,000,000) users
#   bench/run.sh --json results.json  all figures as JSON too
#   bench/run.sh --groups             also 1,000 groups (one of every user) and one membership
#                                     change through adc run (docs/BENCHMARKS.md)
# ADC_BENCH_NO_DEPS=1 skips the package check (no sudo needed). See docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "${ADC_BENCH_NO_DEPS:-0}" = 1 ] || scripts/install-deps.sh

# Timings are only comparable on an optimized build without assertions' debug extras:
# the project's default build is debugoptimized, the benchmark measures release.
if [ -d build-bench ]; then
  meson setup --reconfigure build-bench -Dbuildtype=release -Dtests=false >/dev/null
else
  meson setup build-bench -Dbuildtype=release -Dtests=false >/dev/null
fi
ninja -C build-bench

exec python3 bench/bench.py --build build-bench "$@"
