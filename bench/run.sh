#!/bin/sh
# Benchmarks (`make bench`): warm against PyTorch on the same machine, in one run.
#   bench_matmul       optimised GEMM vs its naive twin (forward, dinp, dweight), 1 and 2 threads
#   bench_train S|M    warm: reward-model training step, scoring, decode (KV cache vs recompute)
#   torch_bench.py     the same model in PyTorch (Debian's python3-torch), OPENBLAS_CORETYPE set so its BLAS
#                      runs the right kernels on this CPU
#   bench_pairs        pair training on realistic pairs (synthetic, seed 1): padded vs shared-prefix packed step,
#                      then torch_bench.py --pairs on the same pairs (PyTorch's padded two-sequence step)
#   bench_bpe          GPT-2 BPE encoding of Tiny Shakespeare on one core (MB/s), then bpe_node.js: the npm
#                      encoders js-tiktoken and gpt-3-encoder on the same text (skipped without node or the
#                      packages in build/npm)
# Usage: bench/run.sh BUILD_DIR   (prints figures; docs/benchmarks.md records them with date and machine)
set -eu
B=${1:-build/release}
echo "# $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -n): $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "## matmul"
"$B/bench/bench_matmul"
for cfg in S M; do
  for t in 1 2; do
    echo "## config $cfg, $t thread(s)"
    OMP_NUM_THREADS=$t "$B/bench/bench_train" "$cfg" 10
    OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Cooperlake} /usr/bin/python3 bench/torch_bench.py --config "$cfg" --threads "$t"
  done
done
PAIRS=$(mktemp /tmp/warm-pairs-XXXXXX)
for w in 128 256; do
  for t in 1 2; do
    echo "## pair training, width $w, $t thread(s)"
    OMP_NUM_THREADS=$t "$B/bench/bench_pairs" --width "$w" --steps 20 --dump "$PAIRS"
    OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Cooperlake} /usr/bin/python3 bench/torch_bench.py --pairs "$PAIRS" \
      --width "$w" --threads "$t" --steps 5
  done
done
rm -f "$PAIRS"
echo "## GPT-2 BPE tokenizer, 1 thread"
"$B/bench/bench_bpe"
if command -v node >/dev/null && [ -d build/npm/node_modules/js-tiktoken ] && [ -d build/npm/node_modules/gpt-3-encoder ]; then
  node bench/bpe_node.js
else
  echo "npm baseline skipped: needs node and build/npm/node_modules (make bpe-fixtures installs them)"
fi
