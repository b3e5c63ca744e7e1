#!/usr/bin/env python3
"""pandalm_prefs.py — PandaLM's human test set as TRL preference JSONL for warm (docs/english.md §3).

    python3 scripts/pandalm_prefs.py [../shared/data/pandalm/testset-v1.json] > pandalm.jsonl

Rows {"prompt", "chosen", "rejected", "split", "idx"}: the label is the majority of the three annotators (the 105
majority ties are dropped, leaving 894 pairs); the prompt is the instruction, the input when there is one, and
"Response:", the responses follow after a space. Split by PandaLM's idx: idx % 5 == 0 test, == 1 val, else train
(about 60/20/20). Six responses are JSON true in the file (idx 157-162): read as "True". Prints to stderr, per
split, the pairs and the accuracy of two baselines that read no meaning: "the longer response wins" (characters)
and "the shorter wins". Only the Python standard library.
"""
import json
import sys


def text(v):
    return "True" if v is True else str(v)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/pandalm/testset-v1.json"
    rows = json.load(open(path))
    stats = {}
    out = sys.stdout
    for r in rows:
        votes = [r["annotator1"], r["annotator2"], r["annotator3"]]
        one, two = votes.count(1), votes.count(2)
        if one == two or max(one, two) < 2:
            continue  # no majority for either response
        better = 1 if one > two else 2
        r1, r2 = text(r["response1"]), text(r["response2"])
        chosen, rejected = (r1, r2) if better == 1 else (r2, r1)
        prompt = text(r["instruction"]).strip()
        if text(r.get("input", "")).strip():
            prompt += "\n" + text(r["input"]).strip()
        prompt += "\nResponse:"
        split = "test" if r["idx"] % 5 == 0 else "val" if r["idx"] % 5 == 1 else "train"
        out.write(json.dumps({"prompt": prompt, "chosen": " " + chosen.strip(), "rejected": " " + rejected.strip(),
                              "split": split, "idx": r["idx"]}) + "\n")
        s = stats.setdefault(split, [0, 0, 0])
        s[0] += 1
        s[1] += len(chosen.strip()) > len(rejected.strip())
        s[2] += len(chosen.strip()) < len(rejected.strip())
    for split in ("train", "val", "test"):
        n, longer, shorter = stats.get(split, [0, 0, 0])
        print("pandalm_prefs: %-5s %4d pairs; longer wins %.3f, shorter wins %.3f (equal lengths: %d)"
              % (split, n, longer / max(n, 1), shorter / max(n, 1), n - longer - shorter), file=sys.stderr)


if __name__ == "__main__":
    main()
