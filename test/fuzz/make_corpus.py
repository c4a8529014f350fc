#!/usr/bin/env python3
"""Seed inputs for fuzz-images (fuzz_images.c) from a base dump:

    make_corpus.py BASE OUT

For every protobuf image of BASE (one of each kind, cores: two), an input
that names it and holds its entries to seal (byte 1 = 1), and one with
its bytes as they are (byte 1 = 0). Raw page data is left out: the fuzzer
gets at it through the pagemaps.
"""
import hashlib
import os
import struct
import sys


def entries(data):
    """The entries (length word + message) of an image, without check words and trailer."""
    off, out = 8, b""
    while off + 4 <= len(data):
        (n,) = struct.unpack_from("<I", data, off)
        if n == 0xffffffff or off + 8 + n > len(data):
            break
        out += data[off:off + 4 + n]
        off += 4 + n + 4
    return out


def main():
    base, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    names = sorted(n for n in os.listdir(base) if not n.endswith(".log"))
    seen = {}
    for i, n in enumerate(names):
        kind = n.split("-")[0].split(".")[0]
        if n.startswith(("pages-", "shmem-", "sysvshm-")):
            continue
        seen[kind] = seen.get(kind, 0) + 1
        if seen[kind] > (2 if kind == "core" else 1):
            continue
        data = open(os.path.join(base, n), "rb").read()
        for mode, body in ((1, entries(data)), (0, data)):
            seed = bytes([i, mode]) + body
            name = "%s-%s-%s" % (kind, "sealed" if mode else "raw", hashlib.sha1(seed).hexdigest()[:12])
            open(os.path.join(out, name), "wb").write(seed)


if __name__ == "__main__":
    main()
