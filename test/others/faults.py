#!/usr/bin/env python3
"""Fault injection at every step of a dump and of a restore: no harm.

criu counts every library call that makes a system call, every parasite
command and every image entry read as a step, and CRIU_FAULT=N makes step
N fail (criu/include/fault.h). On the representative tree (rtree.c:
threads, children, pipes, unix sockets, an eventfd, files, shared
memory, a signal handler) this walks N over the steps of

  dump -R   a failure must leave the tree running as it was: same
            mappings, fds, threads, signal masks, not traced, not stopped,
            and passing its own check; a dump that succeeds all the same
            must restore a tree that passes its check;

  snapshot  the same, for dump -R --snapshot (the pages copied while the
            tree runs again, its memory write-protected until then);
  restore   a failure must leave nothing behind (no process of the tree,
            no pidfile) and name the step on stderr; a restore that
            succeeds all the same must have written its pidfile and give
            a tree that passes its check;

  restorer  the same, for a failure of the Nth checked syscall of every
            restorer blob (CRIU_FAULT_RESTORER=N; the blob makes no
            library calls, so its steps are counted apart);

  pre-dump  the same as dump -R, for a pre-dump (--compress, on top of
            an earlier one with --prev-images-dir: the chain's link,
            sealed images of a dump id of its own, compressed frames);

  chain     the same as restore, for a chain: a dump with
            --prev-images-dir --track-mem on top of a pre-dump with
            --track-mem --compress, whose unchanged pages are gathered
            from the parent's compressed frames (Documentation/incremental.md);

and never a crash or a hang. A failed read (read, pread, fgets,
readdir) that the operation survives must have been reported (an error
or a warning in the log after the injected one): a read error taken for
the end of a file would give a shorter text, and a dump of less than the
tree had. Every other outcome is a harm, printed as FAIL. Run as root:

  test/others/faults.py [--steps N] [--all] [--reads | --calls C,..] [--only dump|snapshot|twin|restore|chain] [-v]

--steps N tries N steps of each walk, spread over all of them (default 40;
half as many for the snapshot, pre-dump and chain walks);
--all walks every step; --reads only the steps that read, in the dump
and restore walks (CRIU_FAULT_CALLS makes criu count only those); --calls
readlink,open walks only the steps of the calls named, the same way. The last line is
"faults: N passed, M failed".
"""

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

import treelib
from treelib import Tree, criu, reap, alive, kill_all, ours


READS = ("read", "pread64", "fgets", "readdir64")


def count_steps(args_, env=None):
    r = criu(*args_, env=dict(env or {}, CRIU_FAULT="count"))
    m = re.search(r"fault injection: (\d+) steps", r.err)
    if r.rc or not m:
        raise RuntimeError("counting steps of %s failed: %s" % (args_[0], r.brief()))
    return int(m.group(1))


def unreported_read(r, n, log):
    """The failed call of step @n was a read and nothing after it in the log says so, or None."""
    m = re.search(r"fault injection: step %d: (\w+)\(" % n, r.err)
    if not m or m.group(1) not in READS:
        return None
    try:
        text = open(log, errors="replace").read()
    except FileNotFoundError:
        return None
    at = text.find("fault injection: step %d:" % n)
    if at < 0:
        return None
    after = text[text.find("\n", at) + 1:]
    if re.search(r"^\S*\s*(Error|Warn)\b|\b(Error|Warn)\s*\(", after, re.M):
        return None
    return m.group(1)


AT = None     # --at: these steps, not a sample


def pick(total, n, rnd):
    if AT is not None:
        return [k for k in AT if 1 <= k <= total]
    if n >= total:
        return list(range(1, total + 1))
    stride = total / n
    return sorted({min(total, 1 + int(i * stride + rnd.random() * stride)) for i in range(n)})


class Walk:
    def __init__(self, name):
        self.name = name
        self.tried = self.failed_cleanly = self.succeeded = self.named_in_log = 0
        self.harms = []

    def harm(self, step, why, r=None):
        what = [l.split("fault injection: ")[1] for l in (r.err if r else "").splitlines() if "fault injection: " in l]
        why = "%s%s" % ("(%s) " % what[0] if what else "", why)
        self.harms.append("%s step %d: %s" % (self.name, step, why))
        print("FAIL %s step %d: %s" % (self.name, step, why), flush=True)


