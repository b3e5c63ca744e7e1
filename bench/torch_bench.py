#!/usr/bin/python3
"""torch_bench.py — PyTorch (CPU, float32) baseline for warm's benchmarks: a GPT-2 reward model.

    OPENBLAS_CORETYPE=Cooperlake /usr/bin/python3 bench/torch_bench.py --config S --threads 2 [--steps 10]
    /usr/bin/python3 bench/torch_bench.py --blas-check --threads 1   # 1024^2 sgemm with/without the coretype

The model is written in plain torch (no transformers): HF GPT-2 parameter names and Conv1D [in, out] layouts,
tanh GELU (gelu_new), dropout 0.1 on embeddings, attention probabilities and after each c_proj, causal attention
computed by hand (masked softmax; torch 1.13 has no scaled_dot_product_attention), final LayerNorm, and a
reward head score.weight [1, C] read at the last non-pad token (pad = vocab_size - 1).

Measurements (one machine-readable line each, prefixed "torch "):
  what=train  one reward-model step on P pairs = 2P full-length sequences (all T tokens real): forward,
              Bradley-Terry loss -logsigmoid(r_chosen - r_rejected), backward, clip_grad_norm_(1.0), AdamW step
              (weight decay 0.1 on 2-D parameters only).
  what=score  torch.no_grad() forward of the same 2P sequences in eval mode (dropout off), rewards only.
Each runs 3 warm-up steps, then --steps timed steps; ms_per_step is the median, tokens_per_s = 2P*T / median.
  what=train_pairs  (--pairs FILE, written by bench_pairs --dump): the padded two-sequence reward-model step on
              real preference pairs: vocab 316, context 128, 4 layers x 4 heads x --width; P = --pairs-per-step
              pairs per step taken in file order (cycling, warm-up included, as bench_pairs does), prompt +
              chosen and prompt + rejected right-padded with 315 to the batch's longest row; same loss, dropout,
              clipping and AdamW as what=train. pairs_per_s and tokens_per_s (real tokens, both sequences: the
              count bench_pairs prints) from the total time of the timed steps (each step has its own length).
other_load = CPUs' worth of busy time other processes used during the timed steps (/proc/stat minus our own
CPU time): on a shared 2-core machine, 2-thread OpenMP runs slow down several-fold as soon as this nears 1, so
trust a line only when other_load is near 0.

Threads: torch.set_num_threads(T) only sizes torch's OpenMP pool. Debian's torch calls the pthread build of
OpenBLAS (libblas.so.3 -> openblas-pthread), which ignores it and starts one thread per core unless
OPENBLAS_NUM_THREADS is set, so this script sets OPENBLAS_NUM_THREADS=T and OMP_NUM_THREADS=T before importing
torch.

BLAS: every run prints which BLAS library torch loaded (/proc/self/maps) and, for OpenBLAS, the kernel core it
runs (openblas_get_corename via ctypes) and its build config, as a line "torch blas=openblas|reference|other
core=... libs=...". Debian's python3-torch depends only on libblas3 (the reference BLAS, 10-20x slower); make
bench installs libopenblas0-pthread. OpenBLAS 0.3.21 does not recognise every CPU (it falls back to Prescott
kernels on some), and an environment may set OPENBLAS_CORETYPE to a core slower than the best valid one, so
  --sweep        runs each candidate core type valid on this CPU (cpuinfo flags: Haswell/Zen need AVX2+FMA,
                 SkylakeX AVX-512 F/CD/BW/DQ/VL, Cooperlake also AVX-512 BF16; plus OpenBLAS's own detection and
                 the environment's OPENBLAS_CORETYPE) x threads 1..nproc: a 1024^2 sgemm probe per setting, then
                 the full --config benchmark for every setting within 60 % of the best probe at its thread
                 count, and prints
                 "torch best config=.. what=train|score tokens_per_s=.. coretype=.. threads=..": PyTorch's
                 fastest measured setting per measurement. With a reference BLAS it prints
                 "torch best ... blas=reference" and exits 3, and bench/run.sh prints no ratio.
"""
import argparse
import os
import re
import subprocess
import sys
import time

