#!/usr/bin/python3
"""The baseline a Python user would write: memory-map M safetensors files with numpy, average every tensor
(accumulating in float32, as mergekit's linear merge does in its load dtype), write one safetensors file.

    /usr/bin/python3 bench/numpy_merge.py OUT.safetensors IN1.safetensors IN2.safetensors ...
        [--fsync]   fsync the output before exiting (what warm's atomic writer does)

Prints wall time and peak RSS (ru_maxrss) on stderr. F32/F16 inputs (numpy has no bfloat16).
"""
import json
import os
import resource
import struct
import sys
import time

import numpy as np

DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def open_st(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    base = 8 + n
    meta = header.pop("__metadata__", {})
    views = {}
    for name, t in header.items():
        b, e = t["data_offsets"]
        count = int(np.prod(t["shape"])) if t["shape"] else 1
        views[name] = np.memmap(path, dtype=DTYPES[t["dtype"]], mode="r", offset=base + b,
                                shape=(count,)).reshape(t["shape"])
    return meta, header, views


def main():
    args = [a for a in sys.argv[1:] if a != "--fsync"]
    fsync = "--fsync" in sys.argv
    out, ins = args[0], args[1:]
    t0 = time.time()
    files = [open_st(p) for p in ins]
    meta, header, _ = files[0]
    names = list(header)
    results = {}
    for name in names:
        acc = np.zeros(header[name]["shape"], dtype=np.float32)
        for _, _, views in files:
            acc += views[name]
        acc /= np.float32(len(files))
        results[name] = acc
    # safetensors writer: header padded to 8 bytes, tensors back to back in header order
    hdr, off = {"__metadata__": {"format": "pt"}}, 0
    for name in names:
        nbytes = results[name].nbytes
        hdr[name] = {"dtype": "F32", "shape": header[name]["shape"], "data_offsets": [off, off + nbytes]}
        off += nbytes
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for name in names:
            f.write(results[name].tobytes())
        if fsync:
            f.flush()
            os.fsync(f.fileno())
    dt = time.time() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.stderr.write("numpy_merge: %d inputs, %.2f s, peak RSS %d KB\n" % (len(ins), dt, rss))


if __name__ == "__main__":
    main()
