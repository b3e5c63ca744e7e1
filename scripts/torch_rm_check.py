#!/usr/bin/env python3
"""torch_rm_check.py — an independent PyTorch reward-model trainer for cross-checking `warm train-rm`.

It loads a warm/Hugging Face GPT-2 checkpoint (safetensors, Conv1D [in, out] weights, config in
__metadata__["warm.config"]) into a small PyTorch GPT-2 written here (pre-LN, learned positions, tanh-GELU,
LayerNorm eps from the config, dropout on embeddings / attention probabilities / both residual branches),
optionally replaces score.weight with a probe head file, and trains it with warm's member recipe:

  loss      mean over pairs of -log sigma(r_chosen - r_rejected); r = score.weight . ln_f(h)[len - 1]
  optimiser torch.optim.AdamW(betas 0.9/0.999, eps 1e-8), weight decay on 2-D tensors only (default 0)
  clip      clip_grad_norm_(max_norm) on the whole model (default 1)
  schedule  linear from lr to lr * min_lr_frac over the steps, optional linear warm-up (warm_lr_at)
  data      split "train" of the pairs, reshuffled every epoch, batches of `batch` pairs that run across
            epoch boundaries (warm_order_take); rows longer than the context are dropped

and evaluates pairwise accuracy (ties correct: r+ >= r-, and strict r+ > r-) on the requested splits.

Modes:
  train (default)   train and evaluate, write a JSON summary (--json) with the loss curve
  --score-only      score pairs with the loaded model (no training), write --scores JSONL for a comparison
                    with `warm eval --scores`
  --save PATH       write the trained weights as safetensors (F32, warm's names) for `warm eval`

Uses only torch and numpy. Run with a single thread on shared machines (--threads, default 1).
"""
import argparse
import json
import math
import os
import struct
import sys
import time

# Debian's torch calls the system BLAS (libblas.so.3): keep it to one thread as well. With OpenBLAS 0.3.21 set
# OPENBLAS_CORETYPE (e.g. SkylakeX) on CPUs it misdetects, see docs/benchmarks.md.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import torch
import torch.nn.functional as F

# ---------------------------------------------------------------- safetensors

