#!/bin/sh
# The demo job (`make demo`): the embedded task's world, then the pipeline stages that exist so far:
# task -> pretraining -> SFT with kept (Baklava) checkpoints -> oracle-labelled preference pairs (clean and
# 25 % corrupted) -> task statistics -> linear probe -> 4 reward models (sweep) -> WARM (weight average) ->
# evaluation of members, WARM and ENS -> one LMC sweep with figures -> best-of-n (WARM, best member, ENS)
# against the gold reward. The report with the paper's claims joins when issue 7 lands.
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

stage "sft: fine-tune on post -> reference summary, keeping checkpoints every 200 steps (Baklava: 800, 1000, 1200)"
"$WARM" sft --init "$OUT/pretrain/final.safetensors" --data "$T/sft_train.jsonl" --val "$T/sft_val.jsonl" \
  --tokenizer "$T/tokenizer.json" --steps 1200 --batch 16 --lr 1e-3 --warmup 30 --save-every 200 \
  --eval-every 200 --seed "$SEED" -o "$OUT/sft"
done_stage

stage "prefs: SFT sample pairs labelled by the gold reward (BT, tau 0.25); clean and 25 % corrupted train labels"
OOD="sft-hot=$OUT/sft/final.safetensors@1.5,sft-early=$OUT/sft/step-0000400.safetensors@1,pretrained=$OUT/pretrain/final.safetensors@1"
for setup in clean:0 corrupt:0.25; do
  name=${setup%%:*}; frac=${setup#*:}
  if [ ! -f "$OUT/prefs_$name.jsonl" ]; then
    "$WARM" task prefs --task "$T" --policy "sft=$OUT/sft/final.safetensors" --ood "$OOD" --tau 0.25 \
      --corrupt "$frac" --seed "$SEED" -o "$OUT/prefs_$name.jsonl"
  else echo "   $OUT/prefs_$name.jsonl exists"; fi
done
done_stage

stage "task statistics (the numbers that show the task is neither trivial nor impossible)"
"$WARM" task stats --task "$T" --prefs "$OUT/prefs_corrupt.jsonl" --json "$OUT/task_stats.json"
done_stage
stage "probe: the shared reward head on frozen SFT features (clean train pairs)"
if [ ! -f "$OUT/head.safetensors" ]; then
  "$WARM" probe --init "$OUT/sft/final.safetensors" --data "$OUT/prefs_clean.jsonl" --subset train \
    --val "$OUT/prefs_clean.jsonl" --val-subset val -o "$OUT/head.safetensors"
else echo "   exists"; fi
done_stage

stage "sweep: 4 reward models (lr x dropout x seed x Baklava SFT checkpoint 800/1000/1200), 2 at a time"
"$WARM" sweep --members 4 --init "$OUT/sft/step-0000800.safetensors,$OUT/sft/step-0001000.safetensors,$OUT/sft/final.safetensors" \
  --head "$OUT/head.safetensors" --data "$OUT/prefs_clean.jsonl" --subset train \
  --val "$OUT/prefs_clean.jsonl" --val-subset val --ood "$OUT/prefs_clean.jsonl" --ood-subset ood \
  --lr 1e-4,3e-4 --dropout 0.05,0.1 --steps 150 --batch 16 --eval-every 0 --jobs 2 -o "$OUT/sweep"
done_stage

stage "merge: WARM = uniform average of the 4 members' weights"
MEMBERS=$(ls "$OUT"/sweep/member-*/final.safetensors | tr '\n' ' ')
# shellcheck disable=SC2086
"$WARM" merge $MEMBERS -o "$OUT/warm4.safetensors"
done_stage

stage "eval: each member, WARM (one model) and ENS (mean of the members' rewards) on ID val and OOD pairs"
echo "-- WARM (weight average, one model)"
"$WARM" eval --rm "$OUT/warm4.safetensors" --data "$OUT/prefs_clean.jsonl" --subset 'split=val|ood' \
  --json "$OUT/eval_warm.json"
echo "-- members and ENS (mean of their rewards: 4 models at inference)"
# shellcheck disable=SC2086
"$WARM" eval --rm $(echo $MEMBERS | tr ' ' ',') --data "$OUT/prefs_clean.jsonl" --subset 'split=val|ood' \
  --ens mean --json "$OUT/eval_members.json"
done_stage

stage "lmc: WA vs ENS vs the diagonal between members 00 and 01 (11 lambdas, ID val and OOD)"
"$WARM" lmc --a "$OUT/sweep/member-00/final.safetensors" --b "$OUT/sweep/member-01/final.safetensors" \
  --data "$OUT/prefs_clean.jsonl" --subset 'split=val|ood' --grid 11 -o "$OUT/lmc.csv" --json "$OUT/lmc.json" \
  --plot "$OUT/lmc"
done_stage

stage "best-of-n: pool of 64 SFT samples for 100 val prompts; proxy vs control (gold) reward of the pick"
M="$OUT/sweep"
"$WARM" bon --task "$T" --policy "$OUT/sft/final.safetensors" --prompts "$T/prompts_val.jsonl" --limit 100 \
  --pool 64 --n-max 64 --seed "$SEED" --selector "warm4=$OUT/warm4.safetensors" \
  --selector "member00=$M/member-00/final.safetensors" \
  --selector "ens4=$M/member-00/final.safetensors,$M/member-01/final.safetensors,$M/member-02/final.safetensors,$M/member-03/final.safetensors:ens=mean" \
  -o "$OUT/bon"
if command -v gnuplot >/dev/null 2>&1; then
  gnuplot -c "$(dirname "$0")/plot_bon.gp" "$OUT/bon/bon.csv" "$OUT/bon/bon" && echo "wrote $OUT/bon/bon.svg, $OUT/bon/bon.png"
else echo "   (gnuplot not installed: no figure; bon.csv has the numbers)"; fi
done_stage
echo "   outputs in $OUT/"