CONFIGS = {
    #     vocab  context layers heads width pairs/step
    "S": dict(V=8192, T=128, L=4, H=4, C=256, P=8),
    "M": dict(V=8192, T=256, L=6, H=6, C=384, P=4),
}

# FLOP counts (multiply-add = 2 FLOPs), per token of a length-T sequence:
#   N_matmul = 12·L·C² parameters take part in matmuls (per layer: c_attn C·3C, attn c_proj C·C, c_fc C·4C,
#              mlp c_proj 4C·C). Embedding lookups, LayerNorm, biases and the score head (C per sequence) are not
#              counted. Forward: 2·N_matmul per token.
#   attention  per layer per token: QKᵀ 2·T·C + (probs)·V 2·T·C = 4·T·C, counted over the full T×T square (the
#              causal mask halves the useful work; the count follows the usual convention and ignores it).
#   backward   = 2 × forward, so training = 3 × forward.
#   FLOPs_train = 6·N_matmul·tokens + 12·L·T·C·tokens;   FLOPs_score = 2·N_matmul·tokens + 4·L·T·C·tokens
FLOP_FORMULA = ("FLOPs_train = 6*N_matmul*tokens + 12*L*T*C*tokens; FLOPs_score = 2*N_matmul*tokens + "
                "4*L*T*C*tokens; N_matmul = 12*L*C^2 (c_attn 3C^2 + c_proj C^2 + c_fc 4C^2 + mlp.c_proj 4C^2 "
                "per layer; embeddings, LN, biases, score head not counted); attention counted over the full "
                "T x T square")


def bt_step(model, opt, ids, P):
    """One Bradley-Terry step on 2P rows (chosen first, then rejected): loss, backward, clip 1.0, AdamW."""
    model.train()
    opt.zero_grad(set_to_none=True)
    r = model(ids)
    loss = -F.logsigmoid(r[:P] - r[P:]).mean()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return float(loss)


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", choices=sorted(CONFIGS), default="S")
    ap.add_argument("--steps", type=int, default=10, help="timed steps after 3 warm-up steps (default 10)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--omp-threads", type=int, default=None, help="torch/OpenMP threads (default --threads)")
    ap.add_argument("--blas-threads", type=int, default=None, help="OpenBLAS threads (default --threads)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pairs", default=None, help="JSONL of prompt_ids/chosen_ids/rejected_ids: what=train_pairs")
    ap.add_argument("--width", type=int, default=256, help="model width for --pairs (default 256)")
    ap.add_argument("--pairs-per-step", type=int, default=16, help="pairs per step for --pairs (default 16)")
    ap.add_argument("--blas-check", action="store_true",
                    help="only measure a 1024x1024 float32 matmul for each candidate OPENBLAS_CORETYPE")
    ap.add_argument("--sweep", action="store_true",
                    help="run --config for each valid core type x thread count; print PyTorch's best setting")
    ap.add_argument("--probe-keep", type=float, default=0.6,
                    help="--sweep: full runs for settings within this fraction of the best sgemm probe at the "
                         "same thread count")
    ap.add_argument("--_mm", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    a.omp_threads = a.omp_threads or a.threads
    a.blas_threads = a.blas_threads or a.threads
    return a


ARGS = parse()
# must happen before torch (and OpenBLAS) is loaded
os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.blas_threads)
os.environ["OMP_NUM_THREADS"] = str(ARGS.omp_threads)

import math  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(ARGS.omp_threads)


def matmul_gflops(n=1024, reps=20):
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2.0 * n ** 3 * reps / (time.perf_counter() - t) / 1e9


