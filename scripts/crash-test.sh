#!/bin/bash
# crash-test.sh — `make crash`: kill -9 at random moments of pretrain, train-rm, sweep and merge, rerun, and check
# that no file at a final name is ever corrupt or partial and that the resumed result is bit-identical to an
# uninterrupted run; then a full disk (a small tmpfs, else RLIMIT_FSIZE) must give a clear error and keep the
# previous file. docs/reliability.md records what it checks and a run's figures.
#
# Usage: scripts/crash-test.sh [BUILD_DIR]      (default build/release; needs BUILD_DIR/warm)
# Environment: CRASH_KILLS (kills per command, default 20), CRASH_SEED (default: the time; printed, so a failing
# run can be replayed), CRASH_KEEP=1 keeps the scratch directory.
# Exits non-zero on the first violation, naming the command, the kill and the file.
set -u
B=${1:-build/release}
W=$(cd "$(dirname "$B/warm")" && pwd)/warm
[ -x "$W" ] || { echo "crash-test: $B/warm not found (make first)"; exit 2; }
KILLS=${CRASH_KILLS:-20}
SEED=${CRASH_SEED:-$(date +%s)}
RANDOM=$SEED
T=$(mktemp -d /tmp/warm-crash-XXXXXX)
cleanup() {
  mountpoint -q "$T/full" 2>/dev/null && umount "$T/full"
  [ "${CRASH_KEEP:-0}" = 1 ] || rm -rf "$T"
}
trap cleanup EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
echo "crash-test: warm $W, scratch $T, $KILLS kills per command, CRASH_SEED=$SEED"

fail() { echo "FAIL: $*"; exit 1; }

# Every safetensors file at a final name (not a writer's *.tmp.*) must pass `warm inspect` (full header and size
# validation); every JSON file must parse; JSONL logs may only end with complete lines.
check_dir() { # what dir
  local f
  [ -d "$2" ] || return 0  # killed before it created its directory
  while IFS= read -r f; do
    case "$f" in *.tmp.*|*.old.*) continue ;; esac
    case "$f" in
      *.safetensors) "$W" inspect "$f" >/dev/null 2>"$T/inspect.err" || fail "$1: corrupt $f: $(head -c 300 "$T/inspect.err")" ;;
      *.json) if command -v python3 >/dev/null; then
                python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$f" 2>/dev/null || fail "$1: invalid JSON $f"
              fi ;;
      *.jsonl) [ ! -s "$f" ] || [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" = '\n' ] || fail "$1: $f ends mid-line" ;;
    esac
  done < <(find "$2" -type f)
}

# Writers' temp files of dead processes must not pile up: after a completed rerun none may be left.
check_no_tmp() { # what dir
  local left
  left=$(find "$2" -name '*.tmp.*' | head -3)
  [ -z "$left" ] || fail "$1: temp files left after a completed run: $left"
}

same() { cmp -s "$2" "$3" || fail "$1: $3 differs from the uninterrupted run's $2"; }

# Seconds (decimal) uniform in [0, max_ms) milliseconds.
rand_s() { local ms=$(( (RANDOM * 32768 + RANDOM) % $1 )); printf '%d.%03d' $((ms / 1000)) $((ms % 1000)); }

# Runs "$@" in the background, kills it with SIGKILL after a random time below max_ms; returns 0 when the kill
# landed (the process was still running), 1 when it had already exited (its exit status in $RC).
kill_run() { # max_ms cmd...
  local max=$1; shift
  "$@" >"$T/run.log" 2>&1 &
  local pid=$!
  sleep "$(rand_s "$max")"
  if kill -9 "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null; return 0; fi
  wait "$pid"; RC=$?
  return 1
}

ms_of() { local t0 t1; t0=$(date +%s%N); "$@" >"$T/ref.log" 2>&1 || { cat "$T/ref.log"; fail "reference run: $*"; }
          t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }

# Kill/rerun cycles of a resumable command until KILLS kills have landed; after each kill the directory is checked;
# when a rerun completes, its outputs are compared with the reference and the directory starts afresh.
crash_loop() { # what dir ref_ms compare_fn cmd...
  local what=$1 dir=$2 max=$3 cmp=$4; shift 4
  local kills=0 cycles=0 runs=0
  rm -rf "$dir"
  while [ "$kills" -lt "$KILLS" ]; do
    runs=$((runs + 1))
    if kill_run "$max" "$@"; then
      kills=$((kills + 1))
      check_dir "$what (after kill $kills)" "$dir"
    else
      [ "$RC" -eq 0 ] || { cat "$T/run.log"; fail "$what: rerun after kill $kills exited $RC"; }
      check_dir "$what (completed)" "$dir"
      check_no_tmp "$what" "$dir"
      "$cmp" "$what"
      cycles=$((cycles + 1))
      rm -rf "$dir"
    fi
  done
  "$@" >"$T/run.log" 2>&1 || { cat "$T/run.log"; fail "$what: final rerun exited non-zero"; }
  check_dir "$what (final)" "$dir"
  check_no_tmp "$what" "$dir"
  "$cmp" "$what"
  echo "ok: $what: $kills kills over $runs runs, $((cycles + 1)) completed runs bit-identical to the uninterrupted one"
}

