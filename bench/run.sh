#!/bin/sh
# Benchmarks (`make bench`): warm against PyTorch on the same machine, in one run.
#   bench_matmul       optimised GEMM vs its naive twin (forward, dinp, dweight), 1 and 2 threads
#   bench_train S|M    warm: reward-model training step, scoring (training path, packed and batched engines),
#                      decode (KV cache vs recompute), 1..nproc threads
#   torch_bench.py     the same model in PyTorch (Debian's python3-torch) with --sweep: every OpenBLAS core type
#                      valid on this CPU x thread count, PyTorch's best setting per measurement ("torch best")
#   ratio lines        warm / PyTorch's best, per config and measurement; refused when PyTorch does not run on
#                      OpenBLAS (Debian's python3-torch alone gets the reference libblas3, 10-20x slower)
#   bench_pairs        pair training on realistic pairs (synthetic, seed 1): padded vs shared-prefix packed step,
#                      then torch_bench.py --pairs on the same pairs with the core type that won config S training
#   bench_rl           RL steps/s of warm_rl_step (8 prompts x k 4 x 32 new tokens, config S, random weights) and
#                      its split: sampling, reference log-probs, reward model, update; baseline in the same run:
#                      the same samples drawn one warm_generate call at a time (no shared prefix, no batching)
#   bench_bpe          GPT-2 BPE encoding of Tiny Shakespeare on one core (MB/s), then bpe_node.js: the npm
#                      encoders js-tiktoken and gpt-3-encoder on the same text (skipped without node or the
#                      packages in build/npm)
# Usage: bench/run.sh BUILD_DIR   (prints figures; docs/benchmarks.md records them with date and machine)
# Environment: BENCH_CONFIGS (default "S M"), BENCH_PAIRS=0 skips the pair benchmark.
set -eu
B=${1:-build/release}
NPROC=$(nproc)
echo "# $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -n): $(lscpu | sed -n 's/^Model name: *//p' | head -1), $NPROC cores;" \
     "flags: $(grep -m1 -o 'avx512[a-z_0-9]*\|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg) (figures under load are not idle figures)"
# PyTorch must load OpenBLAS: prefer its libblas.so.3 over whatever the libblas.so.3 alternative points to.
OB=/usr/lib/$(uname -m)-linux-gnu/openblas-pthread
[ -d "$OB" ] && export LD_LIBRARY_PATH="$OB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "## matmul"
"$B/bench/bench_matmul"
OUT=$(mktemp /tmp/warm-bench-XXXXXX)
PAIRS=$(mktemp /tmp/warm-pairs-XXXXXX)
trap 'rm -f "$OUT" "$OUT.part" "$PAIRS"' EXIT
ratios=1
for cfg in ${BENCH_CONFIGS:-S M}; do
  t=1
  while [ "$t" -le "$NPROC" ]; do
    echo "## config $cfg, warm, $t thread(s)"
    OMP_NUM_THREADS=$t "$B/bench/bench_train" "$cfg" 10 > "$OUT.part"
    cat "$OUT.part" | tee -a "$OUT"
    t=$((t + 1))
  done
  echo "## config $cfg, PyTorch: every valid OPENBLAS_CORETYPE x threads 1..$NPROC"
  rc=0
  /usr/bin/python3 bench/torch_bench.py --config "$cfg" --sweep > "$OUT.part" || rc=$?
  cat "$OUT.part" | tee -a "$OUT"
  [ "$rc" -eq 3 ] && ratios=0
  [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ] && exit "$rc"
done
echo "## ratios: warm / PyTorch's best setting (same run)"
if [ "$ratios" -eq 0 ]; then
  echo "no ratio: PyTorch did not run on OpenBLAS (see 'torch blas=' above); a ratio against the reference BLAS" \
       "would overstate warm 10-20x"
else
  awk '
    /^warm config=/ { split("", f); for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
                      if (f["what"] ~ /^(train|score|score_full|score_packed)$/) warm[f["config"] " " f["what"] " " f["threads"]] = f["tokens_per_s"]; next }
    /^torch best config=/ { split("", f); for (i = 3; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
                      best[f["config"] " " f["what"]] = f["tokens_per_s"]; how[f["config"] " " f["what"]] = f["OPENBLAS_CORETYPE"] " x " f["threads"] " thr" }
    END { for (k in warm) { split(k, p, " "); tw = (p[2] ~ /^score/) ? "score" : p[2]; b = best[p[1] " " tw]
            if (b > 0) printf "ratio config=%s what=%s warm_threads=%s warm=%s torch_best=%.0f (%s) ratio=%.2f\n", p[1], p[2], p[3], warm[k], b, how[p[1] " " tw], warm[k] / b } }
  ' "$OUT" | sort
fi
if [ "${BENCH_PAIRS:-1}" != 0 ]; then
  CT=$(sed -n 's/^torch best config=S what=train .*OPENBLAS_CORETYPE=\([^ ]*\).*/\1/p' "$OUT" | head -1)
  [ "$CT" = unset ] && CT=
  for w in 128 256; do
    for t in 1 2; do
      echo "## pair training, width $w, $t thread(s) (PyTorch: OPENBLAS_CORETYPE=${CT:-unset}, config S training's best)"
      OMP_NUM_THREADS=$t "$B/bench/bench_pairs" --width "$w" --steps 20 --dump "$PAIRS"
      if [ -n "$CT" ]; then export OPENBLAS_CORETYPE="$CT"; else unset OPENBLAS_CORETYPE; fi
      /usr/bin/python3 bench/torch_bench.py --pairs "$PAIRS" --width "$w" --threads "$t" --steps 5
    done
  done
fi
t=1
while [ "$t" -le "$NPROC" ]; do
  echo "## RL step (warm rl's warm_rl_step), config S, $t thread(s): steps/s, split, sampling vs one sample at a time"
  OMP_NUM_THREADS=$t "$B/bench/bench_rl" S 3 4
  t=$((t + 1))
done
echo "## GPT-2 BPE tokenizer, 1 thread"
"$B/bench/bench_bpe"
if command -v node >/dev/null && [ -d build/npm/node_modules/js-tiktoken ] && [ -d build/npm/node_modules/gpt-3-encoder ]; then
  node bench/bpe_node.js
else
  echo "npm baseline skipped: needs node and build/npm/node_modules (make bpe-fixtures installs them)"
fi
