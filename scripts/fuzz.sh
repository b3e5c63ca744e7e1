#!/bin/sh
# fuzz.sh — runs the libFuzzer targets of fuzz/ (built by `make MODE=fuzz fuzzers` into build/fuzz/fuzz/).
#   fuzz.sh available          exit 0 when clang and the libFuzzer runtime are installed (prints the compiler)
#   fuzz.sh smoke TARGET...    each target for FUZZ_SECONDS seconds (default 3) from its committed seed corpus
#                              fuzz/corpus/<name>/ (new inputs go to a scratch directory, not the corpus); exit
#                              non-zero on a crash, leak, timeout or sanitizer report (`make test` runs this)
#   fuzz.sh long [TARGET...]   each target (default: all) for FUZZ_RUNS executions (default 1000000), growing
#                              build/fuzz/corpus/<name>/ from the seeds; prints one "fuzz TARGET runs=N ..." line
#                              per target from libFuzzer's final stats (`make fuzz`; docs/reliability.md records them)
# A crashing input is written to build/fuzz/crash-<name>-*; replay it with build/fuzz/fuzz/fuzz_<name> FILE.
set -u
cd "$(dirname "$0")/.." || exit 2
BIN=build/fuzz/fuzz
OPTS="-rss_limit_mb=2048 -timeout=10 -max_len=16384 -print_final_stats=1"

available() {
  for cc in clang-14 clang; do
    if command -v "$cc" >/dev/null 2>&1; then
      rt=$("$cc" -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null)
      [ -f "$rt" ] && { command -v "$cc"; return 0; }
    fi
  done
  return 1
}

run_one() { # mode target
  name=${2#fuzz_}
  exe=$BIN/fuzz_$name
  [ -x "$exe" ] || { echo "fuzz.sh: $exe not built (make MODE=fuzz fuzzers)"; return 2; }
  mkdir -p "build/fuzz/corpus/$name"
  if [ "$1" = smoke ]; then
    scratch=$(mktemp -d /tmp/warm-fuzz-XXXXXX)
    "$exe" $OPTS -max_total_time="${FUZZ_SECONDS:-3}" -artifact_prefix="build/fuzz/crash-$name-" \
      "$scratch" "fuzz/corpus/$name" > "build/fuzz/$name.smoke.log" 2>&1
    rc=$?
    rm -rf "$scratch"
    log=build/fuzz/$name.smoke.log
  else
    "$exe" $OPTS -runs="${FUZZ_RUNS:-1000000}" -artifact_prefix="build/fuzz/crash-$name-" \
      "build/fuzz/corpus/$name" "fuzz/corpus/$name" > "build/fuzz/$name.long.log" 2>&1
    rc=$?
    log=build/fuzz/$name.long.log
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  secs=$(sed -n 's/.*Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  echo "fuzz $name runs=${runs:-?} seconds=${secs:-?} ${cov:-} exit=$rc log=$log"
  [ "$rc" -eq 0 ] || { tail -n 40 "$log"; return 1; }
}

mode=${1:-}
[ $# -gt 0 ] && shift
case "$mode" in
  available) available ;;
  smoke|long)
    targets=$*
    [ -z "$targets" ] && targets=$(ls fuzz/fuzz_*.c | sed 's|fuzz/\(fuzz_[a-z_]*\)\.c|\1|')
    st=0
    for t in $targets; do run_one "$mode" "$t" || st=1; done
    exit $st ;;
  *) echo "usage: fuzz.sh available | smoke TARGET... | long [TARGET...]" >&2; exit 2 ;;
esac
