#!/bin/sh
# english_corpus.sh OUT_DIR [SHAKESPEARE_TXT] — the English pretraining text of `make english` (docs/english.md):
# the King James Bible (Debian's bible-kjv-text, printed by its `bible` program; the translation of 1611 is out
# of copyright, the package's data file may be copied at will) and Tiny Shakespeare (../shared/data, public-domain
# plays). Writes OUT_DIR/train.jsonl and OUT_DIR/val.jsonl, rows {"text": ...} joined up to 400 characters (about
# 100 GPT-2 tokens; a single longer verse stays whole): verses of one chapter; speeches, lines kept; every 20th
# row of each source to val.
# Checks the published verse count of the KJV (31,102). Deterministic; each file written to a temp name and
# renamed.
set -eu
out=${1:?usage: english_corpus.sh OUT_DIR [SHAKESPEARE_TXT]}
here=$(cd "$(dirname "$0")/.." && pwd)
shk=${2:-$here/../shared/data/tinyshakespeare/input.txt}
command -v bible > /dev/null || { echo "english_corpus.sh: the bible program is missing (apt-get install bible-kjv)" >&2; exit 1; }
[ -r "$shk" ] || { echo "english_corpus.sh: $shk: cannot read Tiny Shakespeare" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp -d "$out/.corpus.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
bible -f -l100000 -m 8192 'ge1:1-re22:21' > "$tmp/kjv.txt"
n=$(wc -l < "$tmp/kjv.txt")
[ "$n" -eq 31102 ] || { echo "english_corpus.sh: the KJV has 31102 verses, bible printed $n lines" >&2; exit 1; }

# emit(text): one JSON row, every 20th of the source to val. JSON escaping: backslash, quote, newline (the texts
# are ASCII without other control characters; checked below).
common='
function esc(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); gsub(/\n/, "\\n", s); return s }
function emit(s) { n++; print "{\"text\":\"" esc(s) "\"}" > (n % 20 == 0 ? val : train) }
'
# KJV: "Ge1:1 text" per verse; verses of one chapter joined by spaces up to 400 characters.
awk -v max=400 -v train="$tmp/kjv.train" -v val="$tmp/kjv.val" "$common"'
function flush() { if (buf != "") emit(buf); buf = "" }
{ ref = $1; sub(/^[^ ]+ /, ""); split(ref, a, ":"); if (a[1] != chap) flush(); chap = a[1]
  if (buf != "" && length(buf) + 1 + length($0) > max) flush()
  buf = buf == "" ? $0 : buf " " $0 }
END { flush() }' "$tmp/kjv.txt"
# Shakespeare: speeches (blank-line separated), joined with newlines up to 400 characters; a longer speech is cut
# between lines.
awk -v max=400 -v train="$tmp/shk.train" -v val="$tmp/shk.val" "$common"'
function flush() { if (buf != "") emit(buf); buf = "" }
/^$/ { if (buf != "") buf = buf "\n"; next }
{ if (buf != "" && length(buf) + 1 + length($0) > max) flush()
  buf = buf == "" ? $0 : (buf ~ /\n$/ ? buf $0 : buf "\n" $0) }
END { flush() }' "$shk"
if LC_ALL=C grep -q '[^ -~]' "$tmp/kjv.train" "$tmp/kjv.val" "$tmp/shk.train" "$tmp/shk.val"; then
    echo "english_corpus.sh: unexpected non-ASCII or control characters in the rows" >&2
    exit 1
fi
cat "$tmp/kjv.train" "$tmp/shk.train" > "$tmp/train.jsonl"
cat "$tmp/kjv.val" "$tmp/shk.val" > "$tmp/val.jsonl"
mv "$tmp/train.jsonl" "$out/train.jsonl"
mv "$tmp/val.jsonl" "$out/val.jsonl"
echo "english_corpus.sh: $out/train.jsonl $(wc -l < "$out/train.jsonl") rows, $out/val.jsonl $(wc -l < "$out/val.jsonl") rows ($(cat "$out/train.jsonl" "$out/val.jsonl" | wc -c) bytes)"
