#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/fuzz-*.c) with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs each for SECONDS from a copy of its corpus (the
# repository's corpus is not changed; new crashing inputs are left in BUILD_DIR/fuzz-out).
#   [FUZZ_SEED=N] scripts/fuzz.sh [BUILD_DIR [SECONDS [TARGET...]]]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-fuzz}
secs=${2:-20}
shift $(( $# < 2 ? $# : 2 ))
if [ -d "$dir" ]; then
  CC=clang meson setup --reconfigure "$dir" -Dfuzz=true -Dtests=false \
    -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug >/dev/null
else
  CC=clang meson setup "$dir" -Dfuzz=true -Dtests=false \
    -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug >/dev/null
fi
ninja -C "$dir"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/fuzz-*.c; do t=${f#fuzz/fuzz-}; targets+=("${t%.c}"); done
fi
# A fixed seed makes a run repeatable: CI's short run retraces the start of a longer local run
# with the same seed, so what it could find was found (and fixed) before landing. FUZZ_SEED=0
# lets libFuzzer pick a new seed, for exploring.
seed=${FUZZ_SEED:-1}
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
bin=$(realpath "$dir")/fuzz
out=$(realpath "$dir")/fuzz-out
status=0
for t in "${targets[@]}"; do
  work=$out/$t
  rm -rf "$work"
  mkdir -p "$work/corpus"
  cp fuzz/corpus/"$t"/* "$work/corpus/"
  # the config loaders also start from the test configurations (as their replay tests do)
  case $t in
    config-*)
      for f in tests/data/config/good/* tests/data/config/bad/*; do
        cp "$f" "$work/corpus/$(basename "$(dirname "$f")")-$(basename "$f")"
      done ;;
  esac
  if (cd "$work" && "$bin/fuzz-$t" -max_total_time="$secs" -seed="$seed" \
      -timeout=30 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$work/" corpus >"$work/log" 2>&1); then
    echo "fuzz-$t: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" |
      grep -o '[0-9]*$') runs, no finding"
  else
    echo "fuzz-$t: FAILED (log and input in $work)"
    grep -E "ERROR|SUMMARY|runtime error|^artifact|Test unit written" "$work/log" | head -20
    status=1
  fi
done
exit $status
