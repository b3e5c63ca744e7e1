#!/usr/bin/python3
"""Writes tests/fixtures/hf_tiny/: a tiny GPT-2 reward model as a Hugging Face directory, made with numpy only
(no warm code), and the numbers tests/test_hf.c checks warm against.

  config.json        a GPT2Config as transformers writes it for GPT2ForSequenceClassification (num_labels 1),
                     including keys warm ignores (summary_*, transformers_version, ...)
  model.safetensors  the weights under "transformer."-prefixed names + score.weight, F32, metadata
                     {"format": "pt"}, plus the legacy [1,1,P,P] attn.bias buffers old transformers saved
  tokenizer.json     a `tokenizers` WordLevel tokenizer (WhitespaceSplit) of the 12 words
  expected.json      sequences, their reward (score . ln_f(h)[last]) and the log-probabilities of each
                     token after the first (LM head tied to wte), from a numpy GPT-2 forward pass

GPT-2 math as in docs/formats.md §3.3 (pre-LN, learned positions, gelu_new, LN eps 1e-5, Conv1D [in, out]).
Usage: /usr/bin/python3 scripts/make_hf_fixtures.py tests/fixtures
"""
import json
import os
import struct
import sys

import numpy as np

V_WORDS = ["<pad>", "<eos>", "<unk>", "alice", "bob", "booked", "missed", "the", "flight", "ticket", "and", "."]
V, P, L, H, C = len(V_WORDS), 16, 2, 2, 8
PAD, EOS, UNK = 0, 1, 2


def weights(rng):
    w = {}
    w["transformer.wte.weight"] = rng.normal(0, 0.5, (V, C))
    w["transformer.wpe.weight"] = rng.normal(0, 0.3, (P, C))
    for l in range(L):
        p = f"transformer.h.{l}."
        w[p + "ln_1.weight"] = 1 + rng.normal(0, 0.1, C)
        w[p + "ln_1.bias"] = rng.normal(0, 0.1, C)
        w[p + "attn.c_attn.weight"] = rng.normal(0, 0.4, (C, 3 * C))
        w[p + "attn.c_attn.bias"] = rng.normal(0, 0.1, 3 * C)
        w[p + "attn.c_proj.weight"] = rng.normal(0, 0.4, (C, C))
        w[p + "attn.c_proj.bias"] = rng.normal(0, 0.1, C)
        w[p + "ln_2.weight"] = 1 + rng.normal(0, 0.1, C)
        w[p + "ln_2.bias"] = rng.normal(0, 0.1, C)
        w[p + "mlp.c_fc.weight"] = rng.normal(0, 0.4, (C, 4 * C))
        w[p + "mlp.c_fc.bias"] = rng.normal(0, 0.1, 4 * C)
        w[p + "mlp.c_proj.weight"] = rng.normal(0, 0.3, (4 * C, C))
        w[p + "mlp.c_proj.bias"] = rng.normal(0, 0.1, C)
    w["transformer.ln_f.weight"] = 1 + rng.normal(0, 0.1, C)
    w["transformer.ln_f.bias"] = rng.normal(0, 0.1, C)
    w["score.weight"] = rng.normal(0, 0.5, (1, C))
    return {k: v.astype(np.float32) for k, v in w.items()}


def ln(x, g, b):
    x = x.astype(np.float64)
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * g + b


def gelu_new(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def forward(w, ids):
    """Final hidden states (after ln_f), float64."""
    T = len(ids)
    f = {k: v.astype(np.float64) for k, v in w.items()}
    x = f["transformer.wte.weight"][ids] + f["transformer.wpe.weight"][:T]
    hs = C // H
    mask = np.triu(np.ones((T, T), bool), 1)
    for l in range(L):
        p = f"transformer.h.{l}."
        a = ln(x, f[p + "ln_1.weight"], f[p + "ln_1.bias"]) @ f[p + "attn.c_attn.weight"] + f[p + "attn.c_attn.bias"]
        q, k, v = a[:, :C], a[:, C:2 * C], a[:, 2 * C:]
        out = np.zeros((T, C))
        for h in range(H):
            s = q[:, h * hs:(h + 1) * hs] @ k[:, h * hs:(h + 1) * hs].T / np.sqrt(hs)
            s[mask] = -np.inf
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            out[:, h * hs:(h + 1) * hs] = s @ v[:, h * hs:(h + 1) * hs]
        x = x + out @ f[p + "attn.c_proj.weight"] + f[p + "attn.c_proj.bias"]
        m = gelu_new(ln(x, f[p + "ln_2.weight"], f[p + "ln_2.bias"]) @ f[p + "mlp.c_fc.weight"] + f[p + "mlp.c_fc.bias"])
        x = x + m @ f[p + "mlp.c_proj.weight"] + f[p + "mlp.c_proj.bias"]
    return ln(x, f["transformer.ln_f.weight"], f["transformer.ln_f.bias"])


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs, off = [], 0
    for name in sorted(tensors):
        a = tensors[name]
        dtype = {np.float32: "F32"}[a.dtype.type]
        b = np.ascontiguousarray(a).astype("<f4").tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    out = os.path.join(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures", "hf_tiny")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261206)
    w = weights(rng)
    tensors = dict(w)
    causal = np.tril(np.ones((P, P), np.float32)).reshape(1, 1, P, P)
    for l in range(L):
        tensors[f"transformer.h.{l}.attn.bias"] = causal  # the legacy buffer older transformers saved
    write_safetensors(os.path.join(out, "model.safetensors"), tensors, {"format": "pt"})
    config = {
        "_name_or_path": "hf_tiny", "activation_function": "gelu_new",
        "architectures": ["GPT2ForSequenceClassification"], "attn_pdrop": 0.1, "bos_token_id": EOS,
        "embd_pdrop": 0.1, "eos_token_id": EOS, "id2label": {"0": "LABEL_0"}, "initializer_range": 0.02,
        "label2id": {"LABEL_0": 0}, "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": P, "n_embd": C,
        "n_head": H, "n_inner": None, "n_layer": L, "n_positions": P, "pad_token_id": PAD,
        "reorder_and_upcast_attn": False, "resid_pdrop": 0.1, "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True, "summary_activation": None, "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True, "summary_type": "cls_index", "summary_use_proj": True,
        "torch_dtype": "float32", "transformers_version": "4.46.3", "use_cache": True, "vocab_size": V,
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": V_WORDS[i], "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i in (PAD, EOS, UNK)],
        "normalizer": None, "pre_tokenizer": {"type": "WhitespaceSplit"}, "post_processor": None, "decoder": None,
        "model": {"type": "WordLevel", "vocab": {t: i for i, t in enumerate(V_WORDS)}, "unk_token": "<unk>"},
    }
    with open(os.path.join(out, "tokenizer.json"), "w") as f:
        json.dump(tok, f, indent=2)
    seqs = [[3, 5, 7, 8, 1], [4, 6, 7, 9, 10, 3, 5, 7, 8, 11, 1], [7] * 16, [3]]
    rows = []
    for ids in seqs:
        hfin = forward(w, np.array(ids))
        reward = float(hfin[-1] @ w["score.weight"].astype(np.float64)[0])
        logits = hfin @ w["transformer.wte.weight"].astype(np.float64).T
        lse = np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1)) + logits.max(-1)
        lp = [float(logits[t - 1, ids[t]] - lse[t - 1]) for t in range(1, len(ids))]
        rows.append({"ids": ids, "reward": reward, "logprobs": lp})
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"words": V_WORDS, "sequences": rows}, f, indent=1)
    print("wrote", out)


if __name__ == "__main__":
    main()