CORE_FLAGS = {  # OpenBLAS 0.3.21 x86_64 core types worth trying and the cpuinfo flags their kernels execute
    "Haswell": {"avx2", "fma"},
    "Zen": {"avx2", "fma"},
    "SkylakeX": {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"},
    "Cooperlake": {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx512_bf16"},
}


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def candidate_cores():
    """None (OpenBLAS's own detection), the environment's OPENBLAS_CORETYPE when valid, every valid core above."""
    flags = cpu_flags()
    valid = [c for c, need in CORE_FLAGS.items() if need <= flags]
    env = os.environ.get("OPENBLAS_CORETYPE")
    cands = [None] + ([env] if env and env not in valid and env in CORE_FLAGS and CORE_FLAGS[env] <= flags else [])
    return cands + valid


def child_env(core, threads):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    if core:
        env["OPENBLAS_CORETYPE"] = core
    env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(threads)
    return env


def blas_check():
    print(f"# blas check: 1024x1024 float32 matmul, threads={ARGS.threads} (median of 3 processes each)")
    for ct in candidate_cores():
        vals = []
        for _ in range(3):
            out = subprocess.run([sys.executable, __file__, "--_mm", "--threads", str(ARGS.threads)],
                                 env=child_env(ct, ARGS.threads), check=True, capture_output=True, text=True).stdout
            core, gf = out.split()[-2:]
            vals.append(float(gf))
        vals.sort()
        print(f"torch what=matmul1024 threads={ARGS.threads} OPENBLAS_CORETYPE={ct or 'unset'} core={core} "
              f"gflops={vals[1]:.1f} runs={','.join(f'{v:.1f}' for v in vals)}")


def blas_state():
    """(kind, core, config, libs) of the BLAS torch calls: kind openblas | reference | other | none.

    torch's libtorch_cpu links libblas.so.3 (Debian's alternative: the reference BLAS or OpenBLAS) and, through
    liblapack, maybe libopenblas too, so seeing OpenBLAS mapped proves nothing: the kind is that of the library
    that provides the sgemm_ of the loaded libblas.so.3 (dladdr), which is the sgemm_ torch's matmuls reach."""
    import ctypes
    torch.ones(4, 4) @ torch.ones(4, 4)  # make sure the BLAS is loaded
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.split()[-1]
                base = os.path.basename(p)
                if "blas" in base or "lapack" in base or base.startswith(("libmkl", "libblis")):
                    libs.add(os.path.realpath(p))
    except OSError:
        pass

    class DlInfo(ctypes.Structure):
        _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                    ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]

    core = config = "?"
    try:
        blas = ctypes.CDLL("libblas.so.3")  # the already-loaded one (same soname)
        info = DlInfo()
        libc = ctypes.CDLL(None)
        libc.dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(DlInfo)]
        if not libc.dladdr(ctypes.cast(blas.sgemm_, ctypes.c_void_p), ctypes.byref(info)):
            raise OSError("dladdr failed")
        provider = os.path.realpath(info.dli_fname.decode())
    except (OSError, AttributeError):
        return "none", core, config, sorted(libs)
    name = os.path.basename(provider)
    if "openblas" in provider:
        kind = "openblas"
        try:
            ob = ctypes.CDLL(provider)
            ob.openblas_get_corename.restype = ctypes.c_char_p
            ob.openblas_get_config.restype = ctypes.c_char_p
            core = ob.openblas_get_corename().decode()
            config = ob.openblas_get_config().decode().strip()
        except (OSError, AttributeError):
            pass
    elif "mkl" in name or "blis" in name:
        kind = "other"
    else:
        kind = "reference"  # netlib's libblas3 (Debian's /usr/lib/<arch>/blas/): plain loops, no SIMD kernels
    return kind, core, config, [f"sgemm_ from {provider}"] + sorted(libs - {provider})


