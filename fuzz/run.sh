#!/usr/bin/env bash
# A bounded fuzz run of every libFuzzer target (clang): option/INI parsing, expressions, the
# HDF5 and IDX readers. Usage: fuzz/run.sh [SECONDS_PER_TARGET (default 60)]
# Builds with the `fuzz` preset (CMakePresets.json) into build-fuzz/. Findings are written to
# build-fuzz/findings/<target>/; each one becomes a regression test (tests/test_faults.cpp).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
cmake --preset fuzz >/dev/null
nice -n 5 cmake --build --preset fuzz -j2
status=0
# Known leaks inside libhdf5 on malformed files are suppressed (tests/lsan.supp says which); any other leak is a finding.
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# An allocation too large returns null (as malloc does in a normal run; libhdf5 then reports an
# error) instead of aborting: a corrupt size field in a file is handled, not a crash.
export ASAN_OPTIONS="allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
for t in fuzz_options fuzz_expression fuzz_readers; do
  mkdir -p build-fuzz/findings/$t build-fuzz/corpus/$t
  echo "== $t: ${secs} s"
  # Work corpus in build-fuzz (grows), seeds from fuzz/corpus (committed).
  if ! build-fuzz/fuzz/$t build-fuzz/corpus/$t fuzz/corpus/$t -max_total_time="$secs" -rss_limit_mb=2048 \
       -max_len=32768 -timeout=10 -print_final_stats=1 -artifact_prefix=build-fuzz/findings/$t/ 2>build-fuzz/$t.log; then
    status=1
    echo "   finding(s): $(ls build-fuzz/findings/$t)"; tail -30 build-fuzz/$t.log
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" build-fuzz/$t.log | tr '\n' ' '; echo
done
exit $status
