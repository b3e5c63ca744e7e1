#!/bin/bash
# bad-inputs.sh — every command fed the bad input files a user can hand it: each case must exit non-zero (1 for a
# bad file, 2 for a bad option), print an error naming the file (and line / tensor / key where there is one),
# and write nothing: the output path must not appear (or keep its files unchanged; an empty .lock of a run
# directory aside) and no temp file may be left. Prints one Markdown table
# row per case (docs/reliability.md holds the table of a run) and the closing count; exits non-zero on a failure.
# Usage: scripts/bad-inputs.sh [BUILD_DIR] [--markdown]   (make test runs it on build/release and build/asan)
set -u
B=${1:-build/release}
W=$(cd "$(dirname "$B/warm")" && pwd)/warm
MD=${2:-}
[ -x "$W" ] || { echo "bad-inputs: $B/warm not found"; exit 2; }
T=$(mktemp -d /tmp/warm-bad-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 2
pass=0 fail=0

# ---------------------------------------------------------------------------------------------------- files
export OMP_NUM_THREADS=1
printf '%s' '{"vocab_size":16,"n_positions":8,"n_embd":8,"n_layer":1,"n_head":2}' > cfg.json
"$W" init --config cfg.json --seed 1 -o good.safetensors >/dev/null || exit 2
size=$(wc -c < good.safetensors)
head -c $((size / 2)) good.safetensors > truncated.safetensors
head -c 5 good.safetensors > short.safetensors
: > empty.safetensors
# safetensors file: 8-byte little-endian header length, the header, then DATA (printf escapes)
mk_st() { # file header data
  local n=${#2}
  printf "\\$(printf %03o $((n & 255)))\\$(printf %03o $(((n >> 8) & 255)))\\000\\000\\000\\000\\000\\000%s$3" "$2" > "$1"
}
printf '\377\377\377\377\000\000\000\000{}' > hugeheader.safetensors
mk_st badjson.safetensors '{"a":1,}' ''
mk_st pastend.safetensors '{"t":{"dtype":"F32","shape":[4],"data_offsets":[0,64]}}' 'abcd'
mk_st dtype.safetensors '{"t":{"dtype":"Q9","shape":[1],"data_offsets":[0,4]}}' 'abcd'
mk_st dupkey.safetensors '{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}' 'abcd'
mk_st overlap.safetensors '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}' 'abcdefghijkl'
mk_st shape.safetensors '{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}' 'abcdefgh'
printf '%s' '{"vocab_size":16,"n_positions":8,"n_embd":9,"n_layer":1,"n_head":2}' > badcfg.json
printf '%s' '{"vocab_size":16,"n_positions":8,"n_embd":8,"n_layer":1,"n_head":2,"activation_function":"relu"}' > relu.json
printf '%s' '{"kind":"word","vocab":["<pad>","<eos>","<unk>","a","a"],"pad":0,"eos":1,"unk":2}' > duptok.json
printf '%s' '{"kind":"word","vocab":["<pad>","<eos>","<unk>","a"],"pad":0,"eos":1,"unk":7}' > badid.json
printf '%s' '{"kind":"word","vocab":["<pad>","<eos>","<unk>","a","b"],"pad":0,"eos":1,"unk":2}' > tok.json
printf '%s\n' '{"prompt_ids":[3],"chosen_ids":[4],"rejected_ids":[5]}' '{"prompt_ids":[3],"chosen_ids":[4],' > cutline.jsonl
printf '%s\n' '{"prompt_ids":[3],"chosen_ids":[4],"rejected_ids":[5]}' '{"prompt_ids":[3],"chosen_ids":[40],"rejected_ids":[5]}' > oov.jsonl
printf '%s\n' '{"prompt":"a","chosen":"b"}' > norejected.jsonl
printf '%s\n' '{"prompt":"a","chosen":"b","rejected":"zzz"}' > unknownword.jsonl
printf '%s\n' '{"text":"a b","text":"b"}' > dupfield.jsonl
printf '%s\n' '{"prompt":"a","response":"b","margin":1e999}' > bignum.jsonl
printf 'not json\n' > notjson.jsonl
mkdir -p run sweep task
printf '%s' '{"format":"warm-demo-plan/1","setups":"x","lmc":[]}' > run/plan.json
printf '%s' '{"format":"warm.sweep/1","members":[' > sweep/manifest.json
printf '%s' '{"kind":"word"' > task/task.json
cp tok.json task/tokenizer.json

# ---------------------------------------------------------------------------------------------------- cases
# case "command description" "bad file" "expected substring of the error" output-path -- warm args...
case_() {
  local what=$1 file=$2 want=$3 out=$4
  shift 5
  local before=""
  [ -e "$out" ] && before=$(find "$out" -type f ! -name .lock -exec cksum {} + 2>/dev/null | sort)
  "$W" "$@" > stdout.txt 2> stderr.txt
  local rc=$? err ok=1 why=""
  err=$(grep -v '^usage\|^  ' stderr.txt | head -1)
  [ "$rc" -ne 0 ] || { ok=0; why="exit 0"; }
  grep -qF -- "$want" stderr.txt || { ok=0; why="$why; error lacks '$want'"; }
  grep -qF -- "$(basename "$file")" stderr.txt || { ok=0; why="$why; error does not name $(basename "$file")"; }
  local after=""
  [ -e "$out" ] && after=$(find "$out" -type f ! -name .lock -exec cksum {} + 2>/dev/null | sort)
  [ "$before" = "$after" ] || { ok=0; why="$why; $out was written"; }
  [ -z "$(find . -name '*.tmp.*' | head -1)" ] || { ok=0; why="$why; temp file left"; }
  local shown=${err//$T\//}
  shown=${shown//|/\\|}
  if [ "$ok" = 1 ]; then
    pass=$((pass + 1))
    if [ "$MD" = --markdown ]; then echo "| \`warm $what\` | $file | ${shown:0:150} | $rc | yes |"; else echo "PASS $what ($file): exit $rc"; fi
  else
    fail=$((fail + 1))
    echo "FAIL $what ($file):$why; exit $rc; stderr: $(head -c 400 stderr.txt)"
  fi
}

case_ inspect truncated.safetensors "truncated" none -- inspect truncated.safetensors
case_ inspect short.safetensors "short" none -- inspect short.safetensors
case_ inspect empty.safetensors "empty" none -- inspect empty.safetensors
case_ inspect hugeheader.safetensors "header" none -- inspect hugeheader.safetensors
case_ inspect badjson.safetensors "JSON" none -- inspect badjson.safetensors
case_ inspect pastend.safetensors "t" none -- inspect pastend.safetensors
case_ inspect dtype.safetensors "Q9" none -- inspect dtype.safetensors
case_ inspect dupkey.safetensors "duplicate" none -- inspect dupkey.safetensors
case_ inspect overlap.safetensors "overlap" none -- inspect overlap.safetensors
case_ inspect shape.safetensors "shape" none -- inspect shape.safetensors
case_ merge truncated.safetensors "truncated" merged.safetensors -- merge good.safetensors truncated.safetensors -q -o merged.safetensors
case_ merge missing.safetensors "missing.safetensors" merged.safetensors -- merge good.safetensors missing.safetensors -q -o merged.safetensors
case_ export truncated.safetensors "truncated" hf-out -- export -m truncated.safetensors --as rm -o hf-out
case_ export tok.json "tokenizer has 5 tokens" hf-out -- export -m good.safetensors --as rm --tokenizer tok.json -o hf-out
case_ init badcfg.json "n_embd" new.safetensors -- init --config badcfg.json -o new.safetensors
case_ init relu.json "activation_function" new.safetensors -- init --config relu.json -o new.safetensors
case_ train-rm truncated.safetensors "truncated" rm -- train-rm --init truncated.safetensors --data oov.jsonl --steps 1 -o rm
case_ train-rm cutline.jsonl "cutline.jsonl:2" rm -- train-rm --init good.safetensors --data cutline.jsonl --steps 1 -o rm
case_ train-rm oov.jsonl "oov.jsonl:2" rm -- train-rm --init good.safetensors --data oov.jsonl --steps 1 -o rm
case_ train-rm norejected.jsonl "rejected" rm -- train-rm --init good.safetensors --data norejected.jsonl --tokenizer tok.json --steps 1 -o rm
case_ train-rm unknownword.jsonl "zzz" rm -- train-rm --init good.safetensors --data unknownword.jsonl --tokenizer tok.json --steps 1 -o rm
case_ train-rm duptok.json "duplicate" rm -- train-rm --init good.safetensors --data unknownword.jsonl --tokenizer duptok.json --steps 1 -o rm
case_ pretrain badid.json "unk" pre -- pretrain --data dupfield.jsonl --tokenizer badid.json --steps 1 -o pre
case_ pretrain dupfield.jsonl "duplicate" pre -- pretrain --data dupfield.jsonl --tokenizer tok.json --steps 1 -o pre
case_ pretrain notjson.jsonl "notjson.jsonl:1" pre -- pretrain --data notjson.jsonl --tokenizer tok.json --steps 1 -o pre
case_ score unknownword.jsonl "zzz" scored.jsonl -- score --rm good.safetensors --data unknownword.jsonl --tokenizer tok.json -o scored.jsonl
case_ score notjson.jsonl "notjson.jsonl:1" scored.jsonl -- score --rm good.safetensors --data notjson.jsonl --tokenizer tok.json -o scored.jsonl
case_ eval cutline.jsonl "cutline.jsonl:2" eval.json -- eval --rm good.safetensors --data cutline.jsonl --json eval.json
case_ sweep sweep/manifest.json "manifest.json" sweep -- sweep --members 1 --init good.safetensors --data oov.jsonl --steps 1 -o sweep
case_ report run/plan.json "plan.json" run/report.md -- report --run run
case_ "task gold" task/task.json "task.json" gold.jsonl -- task gold --task task --in bignum.jsonl -o gold.jsonl

[ "$MD" = --markdown ] || echo "bad-inputs: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
