#!/usr/bin/env python3
"""Damaged images never restore wrong.

Dumps the representative tree (rtree.c: threads, children, pipes, unix
sockets, an eventfd, files, shared memory, a signal handler), then for each
of many mutations of a copy of its images (bit flips, random bytes,
truncation, large or off-by-one length words, empty files, files removed,
junk appended, files swapped, a directory, FIFO, symlink or device in
place of an image file) runs `criu restore -d` and sorts the outcome:

  refused    criu failed with an error on stderr, and nothing is left
             behind (no process of the tree, no pidfile)
  verified   criu succeeded and the tree checks itself: every process,
             thread, fd, byte of memory, queued byte, handler as dumped
  WRONG      criu succeeded but the tree is not as dumped
  CRASH      criu died of a signal
  HANG       criu did not finish in time
  LEFTOVER   criu failed but left a process of the tree behind

With --chain the images are a chain of two (docs/incremental.md): a
pre-dump with --track-mem and --compress in pre/, then a dump with
--prev-images-dir ../pre --track-mem in dump/, whose unchanged pages are
in_prev entries taken from pre/'s compressed frames; the mutations hit the
files of both dirs (and the parent link, and files of one dir put in the
other's place), and `criu restore -D dump` runs. With --chain --two-files
the pre-dump is not compressed and is written in two pages files
(CRIU_PAGES_FILES=2: pages-N.img and pages-N.1.img, images.md
pagemap_head.nr_files), which the mutations hit as well.

The test passes when there is no WRONG, CRASH, HANG or LEFTOVER. Run as
root: test/others/mutate.py [--count N] [--seed S] [--chain [--two-files]] [--keep] [-v]. The last
line is "mutate: N passed, M failed" (one per outcome class that must stay
empty, plus the setup), for scripts/test.
"""

import argparse
import os
import random
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time

import treelib
from treelib import Tree, criu, reap, alive, kill_all

LOGS = ("dump.log", "restore.log")


def entries(path):
    r = subprocess.run([treelib.IMGTOOL, "entries", path], capture_output=True, text=True)
    return [tuple(int(x) for x in l.split()) for l in r.stdout.splitlines() if l and l[0].isdigit()]


def is_pb(name):
    name = os.path.basename(name)
    return not (name.startswith("pages-") or name.startswith("shmem-") or name.startswith("sysvshm-"))


def image_names(good):
    """The image files of the dump (of both dirs of a chain: "pre/..." and "dump/...")."""
    if not os.path.isdir(os.path.join(good, "dump")):
        return sorted(n for n in os.listdir(good) if n not in LOGS)
    out = []
    for sub in ("pre", "dump"):
        out += sorted(os.path.join(sub, n) for n in os.listdir(os.path.join(good, sub))
                      if n not in LOGS and n != "parent")
    return out


# ---- mutations: each is (label, file name, function(dir)) ----

def flip_bit(name, off, bit):
    def f(d):
        p = os.path.join(d, name)
        with open(p, "r+b") as fh:
            fh.seek(off)
            b = fh.read(1)
            fh.seek(off)
            fh.write(bytes([b[0] ^ (1 << bit)]))
    return ("flip bit %d of byte %d" % (bit, off), name, f)


def set_byte(name, off, val):
    def f(d):
        p = os.path.join(d, name)
        with open(p, "r+b") as fh:
            fh.seek(off)
            old = fh.read(1)
            fh.seek(off)
            fh.write(bytes([val if val != old[0] else val ^ 0xff]))
    return ("byte %d := %#x" % (off, val), name, f)


def truncate(name, size):
    return ("truncate to %d" % size, name, lambda d: os.truncate(os.path.join(d, name), size))


def set_len(name, off, val):
    def f(d):
        p = os.path.join(d, name)
        with open(p, "r+b") as fh:
            fh.seek(off)
            fh.write(struct.pack("<I", val & 0xffffffff))
    return ("length word at %d := %#x" % (off, val & 0xffffffff), name, f)


def append(name, data):
    def f(d):
        with open(os.path.join(d, name), "ab") as fh:
            fh.write(data)
    return ("append %d bytes" % len(data), name, f)


def remove(name):
    return ("remove", name, lambda d: os.unlink(os.path.join(d, name)))


def replace_with(name, kind):
    def f(d):
        p = os.path.join(d, name)
        saved = os.path.join(d, "..", "saved-" + name.replace("/", "-"))
        shutil.move(p, saved)
        if kind == "directory":
            os.mkdir(p)
        elif kind == "fifo":
            os.mkfifo(p)
        elif kind == "symlink":
            os.symlink(os.path.abspath(saved), p)     # to the very file that belongs there
        elif kind == "device":
            os.mknod(p, stat.S_IFCHR | 0o600, os.makedev(1, 5))    # /dev/zero
        elif kind == "dangling":
            os.symlink("/nonexistent/" + name, p)
    return ("%s in its place" % kind, name, f)


