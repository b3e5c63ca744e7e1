#!/usr/bin/env python3
"""rm_pool_check.py — does the reward model's pooling limit what members learn? (docs/rm-diagnosis.md §9)

Trains one reward model in PyTorch from an SFT checkpoint on a `warm task prefs` file with warm's member recipe
(BT loss, AdamW, global-norm clip 1, linear decay to 0, batches of 16 pairs reshuffled per epoch) and one of three
poolings of the final-LayerNorm residual stream h_t through the head w:

  last  r = w . h[len - 1]                       (warm's reward, GPT2ForSequenceClassification's)
  mean  r = mean over response tokens t of w . h_t
  sum   r = sum over response tokens t of w . h_t  (a per-token reward: counts are linear in it)

and prints pairwise accuracy on val / ood pairs (against the label, and on the pairs whose gold rewards differ,
against the gold order) every --eval-every steps, then on 1,000 train pairs. Uses torch_rm_check.py's GPT-2.

  OPENBLAS_CORETYPE=SkylakeX python3 scripts/rm_pool_check.py --init sft/final.safetensors --zero-head \
      --data prefs_clean.jsonl --pool sum --steps 600 --lr 3e-4
"""
import sys, os, json, time, argparse
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_rm_check as T
import numpy as np, torch, torch.nn.functional as F

def load(path, splits, n_ctx):
    rows = []
    for line in open(path):
        o = json.loads(line)
        if o.get("split") not in splits: continue
        p = o["prompt_ids"]; c = p + o["chosen_ids"]; r = p + o["rejected_ids"]
        if max(len(c), len(r)) > n_ctx: continue
        gc, gr = o.get("gold_chosen"), o.get("gold_rejected")
        rows.append((c, r, len(p), gc, gr, o.get("corrupted", False)))
    return rows

def batch(rows):
    seqs = [r[0] for r in rows] + [r[1] for r in rows]
    pl = [r[2] for r in rows] * 2
    Tm = max(len(s) for s in seqs)
    tok = torch.zeros((len(seqs), Tm), dtype=torch.long)
    mask = torch.zeros((len(seqs), Tm))
    for i, s in enumerate(seqs):
        tok[i, :len(s)] = torch.tensor(s)
        mask[i, pl[i]:len(s)] = 1
    return tok, torch.tensor([len(s) for s in seqs]), mask

def fwd(model, tok, ln, mask, pool):
    x = model.residuals(tok)[-1]
    w = model.w("score.weight")[0]
    if pool == "last":
        return model.ln_f(x[torch.arange(x.shape[0]), ln - 1]) @ w
    per = model.ln_f(x) @ w  # B,T
    s = (per * mask).sum(1)
    if pool == "mean": return s / mask.sum(1)
    return s

@torch.no_grad()
def score(model, rows, pool, bs=64):
    model.eval(); out = np.zeros(len(rows))
    for i in range(0, len(rows), bs):
        b = rows[i:i+bs]; tok, ln, m = batch(b)
        r = fwd(model, tok, ln, m, pool).double().numpy()
        out[i:i+len(b)] = r[:len(b)] - r[len(b):]
    return out

def report(name, rows, d):
    """d: r_chosen - r_rejected per pair. acc: against the label; untied-vs-gold: on pairs whose gold differs."""
    g = np.array([(r[3] - r[4]) if r[3] is not None else 0 for r in rows])
    untied = g != 0
    print("%s: acc %.3f  untied-vs-gold %.3f (n=%d)" % (name, np.mean(d > 0),
          np.mean((d[untied] > 0) == (g[untied] > 0)), untied.sum()), flush=True)

ap = argparse.ArgumentParser()
ap.add_argument("--init"); ap.add_argument("--head"); ap.add_argument("--data")
ap.add_argument("--pool", default="last"); ap.add_argument("--steps", type=int, default=600)
ap.add_argument("--lr", type=float, default=3e-4); ap.add_argument("--batch", type=int, default=16)
ap.add_argument("--dropout", type=float, default=0.0); ap.add_argument("--eval-every", type=int, default=200)
ap.add_argument("--threads", type=int, default=1); ap.add_argument("--zero-head", action="store_true")
ap.add_argument("--nval", type=int, default=1000)
a = ap.parse_args()
torch.set_num_threads(a.threads); torch.manual_seed(1)
tensors, meta = T.st_read(a.init); cfg = json.loads(meta["warm.config"])
if a.head: tensors["score.weight"] = T.st_read(a.head)[0]["score.weight"]
if a.zero_head or "score.weight" not in tensors: tensors["score.weight"] = torch.zeros(1, cfg["n_embd"])
model = T.GPT2RM(cfg, tensors, a.dropout)
tr = load(a.data, {"train"}, cfg["n_positions"]); va = load(a.data, {"val"}, cfg["n_positions"])[:a.nval]
oo = load(a.data, {"ood"}, cfg["n_positions"])[:a.nval]
params = list(model.named().values())
opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.0)
rng = np.random.default_rng(1); perm = rng.permutation(len(tr)); pos = 0; t0 = time.time(); L = []
for s in range(a.steps):
    model.train(); take = []
    for _ in range(a.batch):
        take.append(tr[perm[pos]]); pos += 1
        if pos == len(tr): perm, pos = rng.permutation(len(tr)), 0
    tok, ln, m = batch(take); r = fwd(model, tok, ln, m, a.pool); P = len(take)
    loss = F.softplus(-(r[:P] - r[P:])).mean()
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(params, 1.0)
    for g in opt.param_groups: g["lr"] = a.lr * (1 - s / a.steps)
    opt.step(); L.append(float(loss))
    if (s + 1) % a.eval_every == 0 or s + 1 == a.steps:
        print("step %d loss %.4f (%.0fs)" % (s + 1, np.mean(L[-50:]), time.time() - t0), flush=True)
        report("  val", va, score(model, va, a.pool)); report("  ood", oo, score(model, oo, a.pool))
report("train", tr[:1000], score(model, tr[:1000], a.pool))