# ---------------------------------------------------------------------------------------------------- data
"$W" task generate --seed 1 --n-pretrain 400 --n-sft 20 --n-sft-val 10 --n-prompts 20 --n-val 10 --n-ood 10 \
  --out "$T/task" >/dev/null 2>&1 || fail "task generate"
# Pre-tokenised preference pairs with ids inside the task's vocabulary (awk, seeded: the same file every run).
awk 'BEGIN { srand(1); for (i = 0; i < 240; i++) {
  printf "{\"prompt_ids\":["; n = 20 + int(rand() * 20); for (j = 0; j < n; j++) printf "%s%d", (j ? "," : ""), 3 + int(rand() * 250)
  printf "],\"chosen_ids\":["; n = 3 + int(rand() * 8); for (j = 0; j < n; j++) printf "%s%d", (j ? "," : ""), 3 + int(rand() * 250)
  printf "],\"rejected_ids\":["; n = 3 + int(rand() * 8); for (j = 0; j < n; j++) printf "%s%d", (j ? "," : ""), 3 + int(rand() * 250)
  printf "],\"split\":\"%s\"}\n", (i < 200 ? "train" : "val") } }' > "$T/prefs.jsonl"

# ---------------------------------------------------------------------------------------------------- pretrain
PRE=(pretrain --data "$T/task/pretrain.jsonl" --tokenizer "$T/task/tokenizer.json" --layers 2 --heads 2 --width 64
     --context 96 --steps 80 --batch 8 --save-every 4 --log-every 4 --seed 3)
ms=$(ms_of "$W" "${PRE[@]}" -o "$T/ref/pre")
echo "reference pretrain: $ms ms"
cmp_pre() { same "$1" "$T/ref/pre/final.safetensors" "$T/crash/pre/final.safetensors"; }
crash_loop pretrain "$T/crash/pre" "$ms" cmp_pre "$W" "${PRE[@]}" -o "$T/crash/pre"
INIT="$T/ref/pre/final.safetensors"

# ---------------------------------------------------------------------------------------------------- train-rm
RM=(train-rm --init "$INIT" --data "$T/prefs.jsonl" --subset train --val "$T/prefs.jsonl" --val-subset val
    --steps 60 --batch 8 --resume-every 3 --save-every 20 --seed 5)
ms=$(ms_of "$W" "${RM[@]}" -o "$T/ref/rm")
echo "reference train-rm: $ms ms"
cmp_rm() { same "$1" "$T/ref/rm/final.safetensors" "$T/crash/rm/final.safetensors"; }
crash_loop train-rm "$T/crash/rm" "$ms" cmp_rm "$W" "${RM[@]}" -o "$T/crash/rm"

# ---------------------------------------------------------------------------------------------------- sweep
SW=(sweep --members 3 --init "$INIT" --data "$T/prefs.jsonl" --subset train --val "$T/prefs.jsonl" --val-subset val
    --steps 24 --batch 8 --resume-every 3 --jobs 1 --draw-seed 2)
ms=$(ms_of "$W" "${SW[@]}" -o "$T/ref/sweep")
echo "reference sweep: $ms ms"
cmp_sweep() { local i; for i in 00 01 02; do
  same "$1" "$T/ref/sweep/member-$i/final.safetensors" "$T/crash/sweep/member-$i/final.safetensors"; done; }
crash_loop sweep "$T/crash/sweep" "$ms" cmp_sweep "$W" "${SW[@]}" -o "$T/crash/sweep"

# ---------------------------------------------------------------------------------------------------- merge
# Larger inputs (config S, ~20 MB each) so that a merge lasts long enough to be hit; the output path already holds
# a previous file, which a killed merge must leave whole (old bits or the complete new ones).
for s in 1 2 3; do "$W" init --preset S --seed "$s" -o "$T/in$s.safetensors" >/dev/null || fail "init"; done
MG=(merge "$T/in1.safetensors" "$T/in2.safetensors" "$T/in3.safetensors" -q)
ms=$(ms_of "$W" "${MG[@]}" -o "$T/ref/merged.safetensors")
"$W" "${MG[@]}" --shard-size 4000000 -o "$T/ref/merged-dir" >/dev/null 2>&1 || fail "reference directory merge"
echo "reference merge: $ms ms"
"$W" merge "$T/in1.safetensors" "$T/in2.safetensors" -q --shard-size 4000000 -o "$T/prev-dir" >/dev/null 2>&1 ||
  fail "previous directory merge"
