#!/usr/bin/env python3
"""gold_ceiling.py — how well can anything predict the preference labels of a pairs file?

Input: the output of `warm task gold --task TASK --in prefs.jsonl --out gold.jsonl` (rows with split,
gold_chosen/gold_rejected, their _parts, and label_p = the labeller's P(chosen > rejected) used to draw the label).

Per split it prints
  gold >=      accuracy of the gold reward itself, ties counted correct (r+ >= r-)
  gold 0.5     the same with ties counted as half right (a fair coin on ties)
  gold >       strict (ties wrong)
  Bayes        expected accuracy of the Bayes-optimal predictor, mean(max(label_p, 1 - label_p)), the best any
               model can expect given how labels were sampled (the realised labels scatter around it)
  logreg       a Bradley-Terry logistic regression P(c > r) = sigma(w . (x_c - x_r)), no intercept, on the
               gold parts (coverage, hallucinated, repeated_ngrams, words, over_budget, no-eos), fitted on the
               "train" split by Newton's method with a tiny L2; accuracy with ties in w.dx counted both ways
numpy only.
"""
import argparse
import json

import numpy as np

PARTS = ["coverage", "hallucinated", "repeated_ngrams", "words", "over_budget", "no_eos"]


def feats(p):
    return [p["coverage"], p["hallucinated"], p["repeated_ngrams"], p["words"], p["over_budget"],
            0.0 if p["eos"] else 1.0]


def fit_logreg(X, l2=1e-4, iters=50):
    """min mean softplus(-X w) + l2/2 |w|^2 (all labels +1: X holds x_chosen - x_rejected)."""
    w = np.zeros(X.shape[1])
    for _ in range(iters):
        z = X @ w
        s = 1.0 / (1.0 + np.exp(z))  # sigma(-z)
        g = -(X * s[:, None]).mean(0) + l2 * w
        Hm = (X * (s * (1 - s))[:, None]).T @ X / len(X) + l2 * np.eye(len(w))
        step = np.linalg.solve(Hm, g)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return w


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("gold_jsonl")
    ap.add_argument("--splits", default="train,val,ood,ood_val")
    ap.add_argument("--json", help="write the numbers here")
    a = ap.parse_args()
    rows = [json.loads(l) for l in open(a.gold_jsonl) if l.strip()]
    by = {}
    for o in rows:
        by.setdefault(o["split"], []).append(o)
    dX = {sp: np.array([np.subtract(feats(o["gold_chosen_parts"]), feats(o["gold_rejected_parts"])) for o in rs])
          for sp, rs in by.items()}
    w = fit_logreg(dX["train"])
    out = {"logreg_w": dict(zip(PARTS, map(float, w))), "splits": {}}
    print("logistic regression weights (fitted on train):", json.dumps(out["logreg_w"]))
    print("%-8s %5s %6s %8s %8s %8s %7s %9s %9s %8s" % ("split", "n", "ties", "gold>=", "gold0.5", "gold>", "Bayes",
                                                      "logreg>=", "logreg0.5", "logreg>"))
    for sp in [s for s in a.splits.split(",") if s in by]:
        rs = by[sp]
        d = np.array([o["gold_chosen"] - o["gold_rejected"] for o in rs])
        p = np.array([o["label_p"] for o in rs])
        z = dX[sp] @ w
        r = {"n": len(rs), "gold_ties": int(np.sum(d == 0)),
             "gold_ge": float(np.mean(d >= 0)), "gold_half": float(np.mean((d > 0) + 0.5 * (d == 0))),
             "gold_gt": float(np.mean(d > 0)), "bayes": float(np.mean(np.maximum(p, 1 - p))),
             "logreg_ge": float(np.mean(z >= 0)), "logreg_half": float(np.mean((z > 0) + 0.5 * (z == 0))),
             "logreg_gt": float(np.mean(z > 0))}
        out["splits"][sp] = r
        print("%-8s %5d %6d %8.4f %8.4f %8.4f %7.4f %9.4f %9.4f %8.4f" % (
            sp, r["n"], r["gold_ties"], r["gold_ge"], r["gold_half"], r["gold_gt"], r["bayes"], r["logreg_ge"],
            r["logreg_half"], r["logreg_gt"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
