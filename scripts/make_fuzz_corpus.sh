#!/bin/sh
# Regenerates the committed seed corpus fuzz/corpus/<target>/ (small valid inputs the fuzzers start from;
# libFuzzer mutates them). Binary seeds are written by warm itself (build/release/warm, `make` first).
# Usage: sh scripts/make_fuzz_corpus.sh   (run from anywhere; overwrites the seed files it names)
set -eu
cd "$(dirname "$0")/.."
W=build/release/warm
C=fuzz/corpus
SEP='
--8<--'
for t in safetensors st_index config prefs lmdata tokenizer gpt2_files jsonl sweep report task; do mkdir -p "$C/$t"; done
tmp=$(mktemp -d /tmp/warm-corpus-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# config.json: warm's own form, a Hugging Face form with aliases, a minimal one
cfg='{"vocab_size":12,"n_positions":6,"n_embd":8,"n_layer":1,"n_head":2,"resid_pdrop":0.1}'
printf '%s' "$cfg" > "$C/config/minimal.json"
cp tests/fixtures/merge_d_sharded/config.json "$C/config/hf.json"
printf '%s' '{"model_type":"gpt2","vocab_size":16,"max_position_embeddings":8,"num_hidden_layers":1,"num_attention_heads":1,"hidden_size":4,"n_inner":null,"activation_function":"gelu_new","layer_norm_epsilon":1e-05,"bos_token_id":15,"eos_token_id":15,"tie_word_embeddings":true}' > "$C/config/aliases.json"

# safetensors: a whole tiny model with warm.config (F32 and BF16), a head file, merge fixtures (F16, bare names)
printf '%s' "$cfg" > "$tmp/cfg.json"
$W init --config "$tmp/cfg.json" --seed 1 -o "$C/safetensors/tiny-f32.safetensors" >/dev/null
cp tests/fixtures/merge_b_f16.safetensors tests/fixtures/merge_c_bf16.safetensors tests/fixtures/merge_e_bare.safetensors \
   "$C/safetensors/"

# index: the fuzz target's two shards (fuzz/fuzz_st_index.c), then config.json
printf '%s%s\n%s' '{"metadata":{"total_size":64},"weight_map":{"transformer.wte.weight":"model-00001-of-00002.safetensors","transformer.ln_f.bias":"model-00001-of-00002.safetensors","score.weight":"model-00002-of-00002.safetensors"}}' \
  "$SEP" "$cfg" > "$C/st_index/two-shards.json"
printf '%s' '{"weight_map":{"wte.weight":"model-00001-of-00002.safetensors"}}' > "$C/st_index/partial.json"

# tokenizer.json
printf '%s' '{"kind":"word","vocab":["<pad>","<eos>","<unk>","the","cat","sat","."],"pad":0,"eos":1,"unk":2}' \
  > "$C/tokenizer/small.json"

# GPT-2 byte-level BPE, tiny: the 256 byte symbols (GPT-2's byte-to-unicode map), "ab", "<|endoftext|>", one
# merge; as encoder.json + vocab.bpe (fuzz_gpt2_files) and as a Hugging Face tokenizer.json (fuzz_tokenizer)
python3 - "$C" <<'PY'
import json, sys
c = sys.argv[1]
keep = [b for b in range(256) if 33 <= b <= 126 or 161 <= b <= 172 or b >= 174]
sym, extra = {}, 0
for b in range(256):
    if b in keep:
        sym[b] = chr(b)
    else:
        sym[b] = chr(256 + extra)
        extra += 1
enc = {sym[b]: b for b in range(256)}
enc["ab"] = 256
enc["<|endoftext|>"] = 257
with open(f"{c}/gpt2_files/tiny.txt", "w", encoding="utf-8") as f:
    f.write(json.dumps(enc, ensure_ascii=False) + "\n--8<--\n#version: 0.2\na b\n")
hf = {"version": "1.0", "added_tokens": [{"id": 257, "content": "<|endoftext|>", "single_word": False,
      "lstrip": False, "rstrip": False, "normalized": True, "special": True}], "normalizer": None,
      "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
      "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "vocab": enc,
                "merges": ["a b"]}}
