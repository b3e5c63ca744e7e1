#!/bin/sh
# merge_bench.sh — `warm merge` of M = 2, 6, 10 GPT-2-small checkpoints (~498 MB each, F32) beside the
# bandwidth bound (`cat` of the same inputs to /dev/null) and a numpy memmap average (bench/numpy_merge.py).
# Reports wall time, GB/s of input read and peak RSS (/usr/bin/time %M) for each; warm-cache rows are the best
# of 3 runs (the machine is shared), cold rows single runs. Not a test.
#
#   sh bench/merge_bench.sh [WARM_BIN] [DIR]      defaults: build/release/warm, /tmp/warm-merge-bench
#   KEEP=1 keeps the generated checkpoints; THREADS=n passes --threads n to warm merge.
#
# Page cache. "cold" runs first evict the inputs' pages with posix_fadvise(DONTNEED) on those files only
# (nothing else is dropped), so their bytes come from the disk; "warm" runs follow a `cat` that loads them.
# Outputs go to $DIR (ext4 here: the atomic writer's fsync of ~0.5 GB is part of the time) and to /dev/shm
# (tmpfs: no disk write, the merge engine alone). numpy writes without fsync unless noted.
# (*) --threads 2 runs with OMP_WAIT_POLICY=passive: with spinning OpenMP threads on a machine without a
# free core, every block barrier can wait a whole scheduler time slice.
set -eu
WARM=${1:-build/release/warm}
DIR=${2:-/tmp/warm-merge-bench}
THREADS=${THREADS:-1}
PY=/usr/bin/python3
NP="$(dirname "$0")/numpy_merge.py"
SHM=/dev/shm

mkdir -p "$DIR"
need_kb=$((10 * 500 * 1024 + 600 * 1024))
free_kb=$(df -Pk "$DIR" | awk 'NR == 2 {print $4}')
if [ ! -f "$DIR/m10.safetensors" ] && [ "$free_kb" -lt "$need_kb" ]; then
  echo "merge_bench: need ~5.6 GB free in $DIR (have $((free_kb / 1024)) MB)" >&2
  exit 1
fi
for i in 1 2 3 4 5 6 7 8 9 10; do
  [ -f "$DIR/m$i.safetensors" ] || "$WARM" init --preset gpt2 --seed "$i" -o "$DIR/m$i.safetensors" >/dev/null
done

evict() { $PY -c 'import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY); os.fsync(fd); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)' "$@"; }
# run N LABEL BYTES CMD...: the best (shortest) of N runs as "label  seconds  GB/s of BYTES  peak RSS MB"
# (BYTES: the inputs' size, except for the cp row: one file)
run() {
  n=$1; label=$2; rb=$3; shift 3
  best=""; bkb=0
  for _ in $(seq 1 "$n"); do
    /usr/bin/time -f "%e %M" -o "$DIR/time.txt" "$@" >/dev/null 2>"$DIR/err.txt" || { cat "$DIR/err.txt" >&2; exit 1; }
    read -r sec kb < "$DIR/time.txt"
    if [ -z "$best" ] || awk -v a="$sec" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$sec; fi
    [ "$kb" -gt "$bkb" ] && bkb=$kb
  done
  awk -v l="$label" -v s="$best" -v b="$rb" -v k="$bkb" \
    'BEGIN { printf "  %-40s %6.2f s  %6.2f GB/s  %8.1f MB\n", l, s, b / 1e9 / s, k / 1024 }'
}