mkdir -p "$T/crash/merge"
kills=0 runs=0
while [ "$kills" -lt "$KILLS" ]; do
  runs=$((runs + 1))
  if [ $((runs % 2)) -eq 0 ]; then  # directory output (shards + index), previous output: another merge
    out="$T/crash/merge/merged-dir" ref="$T/ref/merged-dir" prev="$T/prev-dir" extra=(--shard-size 4000000)
  else                              # single file, previous output: an input
    out="$T/crash/merge/merged.safetensors" ref="$T/ref/merged.safetensors" prev="$T/in1.safetensors" extra=()
  fi
  rm -rf "$out"
  cp -r "$prev" "$out"
  if kill_run $((ms * 3 / 2)) "$W" "${MG[@]}" "${extra[@]}" -o "$out"; then
    kills=$((kills + 1))
    check_dir "merge (after kill $kills)" "$T/crash/merge"
    [ -e "$out" ] || fail "merge (after kill $kills): $out is gone (the previous output must stay until the new one replaces it)"
    diff -r "$out" "$prev" >/dev/null || diff -r "$out" "$ref" >/dev/null ||
      fail "merge (after kill $kills): $out is neither the previous output nor the complete result"
  else
    [ "$RC" -eq 0 ] || { cat "$T/run.log"; fail "merge exited $RC"; }
    diff -r "$out" "$ref" >/dev/null || fail "merge: $out differs from the reference"
  fi
done
"$W" "${MG[@]}" -o "$T/crash/merge/merged.safetensors" >"$T/run.log" 2>&1 || { cat "$T/run.log"; fail "merge rerun"; }
same merge "$T/ref/merged.safetensors" "$T/crash/merge/merged.safetensors"
"$W" "${MG[@]}" --shard-size 4000000 -o "$T/crash/merge/merged-dir" >"$T/run.log" 2>&1 || fail "merge rerun (directory)"
diff -r "$T/ref/merged-dir" "$T/crash/merge/merged-dir" >/dev/null || fail "merge: rerun directory differs"
check_no_tmp merge "$T/crash/merge"
old=$(find "$T/crash/merge" -maxdepth 1 -name '*.old.*' | wc -l)
echo "ok: merge: $kills kills over $runs runs (file and directory output); the previous output stayed whole after" \
     "every kill; completed runs bit-identical; no temp file left after a rerun; $old .old directories left"

# ---------------------------------------------------------------------------------------------------- disk full
# The output directory is a 1 MiB tmpfs when this shell may mount one (root), else the write is capped with
# RLIMIT_FSIZE (ulimit -f, SIGXFSZ ignored so the write fails with EFBIG instead of killing the process).
mkdir -p "$T/full"
how="tmpfs of 1 MiB"
if ! mount -t tmpfs -o size=1m tmpfs "$T/full" 2>/dev/null; then how="RLIMIT_FSIZE of 1 MiB"; fi
full_run() { # cmd... (runs under the cap when there is no tmpfs)
  if [ "$how" = "tmpfs of 1 MiB" ]; then "$@"; else (trap '' XFSZ; ulimit -f 1024; "$@"); fi
}
printf 'previous' > "$T/full/merged.safetensors"
full_run "$W" "${MG[@]}" -o "$T/full/merged.safetensors" >"$T/full.log" 2>&1
rc=$?
[ "$rc" -ne 0 ] || fail "disk full ($how): merge exited 0"
grep -q "merged.safetensors" "$T/full.log" || fail "disk full: the error does not name the output: $(cat "$T/full.log")"
grep -qiE "no space|too large|write|size" "$T/full.log" || fail "disk full: unclear error: $(cat "$T/full.log")"
[ "$(cat "$T/full/merged.safetensors")" = previous ] || fail "disk full: the previous file was changed"
[ -z "$(find "$T/full" -name '*.tmp.*')" ] || fail "disk full: a temp file was left behind"
echo "ok: disk full ($how): merge exit $rc, '$(head -1 "$T/full.log" | cut -c1-160)', previous file kept, no temp file"
full_run "$W" "${RM[@]}" --steps 6 -o "$T/full/rm" >"$T/full.log" 2>&1
rc=$?
[ "$rc" -ne 0 ] || fail "disk full ($how): train-rm exited 0"
check_dir "train-rm (disk full)" "$T/full/rm"
[ -z "$(find "$T/full" -name '*.tmp.*')" ] || fail "disk full: train-rm left a temp file"
echo "ok: disk full ($how): train-rm exit $rc, '$(grep -m1 -iE 'error|warm' "$T/full.log" | cut -c1-160)', no partial file"
echo "crash-test: all passed (CRASH_SEED=$SEED)"