with open(f"{c}/tokenizer/hf-bpe.json", "w", encoding="utf-8") as f:
    json.dump(hf, f, ensure_ascii=False)
PY

# preference rows: explicit, implicit, pre-tokenised, optional fields
cat > "$C/prefs/trl.jsonl" <<'J'
{"prompt":"the cat","chosen":"sat on a mat .","rejected":"sat .","split":"train","margin":0.5}
{"chosen":"the cat sat","rejected":"the mat sat","split":"val","corrupted":true,"id":7}
{"prompt_ids":[3,4],"chosen_ids":[5,6,1],"rejected_ids":[7,1],"gold_chosen":0.25,"gold_rejected":-1,"id":"x-1"}
J
printf '%s\n' '{"prompt":"post :","chosen":"good","rejected":"bad","split":"ood"}' > "$C/prefs/one.jsonl"

# LM rows: pretraining text and SFT prompt/completion
cat > "$C/lmdata/rows.jsonl" <<'J'
{"text":"the cat sat on a mat .","split":"train","id":"d0"}
{"prompt":"post : the cat","completion":"sat .","split":"val"}
J

# generic rows (score / sample / bon / task gold)
cat > "$C/jsonl/rows.jsonl" <<'J'
{"prompt":"the cat","response":"sat .","id":3}
{"text":"a mat","split":"val","margin":1.5,"corrupted":false,"prompt_ids":[1,2,3]}
J

# sweep manifest (docs/reward-models.md)
cat > "$C/sweep/manifest.json" <<'J'
{"format":"warm.sweep/1","grid":false,"draw_seed":1,"train_args":["--data","d.jsonl"],"val":"d.jsonl",
 "val_subset":"val","ood":null,"ood_subset":null,"n_members":2,"n_done":1,"members":[
 {"index":0,"dir":"member-00","file":"member-00/final.safetensors","init":"i.safetensors","lr":0.002,"dropout":0.1,
  "seed":1,"status":"done","exit_code":0,"train_seconds":1.5,
  "val":{"n":4,"ties":0,"acc_ge":0.5,"acc_gt":0.5,"margin":0.1,"ece":0.04,"bt_loss":0.69}},
 {"index":1,"dir":"member-01","file":"member-01/final.safetensors","init":"i.safetensors","lr":0.001,"dropout":0.05,
  "seed":2,"status":"pending","exit_code":-1,"train_seconds":0}]}
J

# report: run.json, plan.json (results named a.json / b.json), an eval file, a toy file
cat > "$C/report/run.json" <<J
{"scale":"tiny","seed":1,"warm_version":"0","machine":{"cpu":"x","os":"y","cores":2,"threads":2},
 "stages":[{"name":"task","status":"done","seconds":1.5}]}$SEP
{"format":"warm-demo-plan/1","scale":"tiny","seed":1,"toy":"b.json","setups":[{"name":"clean","corrupt":0,
 "members":[{"name":"m1","rank":1,"val_acc":0.5},{"name":"m2","rank":2}],"eval_members":"a.json","eval_topm":"a.json",
 "bon":null}],"lmc":[{"kind":"seed","json":"a.json"}]}$SEP
{"models":[{"name":"m1"},{"name":"m2"}],"subsets":[{"name":"val","n":4}],"results":[{"model":"m1","subset":"val","acc_ge":0.5}],
 "grid":3,"lambda":[0,0.5,1]}$SEP
{"M":10,"L":2,"results":[{"p":0.3,"ens":0.3,"wa":0.11}]}
J
cp /dev/null "$C/report/empty.json"

# task.json of a generated task, with its tokenizer
$W task generate --seed 1 --out "$tmp/task" >/dev/null 2>&1 || true
if [ -f "$tmp/task/task.json" ]; then
  { cat "$tmp/task/task.json"; printf '%s\n' "$SEP"; cat "$tmp/task/tokenizer.json"; } > "$C/task/generated.json"
fi
printf '%s' '{}' > "$C/task/empty-object.json"
echo "make_fuzz_corpus.sh: $(find $C -type f | wc -l) seed files in $C"
