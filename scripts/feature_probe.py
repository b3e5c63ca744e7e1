#!/usr/bin/env python3
"""feature_probe.py — does a checkpoint's body represent what the gold reward checks? (issue 11 diagnostics)

Two measurements on a warm GPT-2 checkpoint (pretrained, SFT or reward model), with PyTorch and numpy only:

1. Linear probes (logistic regression, L2 1e-3, fitted on responses of the "train" pairs, scored on "val") on
   the residual stream after the embeddings and after every block, for three labels the gold reward rests on:
     obj-in-post   at each object word of a stated fact clause in a response: does the post contain this word?
     fact-true     at the same positions: is the clause NAME VERB the OBJECT a fact of the post?
     seq-halluc    at the response's last token (where the reward head reads): does the response state a fact
                   the post does not?
   A body that represents a check gives a probe accuracy well above the majority rate printed beside it.
2. Induction: the next-token loss (nats) on random lists of 6-12 task content words, first occurrence vs an
   exact repetition right after it. A model with induction (copy) heads predicts the repetition well.

usage: feature_probe.py CKPT TASK_DIR PREFS_JSONL [--train-pairs N] [--val-pairs N]

PREFS_JSONL: rows of `warm task prefs` (prompt_ids, chosen_ids, rejected_ids, split); both responses of each pair
are used. The fact parser is the task's: four consecutive words NAME VERB the OBJECT (docs/task.md section 1).
"""
import argparse
import json
import os
import random
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_rm_check import GPT2RM, st_read  # noqa: E402


def load_model(path):
    tensors, meta = st_read(path)
    cfg = json.loads(meta["warm.config"])
    body = {k: v for k, v in tensors.items() if k.startswith("transformer.")}
    model = GPT2RM(cfg, body, 0.0)
    model.eval()
    return model


class World:
    def __init__(self, task_dir):
        tj = json.load(open(os.path.join(task_dir, "task.json")))
        vocab = json.load(open(os.path.join(task_dir, "tokenizer.json")))["vocab"]
        self.id = {w: i for i, w in enumerate(vocab)}
        w = tj["words"]
        self.names = {self.id[x] for x in w["names"]}
        self.verbs = {self.id[x] for x in w["verbs"]}
        self.objects = {self.id[x] for x in w["objects"]}
        self.article = self.id[w["article"]]
        self.content = [self.id[x] for x in w["names"] + w["verbs"] + w["objects"] + w["places"]]

    def facts(self, ids):
        """[(name, verb, object, position of the object)] left to right, non-overlapping."""
        out, i = [], 0
        while i + 3 < len(ids):
            if (ids[i] in self.names and ids[i + 1] in self.verbs and ids[i + 2] == self.article
                    and ids[i + 3] in self.objects):
                out.append((ids[i], ids[i + 1], ids[i + 3], i + 3))
                i += 4
            else:
                i += 1
        return out


@torch.no_grad()
def collect(model, world, path, split, limit):
    L = model.L + 1
    obj_x, obj_in, fact_ok = [[] for _ in range(L)], [], []
    last_x, halluc = [[] for _ in range(L)], []
    n = 0
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r.get("split") != split:
                continue
            n += 1
            if n > limit:
                break
            p = r["prompt_ids"]
            post_facts = {(a, b, c) for a, b, c, _ in world.facts(p)}
            post_words = set(p)
            for resp in (r["chosen_ids"], r["rejected_ids"]):
                seq = p + resp
                if len(seq) > model.w("transformer.wpe.weight").shape[0]:
                    continue
                hs = model.residuals(torch.tensor([seq]))
                bad = False
                for a, b, c, pos in world.facts(resp):
                    ok = (a, b, c) in post_facts
                    bad |= not ok
                    for l in range(L):
                        obj_x[l].append(hs[l][0, len(p) + pos].numpy())
                    obj_in.append(c in post_words)
                    fact_ok.append(ok)
                for l in range(L):
                    last_x[l].append(hs[l][0, len(seq) - 1].numpy())
                halluc.append(bad)
    return ([np.array(x) for x in obj_x], np.array(obj_in), np.array(fact_ok), [np.array(x) for x in last_x],
            np.array(halluc))


def logreg(xtr, ytr, xte, yte, l2=1e-3):
    """Accuracy (train, test) of an L2 logistic regression on standardised features (LBFGS)."""
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
    a = torch.tensor((xtr - mu) / sd, dtype=torch.float32)
    b = torch.tensor((xte - mu) / sd, dtype=torch.float32)
    y = torch.tensor(ytr, dtype=torch.float32)
    w = torch.zeros(a.shape[1], requires_grad=True)
    c = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, c], max_iter=300)

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(a @ w + c, y) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return float((((a @ w + c) > 0).numpy() == ytr).mean()), float((((b @ w + c) > 0).numpy() == yte).mean())


@torch.no_grad()
def induction(model, world, n=200, seed=5):
    rng = random.Random(seed)
    first = second = 0.0
    dot = world.id["."]
    for _ in range(n):
        k = rng.randint(6, 12)
        s = [rng.choice(world.content) for _ in range(k)] + [dot]
        ids = s + s
        lp = model.logits(torch.tensor([ids]))[0].log_softmax(-1)
        nll = [-float(lp[i - 1, ids[i]]) for i in range(1, len(ids))]
        first += sum(nll[:k - 1]) / (k - 1)          # words 2..k of the first list
        second += sum(nll[k + 1:2 * k]) / (k - 1)     # words 2..k of the repetition
    return first / n, second / n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ckpt")
    ap.add_argument("task")
    ap.add_argument("prefs")
    ap.add_argument("--train-pairs", type=int, default=800)
    ap.add_argument("--val-pairs", type=int, default=400)
    a = ap.parse_args()
    torch.set_num_threads(1)
    model, world = load_model(a.ckpt), World(a.task)
    tr = collect(model, world, a.prefs, "train", a.train_pairs)
    va = collect(model, world, a.prefs, "val", a.val_pairs)
    maj = lambda y: max(y.mean(), 1 - y.mean())
    print("%s: %d / %d object positions (train / val), %d / %d responses" %
          (a.ckpt, len(tr[1]), len(va[1]), len(tr[4]), len(va[4])))
    print("val majority rates: obj-in-post %.3f, fact-true %.3f, seq-halluc %.3f" % (maj(va[1]), maj(va[2]), maj(va[4])))
    print("layer  obj-in-post (train/val)  fact-true (train/val)  seq-halluc at last token (train/val)")
    for l in range(model.L + 1):
        p1 = logreg(tr[0][l], tr[1], va[0][l], va[1])
        p2 = logreg(tr[0][l], tr[2], va[0][l], va[2])
        p3 = logreg(tr[3][l], tr[4], va[3][l], va[4])
        print("%5d  %.3f / %.3f            %.3f / %.3f          %.3f / %.3f" % (l, *p1, *p2, *p3))
    f, s = induction(model, world)
    print("induction: loss on a random word list %.3f nats/token, on its repetition %.3f" % (f, s))


if __name__ == "__main__":
    main()
