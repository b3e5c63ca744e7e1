#!/bin/sh
# Runs every test binary in each build dir given (of an MPI build dir, its MPI tests: below); prints one line
# per test and the closing "N passed, N failed" line; exits non-zero if any failed. Tests find shared data
# via WARM_SHARED_DATA. A fuzz build dir (build/fuzz) runs each fuzz target for a few seconds instead
# (scripts/fuzz.sh smoke), or counts them skipped with the reason when clang/libFuzzer is not installed.
cd "$(dirname "$0")/.." || exit 2
: "${WARM_SHARED_DATA:=$(cd .. && pwd)/shared/data}"
export WARM_SHARED_DATA
# Tests too slow under ASan+UBSan without OpenMP (minutes of training): they run in the release build only;
# the code they exercise is covered under the sanitizers by the smaller tests (test_train, test_task, ...).
ASAN_SKIP="test_pipeline test_demo"
pass=0; fail=0; skipped=0; failed=""
# MPI builds (build/MODE-mpi) run only what needs several processes: test_dist under `mpirun -np 2` and
# `-np 3`, and tests/test_mpi.sh (sweeps, train-rm and merge through the CLI). --oversubscribe: more ranks
# than cores; as root (CI containers) Open MPI refuses to start unless told that this is intended.
if [ "$(id -u)" = 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
run_one() { # name, log, command...
  name=$1; log=$2; shift 2
  start=$(date +%s)
  if "$@" > "$log" 2>&1; then
    pass=$((pass + 1)); echo "PASS $name ($(( $(date +%s) - start ))s)"
  else
    fail=$((fail + 1)); failed="$failed $name"; echo "FAIL $name"; tail -n 30 "$log"
  fi
}
for dir in "$@"; do
  case "$dir" in *-mpi)
    for np in 2 3; do
      run_one "$dir/tests/test_dist (mpirun -np $np)" "$dir/tests/test_dist.np$np.log" \
        timeout 300 mpirun --oversubscribe -np $np "$dir/tests/test_dist"
    done
    run_one "tests/test_mpi.sh $dir" "$dir/tests/test_mpi.log" timeout 600 sh tests/test_mpi.sh "$dir"
    continue ;;
  esac
  case "$dir" in *fuzz*)
    for src in fuzz/fuzz_*.c; do
      name=$(basename "$src" .c)
      if ! sh scripts/fuzz.sh available >/dev/null; then
        skipped=$((skipped + 1)); echo "SKIP $name (no clang with libFuzzer: apt-get install clang-14 libclang-rt-14-dev)"
      elif out=$(sh scripts/fuzz.sh smoke "$name" 2>&1); then
        pass=$((pass + 1)); echo "PASS $dir/fuzz/$name ($(echo "$out" | head -1 | cut -d' ' -f3-4))"
      else
        fail=$((fail + 1)); failed="$failed $dir/fuzz/$name"; echo "FAIL $dir/fuzz/$name"; echo "$out" | tail -n 30
      fi
    done
    continue ;;
  esac
  for t in "$dir"/tests/test_*; do
    [ -x "$t" ] || continue
    case "$t" in *.d|*.o|*.log) continue ;; esac
    case "$dir" in *asan*)
      name=$(basename "$t")
      case " $ASAN_SKIP " in *" $name "*) skipped=$((skipped + 1)); echo "SKIP $t (release build only)"; continue ;; esac ;;
    esac
    run_one "$t" "$t.log" "$t"
  done
  # Bad input files handed to every command: exit status, error text, nothing written (docs/reliability.md).
  start=$(date +%s)
  if bash scripts/bad-inputs.sh "$dir" > "$dir/bad-inputs.log" 2>&1; then
    pass=$((pass + 1)); echo "PASS $dir/bad-inputs ($(( $(date +%s) - start ))s; $(tail -1 "$dir/bad-inputs.log"))"
  else
    fail=$((fail + 1)); failed="$failed $dir/bad-inputs"; echo "FAIL $dir/bad-inputs"; grep FAIL "$dir/bad-inputs.log"
  fi
done
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skipped skipped"
[ "$fail" -eq 0 ]
