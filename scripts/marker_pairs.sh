#!/bin/sh
# marker_pairs.sh SEED N_TRAIN N_VAL ID_SPAN EOS PROMPT_MIN PROMPT_SPAN RESP_MIN RESP_SPAN > pairs.jsonl
# Pre-tokenised preference pairs of the easy MARKER task (tests/test_util.h) for command-line tests and
# benchmarks: a prompt of PROMPT_MIN + [0, PROMPT_SPAN) content tokens, responses of RESP_MIN + [0, RESP_SPAN)
# content tokens + EOS, content ids 3 .. 3 + ID_SPAN - 1; the chosen response has one token replaced by 2
# (MARKER); "split" is train for the first N_TRAIN rows, val for the N_VAL after them. awk's srand(SEED).
[ $# = 9 ] || { echo "usage: $0 SEED N_TRAIN N_VAL ID_SPAN EOS PROMPT_MIN PROMPT_SPAN RESP_MIN RESP_SPAN" >&2; exit 2; }
awk -v seed="$1" -v ntr="$2" -v nva="$3" -v span="$4" -v eos="$5" -v pmin="$6" -v pspan="$7" -v rmin="$8" \
    -v rspan="$9" 'BEGIN { srand(seed); for (i = 0; i < ntr + nva; i++) {
    np = pmin + int(rand() * pspan); na = rmin + int(rand() * rspan); nb = rmin + int(rand() * rspan);
    p = ""; for (k = 0; k < np; k++) p = p (k ? "," : "") (3 + int(rand() * span));
    m = int(rand() * na); a = ""; for (k = 0; k < na; k++) a = a (k ? "," : "") (k == m ? 2 : 3 + int(rand() * span));
    b = ""; for (k = 0; k < nb; k++) b = b (k ? "," : "") (3 + int(rand() * span));
    printf "{\"prompt_ids\":[%s],\"chosen_ids\":[%s,%d],\"rejected_ids\":[%s,%d],\"split\":\"%s\"}\n", p, a, eos,
           b, eos, i < ntr ? "train" : "val" } }'
