#!/usr/bin/env python3
"""Kill criu during a `dump -R --snapshot` and check the task runs on unharmed.

The task is snapshot_writer.c (next to this file): sweeps over its memory,
each write checked against the previous sweep's, some of them made by the
kernel (read() into the memory). Every try starts a fresh one, dumps it
with `criu dump -R --snapshot` and sends criu SIGKILL (sometimes SIGINT or
SIGTERM) at a random instant: mostly while the pages are copied (the tree
runs, writes wait for their pages' copies), else anywhere from the start.
Afterwards the task must be running, untraced, with no userfaultfd in its
fd table nor any area still registered ('uw' in smaps), and go on with its
sweeps without a lost write or a failed kernel write. The parasite's area
may be left in a task whose criu got SIGKILL while it ran (a "leftover",
Documentation/compel.md); anything else is harm.

    snapshot_kill.py [--tries N] [--mb MB] [--seed S] [-v]

Last line: "snapshot_kill: N passed, M failed". Must run as root.
"""

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CRIU = os.environ.get("CRIU", os.path.join(REPO, "build", "criu", "criu"))
VERBOSE = False


def log(*a):
    if VERBOSE:
        print(*a, flush=True)


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def status(sfile):
    s = read(sfile)
    try:
        gen, bad, kfail = (int(x) for x in s.split())
        return gen, bad, kfail
    except (AttributeError, ValueError):
        return None


def wait_gen(sfile, above, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = status(sfile)
        if st and st[0] > above:
            return st
        time.sleep(0.01)
    return status(sfile)


def harm(pid, sfile):
    """What is wrong with the task after the try (None: nothing), and whether the parasite was left."""
    s = read("/proc/%d/status" % pid)
    if s is None:
        return "the task is gone", False
    fields = dict(line.split(":", 1) for line in s.splitlines() if ":" in line)
    if fields.get("TracerPid", "0").strip() != "0":
        return "still traced by %s" % fields["TracerPid"].strip(), False
    if fields.get("State", "").strip()[:1] in ("t", "T"):
        return "left stopped (%s)" % fields["State"].strip(), False
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if "userfaultfd" in link:
            return "fd %s is a userfaultfd" % fd, False
    smaps = read("/proc/%d/smaps" % pid) or ""
    for line in smaps.splitlines():
        if line.startswith("VmFlags:") and " uw" in line:
            return "an area is still registered for write-protect", False
    leftover = "criu parasite" in (read("/proc/%d/maps" % pid) or "") or \
        any(l.split()[-1].startswith("/memfd:criu") for l in (read("/proc/%d/maps" % pid) or "").splitlines()
            if len(l.split()) > 5)
    before = status(sfile)
    after = wait_gen(sfile, before[0] + 1 if before else 0, 10)
    if not before or not after or after[0] <= before[0]:
        return "its sweeps do not go on (%s -> %s)" % (before, after), leftover
    if after[1]:
        return "%d writes were lost or reverted" % after[1], leftover
    if after[2]:
        return "%d kernel-mode writes failed" % after[2], leftover
    return None, leftover


def one_try(k, rng, mb, tmp):
    d = os.path.join(tmp, "img-%d" % k)
    os.mkdir(d)
    sfile = os.path.join(tmp, "status-%d" % k)
    w = subprocess.Popen([os.path.join(tmp, "writer"), str(mb), sfile], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                         close_fds=True)
    try:
        if not wait_gen(sfile, 1, 10):
            return "the writer did not start", False, "-"
        sig = rng.choice([signal.SIGKILL] * 8 + [signal.SIGINT, signal.SIGTERM])
        in_copy = rng.random() < 0.75
        c = subprocess.Popen([CRIU, "dump", "-t", str(w.pid), "-D", d, "-R", "--snapshot", "-v4", "-o",
                              "dump.log"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, close_fds=True)
        logf = os.path.join(d, "dump.log")
        if in_copy:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and c.poll() is None and \
                    "snapshot taken" not in (read(logf) or ""):
                time.sleep(0.001)
            time.sleep(rng.uniform(0, 0.08))
        else:
            time.sleep(rng.uniform(0, 0.15))
        c.send_signal(sig)
        rc = c.wait()
        text = read(logf) or ""
        when = "done" if rc == 0 else "copy" if "snapshot taken" in text else "frozen"
        log("try %d: %s at %s, criu rc %d" % (k, signal.Signals(sig).name, when, rc))
        why, leftover = harm(w.pid, sfile)
        return why, leftover and sig == signal.SIGKILL, when
    finally:
        w.kill()
        w.wait()
        shutil.rmtree(d, ignore_errors=True)


def main():
    global VERBOSE
    ap = argparse.ArgumentParser()
    ap.add_argument("--tries", type=int, default=20)
    ap.add_argument("--mb", type=int, default=64)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    VERBOSE = a.v
    if os.geteuid():
        print("snapshot_kill: must run as root", file=sys.stderr)
        return 2
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix="snapshot-kill-")
    passed = failed = leftovers = 0
    where = {}
    try:
        r = subprocess.run(["gcc", "-O2", "-Wall", "-o", os.path.join(tmp, "writer"),
                            os.path.join(HERE, "snapshot_writer.c")], capture_output=True, text=True)
        if r.returncode:
            print(r.stderr, file=sys.stderr)
            return 2
        for k in range(a.tries):
            why, leftover, when = one_try(k, rng, a.mb, tmp)
            where[when] = where.get(when, 0) + 1
            leftovers += leftover
            if why:
                failed += 1
                print("FAIL try %d (seed %d, killed at %s): %s" % (k, seed, when, why), flush=True)
            else:
                passed += 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("snapshot_kill: criu ended at: %s; parasite left %d times (seed %d)" %
          (", ".join("%s %d" % kv for kv in sorted(where.items())), leftovers, seed))
    print("snapshot_kill: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
