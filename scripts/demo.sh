#!/bin/sh
# The demo job (`make demo`): the embedded task's world, then the pipeline stages that exist so far:
# task -> pretraining -> SFT with kept (Baklava) checkpoints -> samples from the pretrained and SFT policies
# scored by the gold reward. Later stages (preferences, reward models, WARM, best-of-N) join as they land.
# Usage: scripts/demo.sh WARM_BINARY [OUT_DIR]   (OUT_DIR defaults to demo-out; reruns resume finished stages)
set -eu
WARM=${1:?usage: demo.sh WARM_BINARY [OUT_DIR]}
OUT=${2:-demo-out}
SEED=${WARM_DEMO_SEED:-1}
mkdir -p "$OUT"
T="$OUT/task"
stage() { printf '\n== %s\n' "$1"; STAGE_START=$(date +%s); }
done_stage() { echo "   ($(( $(date +%s) - STAGE_START )) s)"; }

stage "task: generate the world (seed $SEED)"
if [ ! -f "$T/tokenizer.json" ]; then "$WARM" task generate --seed "$SEED" --out "$T"; else echo "   exists"; fi
done_stage

stage "pretrain: GPT-2 (4 layers, 4 heads, width 128, context 128) on generated text"
"$WARM" pretrain --data "$T/pretrain.jsonl" --val "$T/sft_val.jsonl" --tokenizer "$T/tokenizer.json" \
  --layers 4 --heads 4 --width 128 --context 128 --steps 600 --batch 16 --lr 2e-3 --warmup 50 \
  --eval-every 200 --eval-batches 8 --seed "$SEED" -o "$OUT/pretrain"
done_stage

stage "sft: fine-tune on post -> reference summary, keeping checkpoints at 2/3 and 5/6 (Baklava)"
"$WARM" sft --init "$OUT/pretrain/final.safetensors" --data "$T/sft_train.jsonl" --val "$T/sft_val.jsonl" \
  --tokenizer "$T/tokenizer.json" --steps 600 --batch 16 --lr 1e-3 --warmup 30 --save-every 100 \
  --eval-every 200 --seed "$SEED" -o "$OUT/sft"
done_stage

stage "sample: 4 responses for 200 validation prompts from the pretrained and the SFT policy"
for who in pretrain sft; do
  "$WARM" sample --policy "$OUT/$who/final.safetensors" --tokenizer "$T/tokenizer.json" \
    --prompts "$T/prompts_val.jsonl" --limit 200 --n 4 --max-new 32 --seed "$SEED" --no-logprobs \
    -o "$OUT/samples_$who.jsonl"
  "$WARM" task gold --task "$T" --in "$OUT/samples_$who.jsonl" --out "$OUT/gold_$who.jsonl"
done
done_stage

stage "summary"
for who in pretrain sft; do
  awk -v who="$who" 'match($0, /"gold":-?[0-9.e+-]+/) { s += substr($0, RSTART + 7, RLENGTH - 7); n++ }
    END { if (n) printf "   mean gold reward of %s samples: %.3f over %d samples\n", who, s / n, n }' "$OUT/gold_$who.jsonl"
done
echo "   outputs in $OUT/"