def swap(a, b):
    def f(d):
        pa, pb = os.path.join(d, a), os.path.join(d, b)
        tmp = pa + ".swap"
        os.rename(pa, tmp)
        os.rename(pb, pa)
        os.rename(tmp, pb)
    return ("swapped with %s" % b, a, f)


def mutations(good, count, rnd):
    names = image_names(good)
    sizes = {n: os.path.getsize(os.path.join(good, n)) for n in names}
    fixed, randoms = [], []
    for n in names:
        size = sizes[n]
        fixed += [truncate(n, 0), remove(n), append(n, b"\0" * 7 + b"junk")]
        fixed += [replace_with(n, k) for k in ("directory", "fifo", "symlink", "device", "dangling")]
        if size > 1:
            fixed += [truncate(n, size - 1), truncate(n, size // 2)]
        if is_pb(n):
            ents = entries(os.path.join(good, n))
            for off, length in ents[:2] + ents[-1:]:
                for val in (length + 1, length - 1, 0, 0x7fffffff, 64 << 20, 0xffffffff):
                    fixed.append(set_len(n, off, val))
            fixed.append(truncate(n, 8))
        for _ in range(4):
            randoms.append(lambda n=n, size=size: flip_bit(n, rnd.randrange(size), rnd.randrange(8)))
            randoms.append(lambda n=n, size=size: set_byte(n, rnd.randrange(size), rnd.randrange(256)))
            randoms.append(lambda n=n, size=size: truncate(n, rnd.randrange(size)))
    # files of one kind swapped (an intact file in another's place)
    kinds = {}
    for n in names:
        kinds.setdefault(n.split("-")[0], []).append(n)
    for same in kinds.values():
        for a, b in zip(same, same[1:]):
            fixed.append(swap(a, b))
    # a chain: the link gone or pointing at itself, and a file of one dump in the other's place
    if any(n.startswith("dump/") for n in names):
        fixed.append(remove("dump/parent"))
        fixed.append(("parent link to the dump itself", "dump/parent",
                      lambda d: (os.unlink(os.path.join(d, "dump/parent")),
                                 os.symlink(".", os.path.join(d, "dump/parent")))))
        for n in names:
            if n.startswith("pre/") and "dump/" + n[4:] in names:
                fixed.append(swap(n, "dump/" + n[4:]))
    rnd.shuffle(fixed)
    out = fixed[:count]
    while len(out) < count:
        out.append(rnd.choice(randoms)())
    return out


# ---- running one case ----

class Stats:
    def __init__(self):
        self.counts = {}
        self.bad = []
        self.named = 0

    def add(self, outcome, label, why=""):
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        if outcome in ("WRONG", "CRASH", "HANG", "LEFTOVER", "UNCLEAR"):
            self.bad.append("%s: %s%s" % (outcome, label, (": " + why) if why else ""))


def leftovers(pids, before):
    reap()
    stray = [p for p in pids if alive(p) and treelib.ours(p)]
    kids = set(treelib_children()) - before
    return stray + sorted(k for k in kids if k not in stray)


def treelib_children():
    me = os.getpid()
    out = []
    for t in os.listdir("/proc/%d/task" % me):
        try:
            out += [int(x) for x in open("/proc/%d/task/%s/children" % (me, t)).read().split()]
        except FileNotFoundError:
            pass
    return [k for k in out if alive(k)]


def run_case(work, good, tree, mut, st, args):
    label, name, fn = mut
    case = os.path.join(work, "case")
    for p in (case, os.path.join(work, "saved-" + name.replace("/", "-"))):
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        elif os.path.lexists(p):
            os.unlink(p)
    treelib.copy_dump(good, case)
    fn(case)
    pidfile = os.path.join(work, "pidfile")
    if os.path.exists(pidfile):
        os.unlink(pidfile)
    before = set(treelib_children())
    tree.seen = len(tree.lines())
    r = criu("restore", "-D", os.path.join(case, "dump") if args.chain else case, "-d", "--pidfile", pidfile,
             "-v4", "-o", "restore.log", timeout=args.timeout)
    what = "%s: %s" % (name, label)
    if args.verbose:
        print("  %s -> rc %s %s" % (what, r.rc, r.err.strip().splitlines()[-1:] if r.err else ""), flush=True)
    if r.timed_out:
        st.add("HANG", what, r.brief())
    elif r.crashed:
        st.add("CRASH", what, r.brief())
    elif r.rc != 0:
        left = leftovers(tree.pids, before)
        if left:
            st.add("LEFTOVER", what, "pids %s; %s" % (left, r.brief()))
            kill_all(left)
        elif "Error" not in r.err or os.path.exists(pidfile):
            st.add("UNCLEAR", what, "no error on stderr, or a pidfile written: " + r.brief())
        else:
            st.add("refused", what)
            base = os.path.basename(name)
            if base in r.err or base.split(".")[0] in r.err:
                st.named += 1
    else:
        why = tree.check() or tree.final()
        if why:
            st.add("WRONG", what, why)
        else:
            st.add("verified", what)
    kill_all(tree.pids)
    left = leftovers(tree.pids, before)
    if left:
        kill_all(left)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=300, help="mutations to try (default 300)")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: from the time)")
    ap.add_argument("--timeout", type=int, default=30, help="seconds a restore may take")
    ap.add_argument("--mem", type=int, default=256, help="KiB of private memory per process")
    ap.add_argument("--chain", action="store_true", help="a pre-dump (compressed) and a dump on top of it")
    ap.add_argument("--two-files", action="store_true",
                    help="with --chain: the pre-dump uncompressed, in two pages files (CRIU_PAGES_FILES=2)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if os.geteuid():
        raise SystemExit("mutate.py must run as root")
    seed = args.seed if args.seed is not None else int(time.time())
    rnd = random.Random(seed)
    treelib.become_subreaper()
    work = tempfile.mkdtemp(prefix="mutate-")
    st = Stats()
    setup_fail = 0
    t0 = time.time()
    tree = None
    try:
        tree = Tree(work, args.mem)
        why = tree.check()
        if why:
            raise RuntimeError("the tree fails its own check before any dump: " + why)
        good = os.path.join(work, "good")
        top = good
        if args.chain:
            top = os.path.join(good, "dump")
            os.makedirs(os.path.join(good, "pre"))
            os.makedirs(top)
            pre = os.path.join(good, "pre")
            if args.two_files:
                r = criu("pre-dump", "-t", tree.root, "-D", pre, "--track-mem", "-v4", "-o", "dump.log",
                         env={"CRIU_PAGES_FILES": "2"})
            else:
                r = criu("pre-dump", "-t", tree.root, "-D", pre, "--track-mem", "--compress", "-v4", "-o", "dump.log")
            if r.rc:
                raise RuntimeError("pre-dump failed: " + r.brief())
            if args.two_files and not any(f.endswith(".1.img") for f in os.listdir(pre)):
                raise RuntimeError("the pre-dump wrote no second pages file: %s" % sorted(os.listdir(pre)))
            r = criu("dump", "-t", tree.root, "-D", top, "--prev-images-dir", "../pre", "--track-mem",
                     "-v4", "-o", "dump.log")
        else:
            r = criu("dump", "-t", tree.root, "-D", good, "-v4", "-o", "dump.log")
        if r.rc:
            raise RuntimeError("dump failed: " + r.brief())
        kill_all(tree.pids)
        # the intact images restore and verify (and leave the pids free again)
        r = criu("restore", "-D", top, "-d", "-v4", "-o", "restore.log")
        why = r.brief() if r.rc else (tree.check() or tree.final())
        if why:
            raise RuntimeError("the intact dump does not restore: " + why)
        kill_all(tree.pids)
        muts = mutations(good, args.count, rnd)
        print("mutate: seed %d, %d mutations of %d image files of a %d-process tree%s" %
              (seed, len(muts), len(image_names(good)), len(tree.pids),
               (" (a pre-dump in two pages files and a dump on top)" if args.two_files else
                " (a pre-dump and a dump on top)") if args.chain else ""), flush=True)
        for i, m in enumerate(muts):
            run_case(work, good, tree, m, st, args)
            if not args.verbose and (i + 1) % 50 == 0:
                print("  %d done: %s" % (i + 1, st.counts), flush=True)
    except RuntimeError as e:
        print("FAIL setup: %s" % e, flush=True)
        setup_fail = 1
    finally:
        if tree:
            kill_all(tree.pids)
        if args.keep:
            print("scratch directory kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    for b in st.bad:
        print("FAIL %s" % b, flush=True)
    total = sum(st.counts.values())
    print("mutate: %d mutations in %.0f s: %d refused (%d naming the damaged file), %d restored and verified, "
          "%d wrong, %d crashes, %d hangs, %d left processes behind, %d without a clear error" %
          (total, time.time() - t0, st.counts.get("refused", 0), st.named, st.counts.get("verified", 0),
           st.counts.get("WRONG", 0), st.counts.get("CRASH", 0), st.counts.get("HANG", 0),
           st.counts.get("LEFTOVER", 0), st.counts.get("UNCLEAR", 0)))
    failed = setup_fail + len(st.bad)
    print("mutate: %d passed, %d failed" % (total - len(st.bad), failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