_DT = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def st_read(path):
    """Returns (tensors: name -> float32 torch tensor, metadata dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        dt = info["dtype"]
        if dt == "BF16":
            u = np.frombuffer(raw[base + a:base + b], dtype=np.uint16).astype(np.uint32) << 16
            arr = u.view(np.float32)
        else:
            arr = np.frombuffer(raw[base + a:base + b], dtype=_DT[dt]).astype(np.float32)
        out[name] = torch.from_numpy(arr.copy().reshape(info["shape"]))
    return out, meta


def st_write(path, tensors, meta):
    header = {"__metadata__": meta}
    blobs, off = [], 0
    for name in sorted(tensors):
        a = tensors[name].detach().contiguous().float().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [off, off + len(a)]}
        blobs.append(a)
        off += len(a)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for a in blobs:
            f.write(a)


# ---------------------------------------------------------------- model


class GPT2RM(torch.nn.Module):
    """GPT-2 body + scalar reward head; parameters keep the checkpoint's names and layouts."""

    def __init__(self, cfg, tensors, dropout):
        super().__init__()
        self.C, self.L, self.H = cfg["n_embd"], cfg["n_layer"], cfg["n_head"]
        self.eps = cfg.get("layer_norm_epsilon", 1e-5)
        self.p = dropout
        self.names = sorted(tensors)
        self.params = torch.nn.ParameterDict(
            {n.replace(".", "__"): torch.nn.Parameter(t.clone()) for n, t in tensors.items()})

    def w(self, name):
        return self.params[name.replace(".", "__")]

    def named(self):
        return {n: self.w(n) for n in self.names}

    def residuals(self, tokens):
        """tokens (B, T) right-padded; returns the residual stream after the embeddings and after each block,
        a list of L + 1 tensors (B, T, C) (no final LayerNorm)."""
        B, T = tokens.shape
        C, H = self.C, self.H
        tr = self.training and self.p > 0
        x = self.w("transformer.wte.weight")[tokens] + self.w("transformer.wpe.weight")[:T][None]
        x = F.dropout(x, self.p, tr)
        out = [x]
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        for l in range(self.L):
            pre = "transformer.h.%d." % l
            h = F.layer_norm(x, (C,), self.w(pre + "ln_1.weight"), self.w(pre + "ln_1.bias"), self.eps)
            qkv = h @ self.w(pre + "attn.c_attn.weight") + self.w(pre + "attn.c_attn.bias")
            q, k, v = qkv.split(C, dim=2)
            q = q.view(B, T, H, C // H).transpose(1, 2)
            k = k.view(B, T, H, C // H).transpose(1, 2)
            v = v.view(B, T, H, C // H).transpose(1, 2)
            att = (q @ k.transpose(-1, -2)) / math.sqrt(C // H)
            att = att.masked_fill(~causal, float("-inf")).softmax(-1)
            att = F.dropout(att, self.p, tr)
            y = (att @ v).transpose(1, 2).reshape(B, T, C)
            y = y @ self.w(pre + "attn.c_proj.weight") + self.w(pre + "attn.c_proj.bias")
            x = x + F.dropout(y, self.p, tr)
            h = F.layer_norm(x, (C,), self.w(pre + "ln_2.weight"), self.w(pre + "ln_2.bias"), self.eps)
            h = h @ self.w(pre + "mlp.c_fc.weight") + self.w(pre + "mlp.c_fc.bias")
            h = F.gelu(h, approximate="tanh")
            h = h @ self.w(pre + "mlp.c_proj.weight") + self.w(pre + "mlp.c_proj.bias")
            x = x + F.dropout(h, self.p, tr)
            out.append(x)
        return out

    def ln_f(self, x):
        return F.layer_norm(x, (self.C,), self.w("transformer.ln_f.weight"), self.w("transformer.ln_f.bias"),
                            self.eps)

    def logits(self, tokens):
        """Next-token logits (B, T, V) through the tied embedding (the LM head of the checkpoint)."""
        return self.ln_f(self.residuals(tokens)[-1]) @ self.w("transformer.wte.weight").T

    def forward(self, tokens, lengths):
        """tokens (B, T) right-padded, lengths (B); returns rewards (B)."""
        x = self.residuals(tokens)[-1]
        # Pool first (the pooled row only depends on itself after the last block), then ln_f and the head.
        pooled = self.ln_f(x[torch.arange(x.shape[0]), lengths - 1])
        return pooled @ self.w("score.weight")[0]


# ---------------------------------------------------------------- data


def load_pairs(path, splits, n_ctx):
    rows, dropped = [], 0
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            o = json.loads(line)
            if splits and o.get("split") not in splits:
                continue
            p = o["prompt_ids"]
            c, r = p + o["chosen_ids"], p + o["rejected_ids"]
            if max(len(c), len(r)) > n_ctx:
                dropped += 1
                continue
            rows.append((c, r))
    return rows, dropped


def batch_tensors(rows, pad_id=0):
    seqs = [r[0] for r in rows] + [r[1] for r in rows]
    T = max(len(s) for s in seqs)
    tok = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        tok[i, :len(s)] = torch.tensor(s, dtype=torch.long)
    return tok, torch.tensor([len(s) for s in seqs], dtype=torch.long)


@torch.no_grad()
def score(model, rows, bs=64):
    model.eval()
    # Sort by length so each batch pads little; results go back in the original order.
    order = sorted(range(len(rows)), key=lambda i: max(len(rows[i][0]), len(rows[i][1])))
    rc, rr = np.zeros(len(rows)), np.zeros(len(rows))
    for i in range(0, len(order), bs):
        idx = order[i:i + bs]
        tok, ln = batch_tensors([rows[j] for j in idx])
        r = model(tok, ln).double().numpy()
        rc[idx], rr[idx] = r[:len(idx)], r[len(idx):]
    return rc, rr


def metrics(rc, rr):
    d = rc - rr
    return {"n": int(len(d)), "acc_ge": float(np.mean(d >= 0)), "acc_gt": float(np.mean(d > 0)),
            "ties": int(np.sum(d == 0)), "bt_loss": float(np.mean(np.logaddexp(0.0, -d))),
            "margin": float(np.mean(d))}


# ---------------------------------------------------------------- training


def lr_at(s, lr, total, warmup, min_frac):
    """warm_lr_at for the linear schedule (and constant when total <= warmup)."""
    if warmup > 0 and s < warmup:
        return lr * (s + 1) / warmup
    if total <= warmup:
        return lr
    frac = min(1.0, (s - warmup) / (total - warmup))
    lo = lr * min_frac
    return lr + (lo - lr) * frac


def train(model, rows, a, log):
    decay = [p for n, p in model.named().items() if p.dim() == 2]
    nodecay = [p for n, p in model.named().items() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": nodecay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    rng = np.random.default_rng(a.seed)
    perm, pos = rng.permutation(len(rows)), 0
    curve, acc_int = [], []
    t0 = time.time()
    for s in range(a.steps):
        model.train()
        take = []
        for _ in range(a.batch):
            take.append(rows[perm[pos]])
            pos += 1
            if pos == len(rows):
                perm, pos = rng.permutation(len(rows)), 0
        tok, ln = batch_tensors(take)
        r = model(tok, ln)
        P = len(take)
        d = r[:P] - r[P:]
        loss = F.softplus(-d).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip) if a.clip > 0 else torch.tensor(0.0)
        cur = lr_at(s, a.lr, a.steps, a.warmup, a.min_lr_frac)
        for g in opt.param_groups:
            g["lr"] = cur
        opt.step()
        acc_int.append((float(loss), float((d > 0).float().mean()), float(gn)))
        step = s + 1
        if step % a.log_every == 0 or step == a.steps:
            m = np.mean(acc_int, axis=0)
            rec = {"step": step, "epoch": step * a.batch / len(rows), "loss": float(m[0]), "accuracy": float(m[1]),
                   "grad_norm": float(m[2]), "lr": cur, "seconds": time.time() - t0}
            if a.eval_every and (step % a.eval_every == 0 or step == a.steps) and a.val_rows:
                rec["val"] = metrics(*score(model, a.val_rows))
            curve.append(rec)
            acc_int = []
            log(json.dumps(rec))
    return curve


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--init", required=True, help="SFT checkpoint (safetensors)")
    ap.add_argument("--head", help="probe head file whose score.weight replaces the init's")
    ap.add_argument("--data", required=True, help="preference JSONL with prompt_ids/chosen_ids/rejected_ids/split")
    ap.add_argument("--subset", default="train", help="training splits (comma-separated)")
    ap.add_argument("--eval", default="val,ood,train", help="splits to evaluate after training (comma-separated)")
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--min-lr-frac", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--eval-every", type=int, default=0, help="also score split val every K steps (0: never)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--score-only", action="store_true", help="no training: score --eval splits, write --scores")
    ap.add_argument("--scores", help="JSONL of [r_chosen, r_rejected] per pair of the first --eval split")
    ap.add_argument("--save", help="write the trained weights here (safetensors, F32)")
    ap.add_argument("--json", help="write the summary (config, curve, accuracies) here")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    tensors, meta = st_read(a.init)
    cfg = json.loads(meta["warm.config"])
    if a.head:
        head, _ = st_read(a.head)
        tensors["score.weight"] = head["score.weight"]
    if "score.weight" not in tensors:
        tensors["score.weight"] = torch.randn(1, cfg["n_embd"]) * 0.02
    model = GPT2RM(cfg, tensors, a.dropout)
    log = lambda s: print(s, file=sys.stderr, flush=True)

    splits = lambda spec: set(x for x in spec.split(",") if x)
    a.val_rows = load_pairs(a.data, {"val"}, cfg["n_positions"])[0] if a.eval_every else None
    summary = {"config": {k: v for k, v in vars(a).items() if k != "val_rows"}, "torch": torch.__version__}
    if not a.score_only:
        rows, dropped = load_pairs(a.data, splits(a.subset), cfg["n_positions"])
        log("torch_rm_check: %d training pairs (%d dropped as too long), %d steps of %d (%.2f epochs)"
            % (len(rows), dropped, a.steps, a.batch, a.steps * a.batch / len(rows)))
        t0 = time.time()
        summary["curve"] = train(model, rows, a, log)
        summary["train_seconds"] = time.time() - t0
    summary["eval"] = {}
    for i, sp in enumerate(x for x in a.eval.split(",") if x):
        rows, _ = load_pairs(a.data, {sp}, cfg["n_positions"])
        rc, rr = score(model, rows)
        summary["eval"][sp] = metrics(rc, rr)
        log("%s: %s" % (sp, json.dumps(summary["eval"][sp])))
        if a.scores and i == 0:
            with open(a.scores, "w") as f:
                for x, y in zip(rc, rr):
                    f.write(json.dumps([float(x), float(y)]) + "\n")
    if a.save:
        m = dict(meta)
        m["warm.torch_rm_check"] = json.dumps(summary["config"])
        st_write(a.save, {n: p for n, p in model.named().items()}, m)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
