#!/bin/sh
# test_mpi.sh BUILD_DIR_MPI — the MPI build through the command line (docs/scale.md), against the plain build
# beside it (BUILD_DIR_MPI without "-mpi"). Run by scripts/run-tests.sh; exits non-zero on the first failure.
#   1. `mpirun -np 2 warm sweep` (3 members over 2 ranks, rounds) writes the same members, byte for byte, as
#      the one-process `warm sweep --jobs 1` of the plain build, and a manifest with every member done.
#   2. Rank 0 killed (SIGKILL) mid-sweep, in the second round, where member-02 has a consistent last.* pair
#      (the rank is frozen with SIGSTOP until its two files name one step): mpirun ends the job; the members finished
#      before are intact; the half-trained member-02 resumes from its last.*; the rerun completes the sweep,
#      and its members equal the plain sweep's byte for byte.
#   3. `mpirun -np 3 warm sweep` with 1 member: 3 ranks train it data parallel; rerunning does nothing.
#   4. `mpirun -np 2 warm train-rm` stopped half-way, finished by the plain build alone (resume across rank
#      counts through the CLI).
#   5. `mpirun -np 2/3 warm merge` (uniform, weighted) equals the file merge byte for byte; methods that are
#      not a reduction are refused.
#   6. Refusals: other commands under mpirun, and the plain build under mpirun.
set -eu
MPIDIR=$1
PLAINDIR=${MPIDIR%-mpi}
W=$(pwd)/$MPIDIR/warm
P=$(pwd)/$PLAINDIR/warm
[ -x "$W" ] && [ -x "$P" ] || { echo "test_mpi.sh: needs $W and $P"; exit 2; }
T=$(mktemp -d /tmp/warm-mpi-XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
MPIRUN="mpirun --oversubscribe"
export OMP_NUM_THREADS=1
fail() { echo "FAIL: $*"; exit 1; }
step() { echo "== $*"; }

# ---- data: the easy MARKER preference (tests/test_util.h) in the tiny preset's vocabulary (eos = pad = 255)
sh scripts/marker_pairs.sh 7 256 64 200 255 3 3 3 4 > "$T/pairs.jsonl"
"$P" init --preset tiny --seed 1 -o "$T/init.safetensors" > /dev/null
SW="--init $T/init.safetensors --data $T/pairs.jsonl --subset train --val $T/pairs.jsonl --val-subset val
    --lr 1e-3,3e-4 --dropout 0.1 --batch 8 --log-every 10"

same_members() { # dir_a dir_b n
  i=0
  while [ $i -lt "$3" ]; do
    f=$(printf 'member-%02d/final.safetensors' $i)
    cmp -s "$1/$f" "$2/$f" || fail "$1/$f differs from $2/$f"
    i=$((i + 1))
  done
}

step "1. mpirun -np 2 warm sweep == warm sweep --jobs 1 (3 members, byte for byte)"
"$P" sweep --members 3 --steps 12 $SW --jobs 1 -o "$T/one" > "$T/one.out" 2>&1 || { cat "$T/one.out"; fail "plain sweep"; }
$MPIRUN -np 2 "$W" sweep --members 3 --steps 12 $SW -o "$T/two" > "$T/two.out" 2>&1 || { cat "$T/two.out"; fail "mpi sweep"; }
same_members "$T/one" "$T/two" 3
grep -q '"n_done":	3' "$T/two/manifest.json" || fail "manifest: not every member done"
grep -q 'over 2 MPI ranks' "$T/two.out" || fail "no rank line in the sweep's log"
[ "$(grep -c 'train-rm: 12 steps' "$T/two/member-02/train.log")" = 1 ] || fail "member-02/train.log"

step "2. a rank killed mid-sweep; the rerun completes it"
"$P" sweep --members 4 --steps 400 $SW --resume-every 20 --jobs 1 -o "$T/ref4" > "$T/ref4.out" 2>&1 ||
  { cat "$T/ref4.out"; fail "plain sweep of 4"; }
$MPIRUN -np 2 "$W" sweep --members 4 --steps 400 $SW --resume-every 20 -o "$T/kill" > "$T/kill.out" 2>&1 &
MP=$!
n=0 # wait until the second round is under way: member-02 has a resumable point
while [ ! -f "$T/kill/member-02/last.safetensors" ] && [ $n -lt 1000 ]; do sleep 0.01; n=$((n + 1)); done
[ -f "$T/kill/member-02/last.safetensors" ] || { kill $MP; cat "$T/kill.out"; fail "member-02 never started"; }
victim=""
for c in $(pgrep -P $MP); do
  grep -qz '^OMPI_COMM_WORLD_RANK=0$' /proc/$c/environ 2>/dev/null && victim=$c
done
[ -n "$victim" ] || { kill $MP; fail "rank 0's process not found"; }
# Freeze rank 0 where its two last.* files name the same step (not between their writes), then kill it.
n=0
while :; do
  kill -STOP "$victim"
  steps=$("$P" inspect -s "$T/kill/member-02/last.safetensors" "$T/kill/member-02/last.state.safetensors" 2>/dev/null |
          grep '^  meta warm.step = ' | sort -u)
  if [ "$(echo "$steps" | wc -l)" = 1 ] && [ -n "$steps" ] && ! ls "$T/kill/member-02/" | grep -q '\.tmp\.'; then break; fi
  kill -CONT "$victim"; n=$((n + 1)); [ $n -lt 100 ] || { kill $MP; fail "no consistent last.* pair to kill at"; }
  sleep 0.01
done
kill -9 "$victim"
if wait $MP; then fail "mpirun exited 0 after a rank was killed"; fi
[ ! -f "$T/kill/member-02/final.safetensors" ] || fail "member-02 finished before the kill: the test did not test"
sum_before=$(cat "$T/kill/member-00/final.safetensors" "$T/kill/member-01/final.safetensors" | cksum)
$MPIRUN -np 2 "$W" sweep --members 4 --steps 400 $SW --resume-every 20 -o "$T/kill" > "$T/rerun.out" 2>&1 ||
  { cat "$T/rerun.out"; fail "rerun after the kill"; }
[ "$(cat "$T/kill/member-00/final.safetensors" "$T/kill/member-01/final.safetensors" | cksum)" = "$sum_before" ] ||
  fail "finished members changed"
grep -q 'resumed' "$T/kill/member-02/train.log" || fail "member-02 did not resume from its last.*"
same_members "$T/ref4" "$T/kill" 4
grep -q '"n_done":	4' "$T/kill/manifest.json" || fail "manifest after the rerun"

step "3. mpirun -np 3 warm sweep, 1 member: data parallel inside it"
$MPIRUN -np 3 "$W" sweep --members 1 --steps 12 $SW -o "$T/dp" > "$T/dp.out" 2>&1 || { cat "$T/dp.out"; fail "dp sweep"; }
grep -q '1 member at a time, 3 ranks (data parallel) each' "$T/dp.out" || { cat "$T/dp.out"; fail "dp sweep plan"; }
grep -q 'data parallel over 3 ranks' "$T/dp/member-00/train.log" || fail "member-00 was not trained by 3 ranks"
grep -q '"n_done":	1' "$T/dp/manifest.json" || fail "dp manifest"
size=$(wc -c < "$T/dp/member-00/train.log")
$MPIRUN -np 3 "$W" sweep --members 1 --steps 12 $SW -o "$T/dp" > "$T/dp2.out" 2>&1 || fail "dp sweep rerun"
[ "$(wc -c < "$T/dp/member-00/train.log")" = "$size" ] || fail "the rerun trained again"

step "4. train-rm: 2 ranks stop half-way, one process finishes"
RM="--init $T/init.safetensors --data $T/pairs.jsonl --subset train --val $T/pairs.jsonl --val-subset val
    --steps 20 --batch 8 --lr 1e-3 --seed 3"
$MPIRUN -np 2 "$W" train-rm $RM --stop-after 10 -o "$T/rm" > "$T/rm.out" 2>&1 || { cat "$T/rm.out"; fail "train-rm -np 2"; }
grep -q 'stopped at step 10 of 20' "$T/rm.out" || { cat "$T/rm.out"; fail "train-rm -np 2 did not stop at 10"; }
[ "$(grep -c 'stopped at step' "$T/rm.out")" = 1 ] || fail "more than rank 0 printed the result"
"$P" train-rm $RM -o "$T/rm" > "$T/rm2.out" 2>&1 || { cat "$T/rm2.out"; fail "train-rm resumed alone"; }
grep -q '20 steps (resumed)' "$T/rm2.out" || { cat "$T/rm2.out"; fail "not resumed"; }
[ -f "$T/rm/final.safetensors" ] || fail "no final.safetensors"

step "5. mpirun warm merge == warm merge (byte for byte)"
M3="$T/one/member-00/final.safetensors $T/one/member-01/final.safetensors $T/one/member-02/final.safetensors"
"$P" merge $M3 -o "$T/file.safetensors" > /dev/null
$MPIRUN -np 2 "$W" merge $M3 -o "$T/coll2.safetensors" > "$T/merge.out" 2>&1 || { cat "$T/merge.out"; fail "merge -np 2"; }
cmp "$T/file.safetensors" "$T/coll2.safetensors" || fail "uniform merge over 2 ranks differs from the file merge"
"$P" merge $M3 --method weighted --weights 1,2.5,0.5 --dtype bf16 -o "$T/wfile.safetensors" > /dev/null
$MPIRUN -np 3 "$W" merge $M3 --method weighted --weights 1,2.5,0.5 --dtype bf16 -o "$T/wcoll3.safetensors" \
  > "$T/merge3.out" 2>&1 || { cat "$T/merge3.out"; fail "merge -np 3"; }
cmp "$T/wfile.safetensors" "$T/wcoll3.safetensors" || fail "weighted bf16 merge over 3 ranks differs"
if $MPIRUN -np 2 "$W" merge $M3 --method greedy --val "$T/pairs.jsonl" -o "$T/g.safetensors" > "$T/g.out" 2>&1; then
  fail "greedy merge under mpirun was accepted"
fi
grep -q 'uniform or weighted' "$T/g.out" || { cat "$T/g.out"; fail "greedy refusal message"; }

step "6. refusals"
if $MPIRUN -np 2 "$W" eval --rm "$T/file.safetensors" --data "$T/pairs.jsonl" > "$T/r1.out" 2>&1; then
  fail "eval ran under mpirun"
fi
grep -q 'only train-rm, sweep and merge run under mpirun' "$T/r1.out" || fail "eval refusal message"
if $MPIRUN -np 2 "$P" merge $M3 -o "$T/x.safetensors" > "$T/r2.out" 2>&1; then fail "plain build ran under mpirun"; fi
grep -q 'built without MPI' "$T/r2.out" || fail "plain build refusal message"
[ ! -f "$T/x.safetensors" ] || fail "the refused merge wrote its output"
echo "test_mpi.sh: all passed"
