#!/usr/bin/python3
"""make_golden.py OUTDIR — writes the PyTorch golden fixtures used by the C tests.

  OUTDIR/golden_model.safetensors  a tiny random GPT-2 reward model (HF GPT2ForSequenceClassification names, F32)
  OUTDIR/golden_data.safetensors   reference outputs: LM logits/loss/grads, Bradley-Terry rewards/loss/grads,
                                   3 AdamW steps with gradient clipping

Run with Debian's PyTorch:  /usr/bin/python3 scripts/make_golden.py tests/fixtures   (or `make fixtures`).
Deterministic: torch.manual_seed(1234). GPT-2 is written here in plain torch (no transformers), and safetensors
files are written and re-read by hand (no safetensors package); see docs formats.md §1 and §3.

Precision: parameters are drawn in float32 and stored as F32; every reference value is computed in float64 from
those F32-rounded weights (and from F32-rounded inputs such as margins and the centring coefficient), then rounded
to F32 when stored. The AdamW trajectory is float64 too; the script also runs it in float32 and prints how far
the two differ, which is the size of the disagreement a float32 C implementation should expect.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

# ----------------------------------------------------------------------------------------------- config
CFG = {
    "vocab_size": 64, "n_positions": 16, "n_layer": 2, "n_head": 4, "n_embd": 32,
    "embd_pdrop": 0, "attn_pdrop": 0, "resid_pdrop": 0, "layer_norm_epsilon": 1e-5,
    "initializer_range": 0.02, "bos_token_id": 63, "eos_token_id": 63, "pad_token_id": 63,
    "model_type": "gpt2",
}
V, P, L, NH, C = CFG["vocab_size"], CFG["n_positions"], CFG["n_layer"], CFG["n_head"], CFG["n_embd"]
EPS = CFG["layer_norm_epsilon"]
PAD = CFG["pad_token_id"]
SEED = 1234

ADAM = {"lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.1, "steps": 3,
        "clip_eps": 1e-6}  # clip_eps: torch clip_grad_norm_ uses coef = max_norm / (total_norm + 1e-6)


def f32(x):
    """Round a Python float to the nearest float32 (so float64 math uses exactly what the file stores)."""
    return float(np.float32(x))


# ------------------------------------------------------------------------------------------ parameters
def param_names():
    names = ["transformer.wte.weight", "transformer.wpe.weight"]
    for l in range(L):
        p = f"transformer.h.{l}."
        names += [p + "ln_1.weight", p + "ln_1.bias",
                  p + "attn.c_attn.weight", p + "attn.c_attn.bias",
                  p + "attn.c_proj.weight", p + "attn.c_proj.bias",
                  p + "ln_2.weight", p + "ln_2.bias",
                  p + "mlp.c_fc.weight", p + "mlp.c_fc.bias",
                  p + "mlp.c_proj.weight", p + "mlp.c_proj.bias"]
    names += ["transformer.ln_f.weight", "transformer.ln_f.bias", "score.weight"]
    return names


def make_params():
    """Random float32 parameters that exercise everything (non-trivial LN gains, biases, head)."""
    shapes = {"transformer.wte.weight": (V, C), "transformer.wpe.weight": (P, C),
              "transformer.ln_f.weight": (C,), "transformer.ln_f.bias": (C,), "score.weight": (1, C)}
    for l in range(L):
        p = f"transformer.h.{l}."
        shapes.update({p + "ln_1.weight": (C,), p + "ln_1.bias": (C,),
                       p + "attn.c_attn.weight": (C, 3 * C), p + "attn.c_attn.bias": (3 * C,),
                       p + "attn.c_proj.weight": (C, C), p + "attn.c_proj.bias": (C,),
                       p + "ln_2.weight": (C,), p + "ln_2.bias": (C,),
                       p + "mlp.c_fc.weight": (C, 4 * C), p + "mlp.c_fc.bias": (4 * C,),
                       p + "mlp.c_proj.weight": (4 * C, C), p + "mlp.c_proj.bias": (C,)})
    params = {}
    for n in param_names():
        shp = shapes[n]
        if n in ("transformer.wte.weight", "transformer.wpe.weight"):
            t = torch.randn(shp) * 0.1
        elif n == "score.weight":
            t = torch.randn(shp) * 0.2
        elif "ln_" in n and n.endswith(".weight"):
            t = 1.0 + torch.randn(shp) * 0.1
        elif n.endswith(".bias"):
            t = torch.randn(shp) * 0.02
        else:  # Conv1D matrices [in, out]
            t = torch.randn(shp) * 0.08
        params[n] = t.to(torch.float32).contiguous()
    return params


# --------------------------------------------------------------------------------------------- GPT-2
def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


def layer_norm(x, w, b):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)  # biased variance
    return (x - mu) / torch.sqrt(var + EPS) * w + b


def gpt2_hidden(p, tokens):
    """tokens [B,T] int64 -> ln_f output [B,T,C] in the dtype of p. Causal, no attention mask (right padding)."""
    B, T = tokens.shape
    hd = C // NH
    x = p["transformer.wte.weight"][tokens] + p["transformer.wpe.weight"][torch.arange(T)][None]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(L):
        q_ = f"transformer.h.{l}."
        h = layer_norm(x, p[q_ + "ln_1.weight"], p[q_ + "ln_1.bias"])
        qkv = h @ p[q_ + "attn.c_attn.weight"] + p[q_ + "attn.c_attn.bias"]  # Conv1D: y = x W + b
        q, k, v = qkv.split(C, dim=-1)
        q = q.view(B, T, NH, hd).transpose(1, 2)
        k = k.view(B, T, NH, hd).transpose(1, 2)
        v = v.view(B, T, NH, hd).transpose(1, 2)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        att = att.masked_fill(~causal, float("-inf"))
        att = torch.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + y @ p[q_ + "attn.c_proj.weight"] + p[q_ + "attn.c_proj.bias"]
        h = layer_norm(x, p[q_ + "ln_2.weight"], p[q_ + "ln_2.bias"])
        h = gelu_new(h @ p[q_ + "mlp.c_fc.weight"] + p[q_ + "mlp.c_fc.bias"])
        x = x + h @ p[q_ + "mlp.c_proj.weight"] + p[q_ + "mlp.c_proj.bias"]
    return layer_norm(x, p["transformer.ln_f.weight"], p["transformer.ln_f.bias"])


def lm_logits(p, tokens):
    return gpt2_hidden(p, tokens) @ p["transformer.wte.weight"].t()  # tied LM head


def lm_loss(p, tokens, targets, mask):
    logits = lm_logits(p, tokens)
    nll = -torch.log_softmax(logits, dim=-1).gather(-1, targets[..., None])[..., 0]
    return (mask * nll).sum() / mask.sum(), logits


def rewards(p, tokens, lengths):
    h = gpt2_hidden(p, tokens)
    last = h[torch.arange(tokens.shape[0]), lengths - 1]  # last non-pad token (right padding)
    return last @ p["score.weight"][0]


def bt_loss(p, tokens, lengths, margins, center):
    r = rewards(p, tokens, lengths)
    npair = margins.shape[0]
    rc, rr = r[:npair], r[npair:]
    loss = (-F.logsigmoid(rc - rr - margins)).mean() + center * ((rc + rr) ** 2).mean()
    return loss, r


# ------------------------------------------------------------------ independent numpy forward (cross-check)
def np_hidden(p, toks):
    """Straightforward per-sequence, per-head float64 numpy GPT-2, written separately from gpt2_hidden."""
    p = {k: v.detach().double().numpy() for k, v in p.items()}

    def ln(x, w, b):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + EPS) * w + b

    out = []
    hd = C // NH
    for seq in toks:
        T = len(seq)
        x = p["transformer.wte.weight"][seq] + p["transformer.wpe.weight"][:T]
        for l in range(L):
            g = lambda s: p[f"transformer.h.{l}." + s]  # noqa: E731
            h = ln(x, g("ln_1.weight"), g("ln_1.bias"))
            qkv = h @ g("attn.c_attn.weight") + g("attn.c_attn.bias")
            y = np.zeros((T, C))
            for hh in range(NH):
                q = qkv[:, hh * hd:(hh + 1) * hd]
                k = qkv[:, C + hh * hd:C + (hh + 1) * hd]
                v = qkv[:, 2 * C + hh * hd:2 * C + (hh + 1) * hd]
                for t in range(T):
                    s = k[:t + 1] @ q[t] / math.sqrt(hd)
                    s = np.exp(s - s.max())
                    s /= s.sum()
                    y[t, hh * hd:(hh + 1) * hd] = s @ v[:t + 1]
            x = x + y @ g("attn.c_proj.weight") + g("attn.c_proj.bias")
            h = ln(x, g("ln_2.weight"), g("ln_2.bias"))
            u = h @ g("mlp.c_fc.weight") + g("mlp.c_fc.bias")
            u = 0.5 * u * (1 + np.tanh(math.sqrt(2 / math.pi) * (u + 0.044715 * u ** 3)))
            x = x + u @ g("mlp.c_proj.weight") + g("mlp.c_proj.bias")
        out.append(ln(x, p["transformer.ln_f.weight"], p["transformer.ln_f.bias"]))
    return np.stack(out)


# -------------------------------------------------------------------------------------- safetensors I/O
DT = {torch.float32: ("F32", 4), torch.int32: ("I32", 4)}


def write_safetensors(path, tensors, metadata):
    for k, v in metadata.items():
        assert isinstance(k, str) and isinstance(v, str), "metadata maps strings to strings"
    # reference-writer order: descending alignment, then name -> every offset is a multiple of its element size
    names = sorted(tensors, key=lambda n: (-DT[tensors[n].dtype][1], n))
    header = {"__metadata__": metadata}
    blobs, off = [], 0
    for n in names:
        t = tensors[n].contiguous()
        dt, _ = DT[t.dtype]
        b = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[n] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * ((-len(hj)) % 8)
    assert hj[:1] == b"{" and len(hj) % 8 == 0
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """Strict re-reader (checks the tiling rules of formats.md §1) used to verify what was written."""
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    assert n % 8 == 0 and 8 + n <= len(raw) and raw[8:9] == b"{"
    hdr = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = hdr.pop("__metadata__", {})
    buf = raw[8 + n:]
    ents = sorted(hdr.items(), key=lambda kv: kv[1]["data_offsets"][0])
    pos, out = 0, {}
    np_dt = {"F32": np.dtype("<f4"), "I32": np.dtype("<i4")}
    for name, e in ents:
        b, en = e["data_offsets"]
        dt = np_dt[e["dtype"]]
        assert b == pos and en - b == int(np.prod(e["shape"], dtype=np.int64)) * dt.itemsize and b % dt.itemsize == 0
        out[name] = torch.from_numpy(np.frombuffer(buf[b:en], dtype=dt).reshape(e["shape"]).copy())
        pos = en
    assert pos == len(buf), "tensors must tile the data buffer exactly"
    return out, meta


# ------------------------------------------------------------------------------------------------- data
def padded(tokens_list, T):
    out = torch.full((len(tokens_list), T), PAD, dtype=torch.int64)
    for i, t in enumerate(tokens_list):
        out[i, :len(t)] = t
    return out


def make_lm_case(T=12, lengths=(12, 9, 5)):
    B = len(lengths)
    tokens = padded([torch.randint(0, V - 1, (n,)) for n in lengths], T)
    lens = torch.tensor(lengths, dtype=torch.int64)
    targets = torch.zeros(B, T, dtype=torch.int64)
    mask = torch.zeros(B, T, dtype=torch.float64)
    for b, n in enumerate(lengths):
        targets[b, :n - 1] = tokens[b, 1:n]  # next token; last real and pad positions stay 0 (masked)
        mask[b, 2:n - 1] = 1.0               # response positions t in [2, len-2]
    return tokens, lens, targets, mask


def make_bt_case(T=12, lengths=(10, 7, 12, 4)):
    tokens = padded([torch.randint(0, V - 1, (n,)) for n in lengths], T)
    return tokens, torch.tensor(lengths, dtype=torch.int64)


# ----------------------------------------------------------------------------------- finite differences
def fd_check(loss_fn, p64, grads, names, label, per_tensor=3, h=1e-5):
    """Central differences in float64 on the largest-|g| entry and a few random entries of each tensor."""
    worst = 0.0
    gen = torch.Generator().manual_seed(99)
    count = 0
    for n in names:
        g = grads[n].reshape(-1)
        idx = [int(g.abs().argmax())] + torch.randint(0, g.numel(), (per_tensor - 1,), generator=gen).tolist()
        for i in idx:
            q = {k: v.detach().clone() for k, v in p64.items()}
            flat = q[n].view(-1)
            x0 = float(flat[i])
            flat[i] = x0 + h
            lp = float(loss_fn(q))
            flat[i] = x0 - h
            lm = float(loss_fn(q))
            fd = (lp - lm) / (2 * h)
            err = abs(fd - float(g[i])) / (1e-8 + 1e-5 * abs(float(g[i])) + 1e-5 * abs(fd))
            worst = max(worst, err)
            count += 1
            assert err < 1.0, f"{label}: gradient check failed for {n}[{i}]: autograd {float(g[i])!r} fd {fd!r}"
    print(f"  {label}: finite-difference check of {count} entries OK (worst err/tol = {worst:.3f})")


# ---------------------------------------------------------------------------------------------- AdamW
def adamw_run(p_init, dtype, tokens, lengths, margins, center, max_norm=None):
    """3 steps of torch.optim.AdamW with clip_grad_norm_ before each; returns (params, losses, max_norm, norms)."""
    names = param_names()
    ps = {n: p_init[n].detach().to(dtype).clone().requires_grad_(True) for n in names}
    decay = [ps[n] for n in names if ps[n].dim() == 2]
    no_decay = [ps[n] for n in names if ps[n].dim() == 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": ADAM["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=ADAM["lr"], betas=(ADAM["beta1"], ADAM["beta2"]), eps=ADAM["eps"])
    m = margins.to(dtype)
    losses, norms = [], []
    for step in range(ADAM["steps"]):
        opt.zero_grad()
        loss, _ = bt_loss(ps, tokens, lengths, m, center)
        loss.backward()
        losses.append(float(loss))
        if max_norm is None:  # 0.5 x the step-1 gradient norm, rounded to float32 so it is stored exactly
            gn = torch.sqrt(sum((ps[n].grad.double() ** 2).sum() for n in names))
            max_norm = f32(0.5 * float(gn))
        norms.append(float(torch.nn.utils.clip_grad_norm_([ps[n] for n in names], max_norm)))  # pre-clip norm
        opt.step()
    return {n: ps[n].detach() for n in names}, losses, max_norm, norms


# ----------------------------------------------------------------------------------------------- main
def main():
    if len(sys.argv) != 2:
        print("usage: make_golden.py OUTDIR", file=sys.stderr)
        sys.exit(2)
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    torch.manual_seed(SEED)
    torch.set_num_threads(1)  # reproducible reductions

    names = param_names()
    p32 = make_params()
    lm_tokens, lm_lens, lm_targets, lm_mask = make_lm_case()
    bt_tokens, bt_lens = make_bt_case()
    margins = torch.tensor([0.0, 0.5], dtype=torch.float64)
    center = f32(0.01)

    p64 = {n: t.double().requires_grad_(True) for n, t in p32.items()}
    print(f"make_golden: V={V} P={P} L={L} NH={NH} C={C}, {sum(t.numel() for t in p32.values())} parameters, "
          f"seed {SEED}, torch {torch.__version__}")

    # sanity: gelu_new matches torch's tanh GELU; forward matches an independent numpy implementation
    xs = torch.linspace(-6, 6, 1001, dtype=torch.float64)
    assert torch.allclose(gelu_new(xs), F.gelu(xs, approximate="tanh"), atol=1e-14)
    with torch.no_grad():
        h_t = gpt2_hidden(p64, lm_tokens).numpy()
    h_n = np_hidden(p32, lm_tokens.numpy())
    d = np.abs(h_t - h_n).max()
    assert d < 1e-12, d
    print(f"  forward matches the independent numpy implementation (max |diff| {d:.1e})")
    # causality: changing pad tokens after len must not change earlier positions
    alt = lm_tokens.clone()
    alt[lm_tokens == PAD] = 5
    with torch.no_grad():
        h_a = gpt2_hidden(p64, alt).numpy()
    for b, n in enumerate(lm_lens.tolist()):
        assert np.abs(h_a[b, :n] - h_t[b, :n]).max() < 1e-13
    print("  causal mask OK (tokens after len do not change positions < len)")

    # ---- LM case
    loss, logits = lm_loss(p64, lm_tokens, lm_targets, lm_mask)
    lm_names = [n for n in names if n != "score.weight"]
    g = torch.autograd.grad(loss, [p64[n] for n in lm_names])
    lm_grads = dict(zip(lm_names, g))
    # independent loss check from logits
    lp = torch.log_softmax(logits.detach(), -1)
    tot, cnt = 0.0, 0.0
    for b in range(lm_tokens.shape[0]):
        for t in range(lm_tokens.shape[1]):
            if lm_mask[b, t] > 0:
                tot -= float(lp[b, t, lm_targets[b, t]])
                cnt += 1
    assert abs(tot / cnt - float(loss)) < 1e-12
    fd_check(lambda q: lm_loss(q, lm_tokens, lm_targets, lm_mask)[0], p64, lm_grads, lm_names, "lm.grad")
    print(f"  lm.loss = {float(loss):.6f} over {int(lm_mask.sum())} masked positions")

    # ---- BT case
    bloss, r = bt_loss(p64, bt_tokens, bt_lens, margins, center)
    g = torch.autograd.grad(bloss, [p64[n] for n in names])
    bt_grads = dict(zip(names, g))
    # independent check of pooling and the loss formula
    hn = np_hidden(p32, bt_tokens.numpy())
    sw = p32["score.weight"].double().numpy()[0]
    rn = np.array([hn[b, bt_lens[b] - 1] @ sw for b in range(4)])
    assert np.abs(rn - r.detach().numpy()).max() < 1e-12
    lref = np.mean([math.log1p(math.exp(-(rn[i] - rn[i + 2] - float(margins[i])))) for i in range(2)]) + \
        center * np.mean([(rn[i] + rn[i + 2]) ** 2 for i in range(2)])
    assert abs(lref - float(bloss)) < 1e-12
    fd_check(lambda q: bt_loss(q, bt_tokens, bt_lens, margins, center)[0], p64, bt_grads, names, "bt.grad")
    print(f"  bt.rewards = {[round(float(x), 6) for x in r]}, bt.loss = {float(bloss):.6f}")
    for n in names:
        if n.startswith("transformer.wpe"):
            assert float(bt_grads[n][12:].abs().max()) == 0.0  # unused positions get exactly zero gradient

    # ---- AdamW (float64 reference; float32 run only to report the expected float32 disagreement)
    a64, losses64, max_norm, norms64 = adamw_run(p32, torch.float64, bt_tokens, bt_lens, margins, center)
    a32, losses32, _, _ = adamw_run(p32, torch.float32, bt_tokens, bt_lens, margins, center, max_norm)
    gn1 = math.sqrt(sum(float((bt_grads[n] ** 2).sum()) for n in names))
    assert abs(losses64[0] - float(bloss)) < 1e-12 and max_norm < gn1  # clipping is active at step 1
    # the key part [C, 2C) of each c_attn.bias has an exactly-zero true gradient (softmax is invariant to a
    # per-row constant), so Adam turns rounding noise into updates of up to ~lr there: report it separately
    dk = max(float((a64[n] - a32[n].double())[C:2 * C].abs().max()) for n in names if n.endswith("c_attn.bias"))
    diffs = {n: (a64[n] - a32[n].double()).abs().view(-1) for n in names}
    dd = torch.cat([torch.cat([d[:C], d[2 * C:]]) if n.endswith("c_attn.bias") else d for n, d in diffs.items()])
    dmax, dmean = float(dd.max()), float(dd.mean())
    dloss = max(abs(a - b) for a, b in zip(losses64, losses32))
    moved = max(float((a64[n] - p32[n].double()).abs().max()) for n in names)
    print(f"  adam: max_norm {max_norm:.6g} (step-1 grad norm {gn1:.6g}), losses {[round(x, 6) for x in losses64]}")
    print(f"  adam: pre-clip grad norms {[round(x, 5) for x in norms64]}; max |param change| {moved:.3g}")
    print(f"  adam: float32 vs float64 trajectory (key-bias entries excluded): max |param diff| {dmax:.2e}, "
          f"mean {dmean:.2e}, {int((dd > 1e-4).sum())} of {dd.numel()} entries > 1e-4; key-bias max {dk:.2e}; "
          f"max |loss diff| {dloss:.2e}")

    # float32 forward/backward, to report the disagreement a float32 implementation should expect
    def rel_grad_diff(g_lo, g_ref, keys):
        worst = max(float((g_lo[n].double() - g_ref[n]).abs().max()) for n in keys)
        return worst / max(float(g_ref[n].abs().max()) for n in keys)

    q32 = {n: t.clone().requires_grad_(True) for n, t in p32.items()}
    l32, lg32 = lm_loss(q32, lm_tokens, lm_targets, lm_mask.float())
    g32 = dict(zip(lm_names, torch.autograd.grad(l32, [q32[n] for n in lm_names])))
    valid = torch.arange(lm_tokens.shape[1])[None] < lm_lens[:, None]
    dlog = float((lg32.double() - logits.detach())[valid].abs().max())
    print(f"  float32 torch vs float64: lm.logits max |diff| {dlog:.2e} (max |logit| "
          f"{float(logits.detach().abs().max()):.3g}), lm.loss {abs(float(l32) - float(loss)):.2e}, "
          f"lm.grad max |diff| / max |grad| {rel_grad_diff(g32, lm_grads, lm_names):.2e}")
    bl32, r32 = bt_loss(q32, bt_tokens, bt_lens, margins.float(), center)
    bg32 = dict(zip(names, torch.autograd.grad(bl32, [q32[n] for n in names])))
    print(f"  float32 torch vs float64: bt.rewards max |diff| {float((r32.double() - r.detach()).abs().max()):.2e}, "
          f"bt.loss {abs(float(bl32) - float(bloss)):.2e}, "
          f"bt.grad max |diff| / max |grad| {rel_grad_diff(bg32, bt_grads, names):.2e}")

    # ---- write
    model_meta = {"format": "pt", "warm.config": json.dumps(CFG, separators=(",", ":")),
                  "warm.generator": f"scripts/make_golden.py seed={SEED} torch={torch.__version__}"}
    write_safetensors(os.path.join(outdir, "golden_model.safetensors"), p32, model_meta)

    def F32(t):
        return t.detach().to(torch.float32).contiguous()

    def I32(t):
        return t.to(torch.int32).contiguous()

    data = {
        "lm.tokens": I32(lm_tokens), "lm.lengths": I32(lm_lens), "lm.targets": I32(lm_targets),
        "lm.mask": F32(lm_mask), "lm.logits": F32(logits), "lm.loss": F32(loss.reshape(1)),
        "bt.tokens": I32(bt_tokens), "bt.lengths": I32(bt_lens), "bt.margins": F32(margins),
        "bt.center": F32(torch.tensor([center])), "bt.rewards": F32(r), "bt.loss": F32(bloss.reshape(1)),
        "adam.max_norm": F32(torch.tensor([max_norm])), "adam.losses": F32(torch.tensor(losses64)),
        "adam.grad_norms": F32(torch.tensor(norms64)),
    }
    for n in lm_names:
        data["lm.grad." + n] = F32(lm_grads[n])
    for n in names:
        data["bt.grad." + n] = F32(bt_grads[n])
        data["adam." + n] = F32(a64[n])
    data_meta = {"format": "pt",
                 "warm.generator": f"scripts/make_golden.py seed={SEED} torch={torch.__version__}",
                 "warm.precision": "float64 reference from F32 weights, stored as F32",
                 "warm.adam": json.dumps(dict(ADAM, max_norm=max_norm, decay="2-D params only",
                                              clip="torch.nn.utils.clip_grad_norm_ before each step"),
                                         separators=(",", ":"))}
    write_safetensors(os.path.join(outdir, "golden_data.safetensors"), data, data_meta)

    # ---- read back and compare
    for fn, ref in (("golden_model.safetensors", p32), ("golden_data.safetensors", data)):
        path = os.path.join(outdir, fn)
        back, meta = read_safetensors(path)
        assert meta["format"] == "pt" and set(back) == set(ref)
        for k in ref:
            assert back[k].dtype == ref[k].dtype and torch.equal(back[k], ref[k]), k
        print(f"  wrote {path}: {len(back)} tensors, {os.path.getsize(path)} bytes (re-read and verified)")
    print("make_golden: OK")


if __name__ == "__main__":
    main()
