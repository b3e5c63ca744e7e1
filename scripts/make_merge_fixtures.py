#!/usr/bin/python3
"""Writes the merge test fixtures (tests/fixtures/merge_*) with numpy only: an independent safetensors
writer and an independent averaging reference for tests/test_merge.c.

    /usr/bin/python3 scripts/make_merge_fixtures.py tests/fixtures

Five checkpoints of one tiny GPT-2-shaped model (C = 8) plus an integer buffer that every input shares:
  merge_a.safetensors        F32, "transformer."-prefixed names, reference layout (aligned, padded header)
  merge_b_f16.safetensors    F16, header NOT padded (odd length) and tensors in reverse name order, so data
                             starts at odd offsets: exercises unaligned reads
  merge_c_bf16.safetensors   BF16 (rounded to nearest even from float32 by bit arithmetic here)
  merge_d_sharded/           F32 in two shards + model.safetensors.index.json + config.json
  merge_e_bare.safetensors   F32, bare GPT2Model names (no prefix) plus the legacy buffers h.0.attn.bias
                             [1, 1, 6, 6] and h.0.attn.masked_bias [] that a merge must drop
merge_expected.safetensors holds, per canonical key k (name without "transformer."):
  uniform.k       F32   mean of the five inputs: float64 sum in input order, / 5, rounded to float32
  uniform_bf16.k  BF16  the float64 mean rounded ONCE to bfloat16 (nearest even, via frexp/rint)
  uniform_f16.k   F16   the float64 mean rounded once to float16 (numpy's double -> half)
  weighted.k      F32   sum_i w_i x_i / sum_i w_i with w = 1, 2, 3, 4, 5 (float64, input order)
  position_ids    I64   the shared integer buffer (copied, not averaged)
Deterministic (numpy.random.default_rng(20240611)); reruns give byte-identical files.
"""
import json
import os
import shutil
import struct
import sys

import numpy as np

C, V, P = 8, 12, 6
SHAPES = {  # canonical key -> shape
    "wte.weight": (V, C),
    "wpe.weight": (P, C),
    "h.0.ln_1.weight": (C,),
    "h.0.attn.c_attn.weight": (C, 3 * C),
    "h.0.attn.c_attn.bias": (3 * C,),
    "ln_f.bias": (C,),
    "score.weight": (1, C),
}
POSITION_IDS = np.arange(P, dtype=np.int64) * 3 + 1
WEIGHTS = [1.0, 2.0, 3.0, 4.0, 5.0]


def full_name(key):
    return key if key == "score.weight" else "transformer." + key