# rss_split CMD...: peak anonymous and file-backed resident memory of CMD, sampled from /proc (polling:
# a lower bound of the true peaks). Mapped page-cache pages count as RssFile; the merge's own buffers as
# RssAnon.
rss_split() {
  "$@" >/dev/null 2>&1 & pid=$!
  ma=0; mf=0
  while kill -0 "$pid" 2>/dev/null; do
    set -- $(awk '/^RssAnon/ {a = $2} /^RssFile/ {f = $2} END {print a + 0, f + 0}' "/proc/$pid/status" 2>/dev/null || echo 0 0)
    [ "$1" -gt "$ma" ] && ma=$1
    [ "$2" -gt "$mf" ] && mf=$2
  done
  wait "$pid"
  awk -v a="$ma" -v f="$mf" 'BEGIN { printf "  %-40s RssAnon %.1f MB, RssFile %.1f MB\n", "  of which (sampled peaks):", a / 1024, f / 1024 }'
}

echo "merge_bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), kernel $(uname -r)"
echo "  warm: $WARM --threads $THREADS; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for M in 2 6 10; do
  files=""
  for i in $(seq 1 "$M"); do files="$files $DIR/m$i.safetensors"; done
  # shellcheck disable=SC2086
  bytes=$(du -cb $files | tail -1 | cut -f1)
  echo "M = $M ($(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1e9 }') GB of input)      wall      read     peak RSS"
  # shellcheck disable=SC2086
  {
    evict $files; run 1 "cat > /dev/null (cold)" "$bytes" cat $files
    evict $files; run 1 "warm merge -> disk (cold)" "$bytes" "$WARM" merge $files -o "$DIR/out.safetensors" -q --threads "$THREADS"
    evict $files; run 1 "numpy -> disk, fsync (cold)" "$bytes" $PY "$NP" "$DIR/np.safetensors" $files --fsync
    cat $files > /dev/null
    run 3 "cat > /dev/null (warm)" "$bytes" cat $files
    run 3 "cp 1 input -> /dev/shm (output write)" "$(du -b "$DIR/m1.safetensors" | cut -f1)" cp "$DIR/m1.safetensors" "$SHM/warm-bench-cp"
    rm -f "$SHM/warm-bench-cp"
    run 3 "warm merge -> /dev/shm (warm)" "$bytes" "$WARM" merge $files -o "$SHM/warm-bench-out.safetensors" -q --threads "$THREADS"
    rss_split "$WARM" merge $files -o "$SHM/warm-bench-out.safetensors" -q --threads "$THREADS"
    run 3 "warm merge -> /dev/shm (warm, 2 thr)*" "$bytes" env OMP_WAIT_POLICY=passive "$WARM" merge $files -o "$SHM/warm-bench-out.safetensors" -q --threads 2
    rm -f "$SHM/warm-bench-out.safetensors"
    run 3 "numpy -> /dev/shm (warm)" "$bytes" $PY "$NP" "$SHM/warm-bench-np.safetensors" $files
    rss_split $PY "$NP" "$SHM/warm-bench-np.safetensors" $files
    rm -f "$SHM/warm-bench-np.safetensors"
    run 3 "warm merge -> disk, fsync (warm)" "$bytes" "$WARM" merge $files -o "$DIR/out.safetensors" -q --threads "$THREADS"
    run 3 "numpy -> disk, fsync (warm)" "$bytes" $PY "$NP" "$DIR/np.safetensors" $files --fsync
  }
done
# Sanity: the last two outputs agree (numpy accumulates in float32, warm in float64: close, not identical).
$PY - "$DIR/out.safetensors" "$DIR/np.safetensors" <<'EOF_PY'
import json, struct, sys
import numpy as np
def load(p):
    with open(p, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]; h = json.loads(f.read(n))
    h.pop("__metadata__", None)
    return {k: np.memmap(p, np.float32, "r", 8 + n + v["data_offsets"][0], (int(np.prod(v["shape"])),)) for k, v in h.items()}
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a.keys() == b.keys()
d = max(float(np.max(np.abs(a[k] - b[k]))) for k in a)
print("  max |warm - numpy| over all tensors: %.3g" % d)
EOF_PY
rm -f "$DIR/out.safetensors" "$DIR/np.safetensors" "$DIR/time.txt" "$DIR/err.txt"
if [ "${KEEP:-0}" != 1 ]; then rm -rf "$DIR"; fi