def settled_snapshot(tree):
    """A snapshot of the tree at rest (two in a row alike)."""
    snap = treelib.snapshot(tree.pids)
    for _ in range(20):
        time.sleep(0.02)
        again = treelib.snapshot(tree.pids)
        if again == snap:
            break
        snap = again
    return snap


def settled_diff(before, tree):
    """How the tree differs from @before; a thread caught between two
    sigwaitinfo() calls shows another mask for a moment: look again."""
    for _ in range(50):
        why = treelib.snapshot_diff(before, treelib.snapshot(tree.pids))
        if not why:
            return None
        time.sleep(0.02)
    return why


def names_step(r, n, log):
    """The error names step @n: on stderr, or (errors of a restoring child) in the log."""
    want = "fault injection: step %d" % n
    if want in r.err:
        return "stderr"
    try:
        if want in open(log).read():
            return "log"
    except FileNotFoundError:
        pass
    return None


def restore_tree(work, images, tree):
    """Restore @images as @tree's processes; None if it runs and checks out."""
    r = criu("restore", "-D", images, "-d", "-v4", "-o", "restore.log")
    if r.rc:
        return "the images do not restore: " + r.brief()
    return tree.check()


def dump_walk(work, args, rnd, extra=()):
    w = Walk(" ".join(("dump",) + tuple(extra)))
    tree = Tree(work, args.mem)
    images = os.path.join(work, "dump")
    total = count_steps(["dump", "-t", tree.root, "-D", images, "-R"] + list(extra))
    nr = total if args.all else max(1, args.steps // (2 if extra else 1))
    steps = pick(total, nr, rnd)
    print("faults: %s -R of the tree takes %d steps%s; trying %d" %
          (w.name, total, " of " + os.environ["CRIU_FAULT_CALLS"] if args.reads else "", len(steps)), flush=True)
    try:
        for n in steps:
            w.tried += 1
            before = settled_snapshot(tree)
            shutil.rmtree(images, ignore_errors=True)
            r = criu("dump", "-t", tree.root, "-D", images, "-R", "-v4", "-o", "dump.log", *extra,
                     env={"CRIU_FAULT": str(n)}, timeout=args.timeout)
            if args.verbose:
                print("  dump step %d: rc %s %s" % (n, r.rc, r.err.strip().splitlines()[:1]), flush=True)
            if r.timed_out or r.crashed:
                w.harm(n, ("hung: " if r.timed_out else "crashed: ") + r.brief())
            why = settled_diff(before, tree) or tree.check()
            if why:
                w.harm(n, "the tree after the %s dump: %s (%s)" % ("failed" if r.rc else "successful", why,
                                                                    r.brief()), r)
            elif r.rc == 0 and not r.timed_out:
                # what it wrote must be a whole and true dump: the tree comes back from it
                w.succeeded += 1
                call = unreported_read(r, n, os.path.join(images, "dump.log"))
                if call:
                    w.harm(n, "a failed %s() went unreported: the dump succeeded as if it had read it all" % call, r)
                kill_all(tree.pids)
                why = restore_tree(work, images, tree)
                if why:
                    w.harm(n, "the dump succeeded but " + why, r)
            elif r.rc:
                w.failed_cleanly += 1
                if not names_step(r, n, os.path.join(images, "dump.log")):
                    w.harm(n, "the error does not name the step: " + r.brief())
            if w.harms and (not tree.alive() or tree.check()):
                tree.kill()
                tree = Tree(work, args.mem)
    finally:
        tree.kill()
    return w


KCMP_FILE = 0


def kcmp_file(pid, a, b):
    """kcmp(KCMP_FILE) of fds @a and @b of @pid: 0 if one open file description."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(312, pid, pid, KCMP_FILE, a, b)


def twin_walk(work, args):
    """Every kcmp() of a dump of a process with two opens of one file (fds 5
    and 6: the same inode, position and flags, two open file descriptions):
    the dump fails, or the restore gives two descriptions again, not one."""
    w = Walk("two opens")
    images, pidfile = os.path.join(work, "twin"), os.path.join(work, "twin.pid")
    path = os.path.join(work, "twin.txt")
    with open(path, "w") as f:
        f.write("twin\n")
    env = {"CRIU_FAULT_CALLS": "syscall"}

    def start():
        p = subprocess.Popen(["sh", "-c", 'exec 5<"$0" 6<"$0"; exec sleep 1000', path], start_new_session=True,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if os.path.exists("/proc/%d/fd/6" % p.pid) and "sleep" in open("/proc/%d/comm" % p.pid).read():
                return p.pid
            time.sleep(0.01)
        raise RuntimeError("the two-opens process did not start")

    pid = start()
    try:
        total = count_steps(["dump", "-t", pid, "-D", images, "-R"], env=env)
        print("faults: dump -R of a process with two opens of one file takes %d steps of syscall" % total,
              flush=True)
        for n in range(1, total + 1):
            w.tried += 1
            shutil.rmtree(images, ignore_errors=True)
            r = criu("dump", "-t", pid, "-D", images, "-v4", "-o", "dump.log",
                     env=dict(env, CRIU_FAULT=str(n)), timeout=args.timeout)
            if r.timed_out or r.crashed:
                w.harm(n, ("hung: " if r.timed_out else "crashed: ") + r.brief(), r)
            if r.rc:
                w.failed_cleanly += 1
                continue
            reap()
            if os.path.exists(pidfile):
                os.unlink(pidfile)
            rr = criu("restore", "-D", images, "-d", "--pidfile", pidfile, timeout=args.timeout)
            if rr.rc:
                w.harm(n, "the dump succeeded but the images do not restore: " + rr.brief(), r)
                pid = start()
                continue
            pid = int(open(pidfile).read())
            w.succeeded += 1
            if kcmp_file(pid, 5, 6) == 0:
                w.harm(n, "the dump succeeded but fds 5 and 6 came back as one open file", r)
                kill_all([pid])
                pid = start()
    finally:
        kill_all([pid])
    return w


def predump_walk(work, args, rnd):
    w = Walk("pre-dump")
    tree = Tree(work, args.mem)
    first, images = os.path.join(work, "pre0"), os.path.join(work, "pre1")
    os.makedirs(first)
    r = criu("pre-dump", "-t", tree.root, "-D", first, "--compress")
    if r.rc:
        tree.kill()
        raise RuntimeError("pre-dump failed: " + r.brief())
    cmd = ["pre-dump", "-t", tree.root, "-D", images, "--prev-images-dir", "../pre0", "--compress"]
    os.makedirs(images)
    total = count_steps(cmd)
    n_steps = args.steps // 2 or 1
    steps = pick(total, n_steps if not args.all else total, rnd)
    print("faults: a pre-dump on top of another takes %d steps; trying %d" % (total, len(steps)), flush=True)
    try:
        for n in steps:
            w.tried += 1
            before = settled_snapshot(tree)
            shutil.rmtree(images, ignore_errors=True)
            os.makedirs(images)
            r = criu(*cmd, "-v4", "-o", "dump.log", env={"CRIU_FAULT": str(n)}, timeout=args.timeout)
            if args.verbose:
                print("  pre-dump step %d: rc %s %s" % (n, r.rc, r.err.strip().splitlines()[:1]), flush=True)
            if r.timed_out or r.crashed:
                w.harm(n, ("hung: " if r.timed_out else "crashed: ") + r.brief())
            why = settled_diff(before, tree) or tree.check()
            if why:
                w.harm(n, "the tree after the %s pre-dump: %s (%s)" % ("failed" if r.rc else "successful", why,
                                                                        r.brief()), r)
            elif r.rc == 0 and not r.timed_out:
                w.succeeded += 1
            elif r.rc:
                w.failed_cleanly += 1
                if not names_step(r, n, os.path.join(images, "dump.log")):
                    w.harm(n, "the error does not name the step: " + r.brief())
            if w.harms and (not tree.alive() or tree.check()):
                tree.kill()
                tree = Tree(work, args.mem)
    finally:
        tree.kill()
    return w


def chain_images(work, tree):
    """A dump on top of a pre-dump (both tracked, the pre-dump compressed); the tree is gone after."""
    pre, top = os.path.join(work, "chain", "pre"), os.path.join(work, "chain", "dump")
    os.makedirs(pre)
    os.makedirs(top)
    r = criu("pre-dump", "-t", tree.root, "-D", pre, "--track-mem", "--compress")
    if not r.rc:
        r = criu("dump", "-t", tree.root, "-D", top, "--prev-images-dir", "../pre", "--track-mem")
    if r.rc:
        tree.kill()
        raise RuntimeError("the chain's dumps failed: " + r.brief())
    return top


def restore_walk(work, args, rnd, chain=False):
    w = Walk("chain restore" if chain else "restore")
    tree = Tree(work, args.mem)
    good = os.path.join(work, "good")
    if chain:
        good = chain_images(work, tree)
    else:
        r = criu("dump", "-t", tree.root, "-D", good)
        if r.rc:
            tree.kill()
            raise RuntimeError("dump failed: " + r.brief())
    kill_all(tree.pids)
    total = count_steps(["restore", "-D", good, "-d"])
    kill_all(tree.pids)
    n_steps = args.steps // 2 or 1 if chain else args.steps
    steps = pick(total, n_steps if not args.all else total, rnd)
    print("faults: restore of the tree%s takes %d steps; trying %d" %
          (" from a chain of two dumps" if chain else "", total, len(steps)), flush=True)
    pidfile = os.path.join(work, "pidfile")
    for n in steps:
        w.tried += 1
        if os.path.exists(pidfile):
            os.unlink(pidfile)
        tree.seen = len(tree.lines())
        r = criu("restore", "-D", good, "-d", "-v4", "-o", "restore.log", "--pidfile", pidfile,
                 env={"CRIU_FAULT": str(n)}, timeout=args.timeout)
        if args.verbose:
            print("  restore step %d: rc %s %s" % (n, r.rc, r.err.strip().splitlines()[:1]), flush=True)
        if r.timed_out or r.crashed:
            w.harm(n, ("hung: " if r.timed_out else "crashed: ") + r.brief())
        elif r.rc:
            reap()
            left = [p for p in tree.pids if alive(p) and ours(p)]
            if left:
                w.harm(n, "left %s behind: %s" % (left, r.brief()), r)
            elif os.path.exists(pidfile):
                w.harm(n, "wrote a pidfile: " + r.brief())
            elif not names_step(r, n, os.path.join(good, "restore.log")):
                w.harm(n, "the error does not name the step: " + r.brief())
            else:
                w.failed_cleanly += 1
                if names_step(r, n, os.path.join(good, "restore.log")) == "log":
                    w.named_in_log += 1
        else:
            why = tree.check() or tree.final()
            call = unreported_read(r, n, os.path.join(good, "restore.log"))
            try:
                named = int(open(pidfile).read())
            except (OSError, ValueError):
                named = None
            if named != tree.root:
                w.harm(n, "the restore succeeded but its pidfile names %s, not %d" % (named, tree.root), r)
            elif why:
                w.harm(n, "the restore succeeded but the tree is wrong: " + why, r)
            elif call:
                w.harm(n, "a failed %s() went unreported: the restore succeeded as if it had read it all" % call, r)
            else:
                w.succeeded += 1
        kill_all(tree.pids)
    return w


def restorer_walk(work, args, rnd):
    """The restorer blob's own checked syscalls: CRIU_FAULT_RESTORER=K fails the Kth of each restorer."""
    w = Walk("restorer")
    tree = Tree(work, args.mem)
    good = os.path.join(work, "good-restorer")
    r = criu("dump", "-t", tree.root, "-D", good)
    if r.rc:
        tree.kill()
        raise RuntimeError("dump failed: " + r.brief())
    kill_all(tree.pids)
    r = criu("restore", "-D", good, "-d", "-v4", "-o", "restore.log", env={"CRIU_FAULT_RESTORER": "count"})
    kill_all(tree.pids)
    counts = [int(x) for x in re.findall(r"restorer \d+: fault injection: (\d+) steps",
                                          open(os.path.join(good, "restore.log")).read())]
    if r.rc or not counts:
        raise RuntimeError("counting the restorers' steps failed: " + r.brief())
    total = max(counts)
    steps = pick(total, args.steps if not args.all else total, rnd)
    print("faults: the restorers take %s checked steps; trying %d" % (counts, len(steps)), flush=True)
    log = os.path.join(good, "restore.log")
    for n in steps:
        w.tried += 1
        r = criu("restore", "-D", good, "-d", "-v4", "-o", "restore.log", env={"CRIU_FAULT_RESTORER": str(n)},
                 timeout=args.timeout)
        want = "fault injection: restorer step %d" % n
        if r.timed_out or r.crashed:
            w.harm(n, ("hung: " if r.timed_out else "crashed: ") + r.brief())
        elif r.rc:
            reap()
            left = [p for p in tree.pids if alive(p) and ours(p)]
            if left:
                w.harm(n, "left %s behind: %s" % (left, r.brief()))
            elif want not in open(log).read():
                w.harm(n, "the log does not name the step: " + r.brief())
            else:
                w.failed_cleanly += 1
                w.named_in_log += 1
        else:
            why = tree.check() or tree.final()
            if why:
                w.harm(n, "the restore succeeded but the tree is wrong: " + why)
            else:
                w.succeeded += 1
        kill_all(tree.pids)
    return w


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=40, help="steps to try in each walk (default 40)")
    ap.add_argument("--all", action="store_true", help="every step")
    ap.add_argument("--reads", action="store_true", help="only the steps that read (dump and restore walks)")
    ap.add_argument("--calls", help="only the steps of these calls, comma-separated (dump and restore walks)")
    ap.add_argument("--only", choices=("dump", "snapshot", "twin", "restore", "chain"))
    ap.add_argument("--at", help="only these steps, comma-separated (to see one again: a failure names its step)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--mem", type=int, default=64, help="KiB of private memory per process")
    ap.add_argument("--timeout", type=int, default=60)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if args.at:
        global AT
        AT = [int(k) for k in args.at.split(",")]
    if args.reads or args.calls:
        # criu counts only these calls as steps: N walks the reads (or the calls named)
        os.environ["CRIU_FAULT_CALLS"] = args.calls or ",".join(READS)
        args.reads = True
    if os.geteuid():
        raise SystemExit("faults.py must run as root")
    seed = args.seed if args.seed is not None else int(time.time())
    rnd = random.Random(seed)
    treelib.become_subreaper()
    work = tempfile.mkdtemp(prefix="faults-")
    walks, setup_fail, t0 = [], 0, time.time()
    try:
        if args.only in (None, "dump"):
            walks.append(dump_walk(work, args, rnd))
        if args.only == "snapshot" or (args.only is None and not args.reads):
            walks.append(dump_walk(work, args, rnd, ("--snapshot",)))
        if args.only == "twin" or (args.only is None and not args.reads):
            walks.append(twin_walk(work, args))
        if args.only in (None, "restore"):
            walks.append(restore_walk(work, args, rnd))
            if not args.reads:
                walks.append(restorer_walk(work, args, rnd))
        if args.only in (None, "chain") and not args.reads:
            walks.append(predump_walk(work, args, rnd))
            walks.append(restore_walk(work, args, rnd, chain=True))
    except RuntimeError as e:
        print("FAIL setup: %s" % e, flush=True)
        setup_fail = 1
    finally:
        if args.keep:
            print("faults: scratch directory kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    tried = harms = 0
    for w in walks:
        print("faults: %s: %d steps failed on purpose: %d failed cleanly (%d naming the step only in the log), "
              "%d succeeded all the same (and verified), %d harms" %
              (w.name, w.tried, w.failed_cleanly, w.named_in_log, w.succeeded, len(w.harms)))
        tried += w.tried
        harms += len(w.harms)
    print("faults: seed %d, %.0f s" % (seed, time.time() - t0))
    print("faults: %d passed, %d failed" % (tried - harms, harms + setup_fail), flush=True)
    return 1 if harms + setup_fail else 0


if __name__ == "__main__":
    sys.exit(main())
