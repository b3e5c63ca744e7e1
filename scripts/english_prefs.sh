#!/bin/sh
# english_prefs.sh BASE_CKPT OUT_DIR — reward models on real human preferences from an English base
# (docs/english.md §3): PandaLM's human test set as TRL JSONL (scripts/pandalm_prefs.py: majority labels, ties
# dropped, split by idx 60/20/20), a linear probe, four members (lr 1e-4, 3e-4 x dropout 0.05, 0.1; 100 steps of 16
# pairs), their WARM (uniform average) and ENS, all evaluated on val and test with the GPT-2 tokenizer. Needs
# python3 (standard library) and a built warm (WARM=path, default build/release/warm).
set -eu
base=${1:?usage: english_prefs.sh BASE_CKPT OUT_DIR}
out=${2:?usage: english_prefs.sh BASE_CKPT OUT_DIR}
cd "$(dirname "$0")/.."
W=${WARM:-build/release/warm}
mkdir -p "$out"
python3 scripts/pandalm_prefs.py ../shared/data/pandalm/testset-v1.json > "$out/pandalm.jsonl.tmp" 2> "$out/baselines.txt"
mv "$out/pandalm.jsonl.tmp" "$out/pandalm.jsonl"
cat "$out/baselines.txt"
P="$out/pandalm.jsonl"
set -x
"$W" probe --init "$base" --tokenizer gpt2 --data "$P" --subset train --val "$P" --val-subset val --steps "${PROBE_STEPS:-1000}" \
    -o "$out/head.safetensors"
"$W" sweep --members 4 --grid --lr 1e-4,3e-4 --dropout 0.05,0.1 --init "$base" --head "$out/head.safetensors" \
    --tokenizer gpt2 --data "$P" --subset train --val "$P" --val-subset val --ood "$P" --ood-subset test \
    --steps "${STEPS:-100}" --batch 16 -o "$out/sweep"
"$W" merge "$out"/sweep/member-*/final.safetensors -q -o "$out/warm4.safetensors"
"$W" eval "$out"/sweep/member-*/final.safetensors --tokenizer gpt2 --data "$P" --subset 'split=val|test' --ens mean \
    --json "$out/eval_members.json"
"$W" eval "$out/warm4.safetensors" --tokenizer gpt2 --data "$P" --subset 'split=val|test' --json "$out/eval_warm.json"