def blas_info():
    cfg = torch.__config__.show()
    info = re.findall(r"\b((?:BLAS|LAPACK)_INFO=[^,\s]*)", cfg)
    kind, core, config, libs = blas_state()
    print(f"# torch {torch.__version__}: {'; '.join(info)}; threads torch={torch.get_num_threads()} "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')} "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    print(f"torch blas={kind} core={core} OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')} "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', 'unset')} config=\"{config}\" "
          f"libs={','.join(libs) or '?'}")
    return kind


def sweep():
    """Each valid core type x thread count: sgemm probe, then --config runs for the settings near the best probe."""
    threads = list(range(1, (os.cpu_count() or 1) + 1))
    probes = []
    for ct in candidate_cores():
        for t in threads:
            r = subprocess.run([sys.executable, __file__, "--_mm", "--threads", str(t)], env=child_env(ct, t),
                               capture_output=True, text=True)
            if r.returncode != 0:  # e.g. a core type OpenBLAS refuses: skip, say so
                print(f"# sweep: OPENBLAS_CORETYPE={ct or 'unset'} threads={t}: probe failed (exit {r.returncode})")
                continue
            core, gf = r.stdout.split()[-2], float(r.stdout.split()[-1])
            probes.append((gf, ct, t))
            print(f"torch what=probe1024 OPENBLAS_CORETYPE={ct or 'unset'} core={core} threads={t} gflops={gf:.1f}")
    if not probes:
        print("torch_bench: no core type could run", file=sys.stderr)
        sys.exit(1)
    top = {}  # best probe per thread count: 2 threads double a 1024^2 sgemm but may not help small layers
    for gf, ct, t in probes:
        top[t] = max(top.get(t, 0.0), gf)
    best = {}
    for gf, ct, t in probes:
        if gf < ARGS.probe_keep * top[t]:
            continue
        cmd = [sys.executable, __file__, "--config", ARGS.config, "--threads", str(t), "--steps", str(ARGS.steps),
               "--warmup", str(ARGS.warmup)]
        out = subprocess.run(cmd, env=child_env(ct, t), check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("torch blas="):
                print(f"# {ct or 'unset'} x {t}: {line}")
            m = re.match(r"torch config=\S+ threads=\d+ what=(\w+) tokens_per_s=([\d.]+)", line)
            if not m:
                continue
            print(f"{line} OPENBLAS_CORETYPE={ct or 'unset'}")
            what, tps = m.group(1), float(m.group(2))
            if what not in best or tps > best[what][0]:
                best[what] = (tps, ct, t, line)
    for what, (tps, ct, t, line) in sorted(best.items()):
        other = re.search(r"other_load=([\d.]+)", line)
        print(f"torch best config={ARGS.config} what={what} tokens_per_s={tps:.1f} "
              f"OPENBLAS_CORETYPE={ct or 'unset'} threads={t} other_load={other.group(1) if other else '?'}")


# ---------------------------------------------------------------------------------------------- model
class Conv1D(nn.Module):
    """HF GPT-2 Conv1D: weight [in, out], y = x @ W + b."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_in, n_out) * 0.02)
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(*x.shape[:-1], -1)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Attention(nn.Module):
    def __init__(self, C, H, T, p):
        super().__init__()
        self.C, self.H = C, H
        self.c_attn = Conv1D(C, 3 * C)
        self.c_proj = Conv1D(C, C)
        self.attn_dropout = nn.Dropout(p)
        self.resid_dropout = nn.Dropout(p)
        self.register_buffer("causal", torch.tril(torch.ones(T, T, dtype=torch.bool)), persistent=False)

    def forward(self, x):
        B, T, C = x.shape
        hd = C // self.H
        q, k, v = self.c_attn(x).split(C, dim=-1)
        q = q.view(B, T, self.H, hd).transpose(1, 2)
        k = k.view(B, T, self.H, hd).transpose(1, 2)
        v = v.view(B, T, self.H, hd).transpose(1, 2)
        att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(hd))
        att = att.masked_fill(~self.causal[:T, :T], float("-inf"))
        att = self.attn_dropout(torch.softmax(att, dim=-1))
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, C, p):
        super().__init__()
        self.c_fc = Conv1D(C, 4 * C)
        self.c_proj = Conv1D(4 * C, C)
        self.dropout = nn.Dropout(p)

    def forward(self, x):
        return self.dropout(self.c_proj(gelu_new(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, C, H, T, p):
        super().__init__()
        self.ln_1 = nn.LayerNorm(C, eps=1e-5)
        self.attn = Attention(C, H, T, p)
        self.ln_2 = nn.LayerNorm(C, eps=1e-5)
        self.mlp = MLP(C, p)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, V, T, L, H, C, p):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        nn.init.normal_(self.wte.weight, std=0.02)
        nn.init.normal_(self.wpe.weight, std=0.01)
        self.drop = nn.Dropout(p)
        self.h = nn.ModuleList([Block(C, H, T, p) for _ in range(L)])
        self.ln_f = nn.LayerNorm(C, eps=1e-5)

    def forward(self, ids):
        x = self.drop(self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))[None])
        for blk in self.h:
            x = blk(x)
        return self.ln_f(x)


class GPT2RewardModel(nn.Module):
    """Parameter names match GPT2ForSequenceClassification (transformer.*, score.weight)."""

    def __init__(self, V, T, L, H, C, p=0.1, pad_id=None):
        super().__init__()
        self.pad_id = V - 1 if pad_id is None else pad_id
        self.transformer = Transformer(V, T, L, H, C, p)
        self.score = nn.Linear(C, 1, bias=False)
        nn.init.normal_(self.score.weight, std=0.02)

    def forward(self, ids):
        h = self.transformer(ids)
        T = ids.shape[1]
        # rightmost token whose id != pad (formats.md §3.3); T-1 when every token is real
        pos = (torch.arange(T)[None] * (ids != self.pad_id)).argmax(-1)
        return self.score(h[torch.arange(ids.shape[0]), pos])[:, 0]


# ---------------------------------------------------------------------------------------------- bench
def busy_cpu_s():
    """CPU-seconds spent busy by the whole machine so far (/proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait
    except (OSError, ValueError):
        return None


def timed(fn, warmup, steps):
    """Sorted per-step times, and the CPUs' worth of load other processes put on the machine meanwhile."""
    for _ in range(warmup):
        fn()
    ts = []
    b0, o0, w0 = busy_cpu_s(), sum(os.times()[:2]), time.perf_counter()
    for _ in range(steps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    b1, o1, w1 = busy_cpu_s(), sum(os.times()[:2]), time.perf_counter()
    other = max(0.0, ((b1 - b0) - (o1 - o0)) / (w1 - w0)) if b0 is not None else float("nan")
    ts.sort()
    return ts, other


def pairs_bench():
    """The padded two-sequence BT step on the pairs of --pairs (see what=train_pairs above)."""
    import json
    V, T, L, H, C, P = 316, 128, 4, 4, ARGS.width, ARGS.pairs_per_step
    pairs = []
    with open(ARGS.pairs) as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                pairs.append((d["prompt_ids"], d["chosen_ids"], d["rejected_ids"]))
    torch.manual_seed(ARGS.seed)
    model = GPT2RewardModel(V, T, L, H, C)
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.999), eps=1e-8)

    def batch(first):
        rows = []
        for k in range(2):
            for p in range(P):
                pr, ch, rj = pairs[(first + p) % len(pairs)]
                rows.append(pr + (ch if k == 0 else rj))
        width = max(len(r) for r in rows)
        ids = torch.full((2 * P, width), V - 1, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.tensor(r)
        return ids, sum(len(r) for r in rows)

    def step(ids):
        return bt_step(model, opt, ids, P)

    for s in range(ARGS.warmup):
        step(batch(s * P % len(pairs))[0])
    tokens, losses = 0, []
    b0, o0, t0 = busy_cpu_s(), sum(os.times()[:2]), time.perf_counter()
    for s in range(ARGS.warmup, ARGS.warmup + ARGS.steps):
        ids, n = batch(s * P % len(pairs))
        losses.append(step(ids))
        tokens += n
    dt = time.perf_counter() - t0
    b1, o1 = busy_cpu_s(), sum(os.times()[:2])
    other = max(0.0, ((b1 - b0) - (o1 - o0)) / dt) if b0 is not None else float("nan")
    print(f"torch width={C} threads={ARGS.threads} step=padded pairs_per_s={ARGS.steps * P / dt:.1f} "
          f"tokens_per_s={tokens / dt:.0f} ms_per_step={dt / ARGS.steps * 1e3:.1f} steps={ARGS.steps} "
          f"other_load={other:.2f}")
    if not all(math.isfinite(x) for x in losses):
        print("torch_bench: non-finite loss", file=sys.stderr)
        sys.exit(1)


def main():
    if ARGS._mm:  # "<core OpenBLAS runs> <GFLOP/s>"
        print(f"{blas_state()[1]} {matmul_gflops():.3f}")
        return
    kind = blas_info()
    if ARGS.sweep:
        if kind != "openblas":
            print(f"torch best config={ARGS.config} blas={kind}: PyTorch runs on the {kind} BLAS, not OpenBLAS; "
                  "no baseline (install libopenblas0-pthread: make bench does)")
            sys.exit(3)
        sweep()
        return
    if ARGS.blas_check:
        blas_check()
        return
    if ARGS.pairs:
        pairs_bench()
        return
    cfg = CONFIGS[ARGS.config]
    V, T, L, H, C, P = (cfg[k] for k in "VTLHCP")
    torch.manual_seed(ARGS.seed)
    model = GPT2RewardModel(V, T, L, H, C)
    n_params = sum(p.numel() for p in model.parameters())
    n_matmul = 12 * L * C * C
    B = 2 * P
    tokens = B * T
    ids = torch.randint(0, V - 1, (B, T))  # all T tokens real (no pad id)
    flops_train = 6 * n_matmul * tokens + 12 * L * T * C * tokens
    flops_score = 2 * n_matmul * tokens + 4 * L * T * C * tokens
    print(f"# config {ARGS.config}: vocab {V} context {T} layers {L} heads {H} width {C}, {P} pairs/step "
          f"(batch {B} x {T} = {tokens} tokens), {n_params} parameters, N_matmul {n_matmul}")
    print(f"# {FLOP_FORMULA}")
    print(f"# per step: FLOPs_train {flops_train / 1e9:.3f} G, FLOPs_score {flops_score / 1e9:.3f} G")

    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
    losses = []

    def train_step():
        losses.append(bt_step(model, opt, ids, P))

    def score_step():
        model.eval()
        with torch.no_grad():
            model(ids)

    for what, fn, flops in (("train", train_step, flops_train), ("score", score_step, flops_score)):
        ts, other = timed(fn, ARGS.warmup, ARGS.steps)
        med = ts[len(ts) // 2] if len(ts) % 2 else 0.5 * (ts[len(ts) // 2 - 1] + ts[len(ts) // 2])
        mean = sum(ts) / len(ts)
        print(f"torch config={ARGS.config} threads={ARGS.threads} what={what} tokens_per_s={tokens / med:.1f} "
              f"gflops={flops / med / 1e9:.2f} ms_per_step={med * 1e3:.2f} ms_mean={mean * 1e3:.2f} "
              f"ms_min={ts[0] * 1e3:.2f} steps={len(ts)} tokens_per_step={tokens} other_load={other:.2f}")
    if not all(math.isfinite(x) for x in losses):
        print("torch_bench: non-finite loss", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
