#!/bin/sh
# Runs every test binary in each build dir given (of an MPI build dir, its MPI tests: below); prints one line
# per test and the closing "N passed, N failed" line; exits non-zero if any failed. Tests find shared data
# via WARM_SHARED_DATA.
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
  for t in "$dir"/tests/test_*; do
    [ -x "$t" ] || continue
    case "$t" in *.d|*.o|*.log) continue ;; esac
    case "$dir" in *asan*)
      name=$(basename "$t")
      case " $ASAN_SKIP " in *" $name "*) skipped=$((skipped + 1)); echo "SKIP $t (release build only)"; continue ;; esac ;;
    esac
    run_one "$t" "$t.log" "$t"
  done
done
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skipped skipped"
[ "$fail" -eq 0 ]