def bf16_bits_from_f32(x):
    """float32 array -> uint16 bfloat16 patterns, round to nearest even (no NaN in our data)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = u + 0x7FFF + ((u >> 16) & 1)
    return (u >> 16).astype(np.uint16)


def bf16_bits_from_f64(x):
    """float64 array -> uint16 bfloat16 patterns with ONE rounding: 8 significant bits, ties to even."""
    f, e = np.frexp(np.asarray(x, dtype=np.float64))  # x = f * 2^e, 0.5 <= |f| < 1
    r = np.ldexp(np.rint(np.ldexp(f, 8)), e - 8)        # exact in float64; rint = ties to even
    return (r.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)


def bf16_to_f64(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def st_bytes(tensors, pad=True, order=None, metadata=None):
    """safetensors bytes. tensors: name -> (dtype string, shape, raw bytes)."""
    names = order if order is not None else sorted(tensors)
    header, off, blobs = {}, 0, []
    if metadata:
        header["__metadata__"] = metadata
    for n in names:
        dt, shape, raw = tensors[n]
        header[n] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    elif len(h) % 2 == 0:
        h += b" "  # odd header length: the data buffer starts at an odd offset
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def raw(dt, arr):
    return (dt, arr.shape, np.ascontiguousarray(arr).tobytes())


def main(out):
    rng = np.random.default_rng(20240611)
    # Five members' float32 values (what each file stores is these, rounded to its dtype).
    vals = [{k: rng.standard_normal(s).astype(np.float32) * np.float32(0.5) for k, s in SHAPES.items()}
            for _ in range(5)]
    stored = []  # float64 values as the files hold them

    # a: F32, prefixed, aligned
    a = {full_name(k): raw("F32", v) for k, v in vals[0].items()}
    a["transformer.position_ids"] = raw("I64", POSITION_IDS)
    write(os.path.join(out, "merge_a.safetensors"), st_bytes(a, metadata={"format": "pt"}))
    stored.append({k: v.astype(np.float64) for k, v in vals[0].items()})

    # b: F16, unpadded header, reverse order -> unaligned data
    h16 = {k: v.astype(np.float16) for k, v in vals[1].items()}
    b = {full_name(k): raw("F16", v) for k, v in h16.items()}
    b["transformer.position_ids"] = raw("I64", POSITION_IDS)
    write(os.path.join(out, "merge_b_f16.safetensors"), st_bytes(b, pad=False, order=sorted(b, reverse=True)))
    stored.append({k: v.astype(np.float64) for k, v in h16.items()})

    # c: BF16
    bb = {k: bf16_bits_from_f32(v) for k, v in vals[2].items()}
    c = {full_name(k): raw("BF16", v) for k, v in bb.items()}
    c["transformer.position_ids"] = raw("I64", POSITION_IDS)
    write(os.path.join(out, "merge_c_bf16.safetensors"), st_bytes(c, metadata={"format": "pt"}))
    stored.append({k: bf16_to_f64(v) for k, v in bb.items()})

    # d: sharded directory
    d = {full_name(k): raw("F32", v) for k, v in vals[3].items()}
    d["transformer.position_ids"] = raw("I64", POSITION_IDS)
    ddir = os.path.join(out, "merge_d_sharded")
    shutil.rmtree(ddir, ignore_errors=True)
    os.makedirs(ddir)
    names = sorted(d)
    shards = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map = {}
    for i, group in enumerate(shards):
        fname = "model-%05d-of-%05d.safetensors" % (i + 1, len(shards))
        write(os.path.join(ddir, fname), st_bytes({n: d[n] for n in group}, metadata={"format": "pt"}))
        for n in group:
            weight_map[n] = fname
    total = sum(len(d[n][2]) for n in names)
    with open(os.path.join(ddir, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    config = {"model_type": "gpt2", "architectures": ["GPT2ForSequenceClassification"], "vocab_size": V,
              "n_positions": P, "n_embd": C, "n_layer": 1, "n_head": 2, "resid_pdrop": 0.1}
    with open(os.path.join(ddir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    stored.append({k: v.astype(np.float64) for k, v in vals[3].items()})

    # e: bare names + legacy buffers
    e = {k: raw("F32", v) for k, v in vals[4].items()}
    e["position_ids"] = raw("I64", POSITION_IDS)
    mask = np.tril(np.ones((P, P), dtype=np.float32)).reshape(1, 1, P, P)
    e["h.0.attn.bias"] = raw("F32", mask)
    e["h.0.attn.masked_bias"] = raw("F32", np.array(-1e4, dtype=np.float32))
    write(os.path.join(out, "merge_e_bare.safetensors"), st_bytes(e, metadata={"format": "pt"}))
    stored.append({k: v.astype(np.float64) for k, v in vals[4].items()})

    # expected results
    exp = {}
    for k in SHAPES:
        acc = np.zeros(SHAPES[k], dtype=np.float64)
        for s in stored:
            acc += s[k]
        mean = acc / 5.0
        wacc = np.zeros(SHAPES[k], dtype=np.float64)
        for w, s in zip(WEIGHTS, stored):
            wacc += w * s[k]
        exp["uniform." + k] = raw("F32", mean.astype(np.float32))
        exp["uniform_bf16." + k] = raw("BF16", bf16_bits_from_f64(mean))
        exp["uniform_f16." + k] = raw("F16", mean.astype(np.float16))
        exp["weighted." + k] = raw("F32", (wacc / sum(WEIGHTS)).astype(np.float32))
    exp["position_ids"] = raw("I64", POSITION_IDS)
    write(os.path.join(out, "merge_expected.safetensors"), st_bytes(exp, metadata={"format": "pt"}))

    # Self-check: re-read every file with a strict little reader and compare bytes.
    for fn in ["merge_a.safetensors", "merge_b_f16.safetensors", "merge_c_bf16.safetensors",
               "merge_e_bare.safetensors", "merge_expected.safetensors"]:
        check_file(os.path.join(out, fn))
    for fn in sorted(os.listdir(ddir)):
        if fn.endswith(".safetensors"):
            check_file(os.path.join(ddir, fn))
    size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(out) for f in fs if "merge_" in r + f)
    print("merge fixtures written to %s (%d bytes)" % (out, size))


def check_file(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    spans = sorted(v["data_offsets"] for k, v in header.items() if k != "__metadata__")
    pos = 0
    for b, e in spans:
        assert b == pos, path
        pos = e
    assert 8 + n + pos == len(data), path


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
