#!/usr/bin/env python3
"""Kill criu at random instants of a dump (and of a restore) and check
that no task was harmed.

The tree is killtree.c (next to this file): a root with three threads and
four children (one writing a pipe and reading a unix socket pair, one
under a seccomp filter, one in a group stop, one in seccomp strict mode), a file, shared file-backed
memory, private memory, an altstack, masks and values in FPU registers,
each checking itself all the time (see the comment in killtree.c).

dump: every try starts a fresh tree, runs `criu dump -R` on it and sends
criu a signal after a random delay (SIGKILL mostly; SIGINT, SIGTERM,
SIGHUP too). Whatever the instant, afterwards every task must be alive,
untraced, in its state (the stopped child stopped), with its signal mask,
fds, mappings and seccomp mode as before and every worker going on
without finding anything changed (a worker idle for 0.3 s gets 5 s more:
a starved tree looks the same for a moment). The parasite's area may be
left in a task whose criu got SIGKILL, and the parasite's socket and
criu's pipes in the strict-seccomp child (counted as "leftovers", see
Documentation/compel.md); the strict child killed by seccomp after a
SIGKILL is counted apart ("KNOWN": the trapped-syscall window, compel.md,
"Windows"), the rest of the tree checked as usual; anything else counts
as harm.

restore: one dump of a tree, then every try restores it (`-d`) and kills
criu at a random instant. Afterwards either no process of the tree exists,
or all do and are healthy; never a part.

    killtest.py [--tries N] [--restore-tries N] [--seed S] [-v]
    killtest.py --walk FIRST:LAST:STRIDE [-v]
    killtest.py --selftest [--tries 0 --restore-tries 0]

--walk kills criu deterministically instead: at fault-injection step N
of the dump (CRIU_FAULT=N CRIU_FAULT_KILL=1, criu/include/fault.h) for
N = FIRST, FIRST+STRIDE, ... up to LAST (0: the dump's last step).

KILLTEST_SIGNALS=9 (comma-separated numbers) sends only those signals;
KILLTREE_CFLAGS adds compiler flags to killtree's build (e.g.
-DKT_SECCOMP_NS=1000: how often the seccomp child calls its forbidden
uname(), 200000 ns by default; -DKT_STRICT_MIB=64: memory the strict
child fills, for a longer page dump of it).

Last line: "killtest: N passed, M failed". Must run as root.
"""

import argparse
import ctypes
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
NR_WORKERS = 7
RUNNING = (0, 1, 2, 3, 4, 6)  # worker 5 is the stopped child
PR_SET_CHILD_SUBREAPER = 36
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


def status_field(pid, key, tid=None):
    s = read("/proc/%d/task/%d/status" % (pid, tid) if tid else "/proc/%d/status" % pid)
    if s is None:
        return None
    for line in s.splitlines():
        k, _, v = line.partition(":")
        if k == key:
            return v.strip()
    return None


def state(pid):
    s = read("/proc/%d/stat" % pid)
    return s[s.rindex(")") + 2] if s else None


def tids(pid):
    try:
        return sorted(int(t) for t in os.listdir("/proc/%d/task" % pid))
    except OSError:
        return []


def children(pid):
    out = []
    for t in tids(pid):
        s = read("/proc/%d/task/%d/children" % (pid, t))
        if s:
            out += [int(x) for x in s.split()]
    return sorted(out)


def fds(pid):
    d = "/proc/%d/fd" % pid
    out = {}
    try:
        for n in os.listdir(d):
            try:
                out[int(n)] = os.readlink(os.path.join(d, n))
            except OSError:
                pass
    except OSError:
        return None
    return out


def maps(pid):
    s = read("/proc/%d/maps" % pid)
    if s is None:
        return None
    out = []
    for line in s.splitlines():
        f = line.split()
        out.append((f[0], f[1], " ".join(f[5:]) if len(f) > 5 else ""))
    return out


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class Tree:
    """One killtree instance and what it looked like before criu touched it."""

    def __init__(self, binary, work, errpath=None):
        self.work = work
        self.state = os.path.join(work, "state")
        self.err = open(errpath or os.path.join(work, "tree.err"), "ab")
        if os.path.exists(self.state):
            os.unlink(self.state)
        self.p = subprocess.Popen([binary, self.state], stdin=subprocess.DEVNULL, stdout=self.err,
                                  stderr=self.err, start_new_session=True, close_fds=True)
        self.pid = self.p.pid
        deadline = time.time() + 5
        while not self.ready() or len(children(self.pid)) != 4:
            if time.time() > deadline or self.p.poll() is not None:
                raise RuntimeError("killtree did not start")
            time.sleep(0.01)
        self.kids = children(self.pid)
        self.snap = self.snapshot()
        stopped = [p for p in self.kids if self.snap[p]["state"] == "T"]
        if len(stopped) != 1:
            raise RuntimeError("killtree: %d stopped children" % len(stopped))
        self.stopped = stopped[0]
        self.continued = False  # check() sent it SIGCONT: its stop was verified before
        self.after_cont = None  # test hook: called right after that SIGCONT

    def shared(self):
        with open(self.state, "rb") as f:
            b = f.read(4096)
        beats = [int.from_bytes(b[i * 8:i * 8 + 8], "little") for i in range(NR_WORKERS)]
        err = int.from_bytes(b[NR_WORKERS * 8:NR_WORKERS * 8 + 4], "little")
        ready = int.from_bytes(b[NR_WORKERS * 8 + 4:NR_WORKERS * 8 + 8], "little")
        msg = b[NR_WORKERS * 8 + 8:NR_WORKERS * 8 + 8 + 256].split(b"\0")[0].decode(errors="replace")
        return beats, err, ready, msg

    def clear_error(self):
        """The restored tree maps the same state file: forget what an earlier try found."""
        with open(self.state, "r+b") as f:
            f.seek(NR_WORKERS * 8)
            f.write(b"\0" * 4)

    def ready(self):
        try:
            return self.shared()[2] == 1
        except (OSError, IndexError):
            return False

    def pids(self):
        return [self.pid] + self.kids

    def snapshot(self):
        snap = {}
        for p in self.pids():
            snap[p] = {
                "tids": tids(p),
                "mask": {t: status_field(p, "SigBlk", t) for t in tids(p)},
                "fds": fds(p),
                "maps": maps(p),
                "state": state(p),
                "seccomp": status_field(p, "Seccomp"),
            }
        return snap

    def strict_killed(self):
        """The strict-seccomp child, if it is dead of SIGKILL (seccomp's, in the trapped-syscall window)."""
        for p in self.kids:
            if self.snap[p]["seccomp"] == "1":
                s = read("/proc/%d/stat" % p)
                if s and s[s.rindex(")") + 2] == "Z" and int(s.split()[-1]) & 0x7f == signal.SIGKILL:
                    return p
        return None

    def check(self, allow_leftover, skip=None):
        """Returns (harm or None, leftover); @skip: a pid left out (with its worker)."""
        leftover = False
        self.leftover_fds = False
        pids = [p for p in self.pids() if p != skip]
        running = [i for i in RUNNING if not (skip and i == 6)]
        # first: everyone there, let go, and the stopped child still stopped
        for p in pids:
            was = self.snap[p]
            st = state(p)
            if st is None or st == "Z":
                how = ""
                if p == self.pid and self.p.poll() is not None:
                    rc = self.p.returncode
                    how = ", killed by signal %d" % -rc if rc < 0 else ", exit status %d" % rc
                return "process %d is gone (state %s%s)" % (p, st, how), leftover
            # a tracee being let go may need an instant (a stopped one goes back into its stop)
            for _ in range(50):
                if status_field(p, "TracerPid") == "0" and state(p) not in ("t", "R" if was["state"] == "T" else ""):
                    break
                time.sleep(0.01)
            if status_field(p, "TracerPid") != "0":
                return "process %d is still traced" % p, leftover
            st = state(p)
            if p == self.stopped and self.continued:
                continue  # a check before found it stopped, then continued it
            if (was["state"] == "T") != (st == "T") or st == "t":
                return "process %d is in state %s, was %s" % (p, st, was["state"]), leftover
        # the stopped child: continue it and let it check itself (a stopped
        # task whose criu died heals when it runs again, so it is compared after)
        beats, err, _, msg = self.shared()
        os.kill(self.stopped, signal.SIGCONT)
        self.continued = True
        if self.after_cont:
            self.after_cont(self)
        deadline = time.time() + 2
        while self.shared()[0][5] < 2 and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        beats2, err, _, msg = self.shared()
        if err:
            return "a worker found its state changed: %s" % msg, leftover
        if beats2[5] < 2:
            return "the stopped child did not go on after SIGCONT", leftover
        for i in running:
            if beats2[i] == beats[i]:
                # Starved, or stuck? Without criu, a tree held to 3% of a CPU
                # (cgroup cpu quota) shows this in 2 of 50 such windows, the
                # pipe chain (root -> writer -> reader) first: give it time.
                states = self.threads()
                deadline = time.time() + 5
                while self.shared()[0][i] == beats[i] and time.time() < deadline:
                    time.sleep(0.05)
                if self.shared()[0][i] == beats[i]:
                    return "worker %d stopped working (heartbeat %d); threads: %s" % (i, beats[i], states), leftover
                print("note: worker %d made no progress for 0.3 s, then went on (load?); threads then: %s" %
                      (i, states), flush=True)
        for p in pids:
            was = self.snap[p]
            if status_field(p, "Seccomp") != was["seccomp"]:
                return "process %d has seccomp mode %s, had %s" % (p, status_field(p, "Seccomp"),
                                                                  was["seccomp"]), leftover
            if tids(p) != was["tids"]:
                return "process %d has threads %s, had %s" % (p, tids(p), was["tids"]), leftover
            for t in was["tids"]:
                m = status_field(p, "SigBlk", t)
                if m != was["mask"][t]:
                    return "thread %d of %d has mask %s, had %s" % (t, p, m, was["mask"][t]), leftover
            f = fds(p)
            if f != was["fds"]:
                # strict seccomp: the parasite's socket and criu's pipes (close() is not allowed there)
                extra = {k: v for k, v in f.items() if k not in was["fds"]}
                if not (allow_leftover and was["seccomp"] == "1" and
                        all(f.get(k) == v for k, v in was["fds"].items()) and
                        all(v.startswith(("socket:", "pipe:")) for v in extra.values())):
                    return "fds of %d changed: %s -> %s" % (p, was["fds"], f), leftover
                self.leftover_fds = True
            m = maps(p)
            if m != was["maps"]:
                extra = [x for x in m if x not in was["maps"]]
                gone = [x for x in was["maps"] if x not in m]
                # the parasite's area: shared anonymous, read-write-exec
                if allow_leftover and not gone and len(extra) == 1 and extra[0][1] == "rwxs":
                    leftover = True
                else:
                    return "maps of %d changed: +%s -%s" % (p, extra, gone), leftover
        return None, leftover

    def threads(self):
        """Every thread's state, tracer and wait channel: what a stalled worker waits in."""
        out = []
        for p in self.pids():
            for t in tids(p):
                st = read("/proc/%d/task/%d/stat" % (p, t))
                wchan = (read("/proc/%d/task/%d/wchan" % (p, t)) or "?").strip() or "-"
                out.append("%d/%d %s tracer %s %s" % (p, t, st[st.rindex(")") + 2] if st else "?",
                                                      status_field(p, "TracerPid", t), wchan))
        return "; ".join(out)

    def kill(self):
        for p in self.pids():
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.time() + 5
        while any(state(p) not in (None, "Z") for p in self.pids()) and time.time() < deadline:
            time.sleep(0.01)
        reap()
        self.err.close()


def run_criu(args, delay, sig, env=None):
    """Start criu, send @sig after @delay seconds (if still running); returns (rc, seconds, stderr)."""
    errf = tempfile.TemporaryFile()
    t0 = time.time()
    p = subprocess.Popen([CRIU] + args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errf,
                         close_fds=True, env=dict(os.environ, **env) if env else None)
    sent = False
    if delay is not None:
        try:
            p.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            p.send_signal(sig)
            sent = True
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    dt = time.time() - t0
    errf.seek(0)
    err = errf.read().decode(errors="replace")
    errf.close()
    return rc, dt, err, sent


# the tree keeps writing its state file, which restore would otherwise refuse as changed
RST_OPTS = ["--allow-changed-files"]
SIGNALS = [signal.SIGKILL] * 7 + [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
if os.environ.get("KILLTEST_SIGNALS"):
    SIGNALS = [int(x) for x in os.environ["KILLTEST_SIGNALS"].split(",")]


def judge(t, killed):
    """(harm or None, leftover, pid of the strict child killed by seccomp or None) after criu ended.

    The strict child may be found dead only after a first check() went past
    the states (it dies when it runs again, some time after criu): that
    check continued the stopped child, so the second one must not ask for
    its stop again (Tree.continued).
    """
    harm, leftover = t.check(allow_leftover=killed)
    strict = killed and harm and t.strict_killed()
    if strict:
        # criu died between making a trapped syscall real and the task's
        # seccomp check of it (Documentation/compel.md, "Windows"):
        # counted apart, the rest of the tree must be whole
        harm, leftover = t.check(allow_leftover=True, skip=strict)
        if harm is not None:
            strict = None
    return harm, leftover, strict or None


def dump_tries(binary, work, n, rnd):
    # how long a whole dump takes here
    durs = []
    for _ in range(5):
        t = Tree(binary, work)
        d = os.path.join(work, "img")
        shutil.rmtree(d, ignore_errors=True)
        rc, dt, err, _ = run_criu(["dump", "-t", str(t.pid), "-D", d, "-R", "-o", "dump.log"], None, None)
        t.kill()
        if rc != 0:
            print("killtest: a plain dump failed (rc %d): %s" % (rc, err.strip()[-300:]))
            return 0, 1, {}
        durs.append(dt)
    span = sorted(durs)[len(durs) // 2]
    log("dump takes %.0f ms; killing within that" % (span * 1000))

    ok = bad = 0
    stats = {"tries": 0, "survived": 0, "leftover": 0, "completed": 0, "early": 0, "fds": 0, "strict": 0}
    for i in range(n):
        sig = rnd.choice(SIGNALS)
        delay = rnd.uniform(0, span)
        t = Tree(binary, work)
        d = os.path.join(work, "img")
        shutil.rmtree(d, ignore_errors=True)
        rc, dt, err, sent = run_criu(["dump", "-t", str(t.pid), "-D", d, "-R", "-o", "dump.log", "-v4"],
                                     delay, sig)
        stats["tries"] += 1
        why = None
        if not sent:
            stats["completed"] += 1
            if rc != 0:
                why = "criu failed by itself (rc %d): %s" % (rc, err.strip()[-300:])
        elif sig != signal.SIGKILL and rc == 0:
            why = None  # it had just finished
        elif sig != signal.SIGKILL and rc == -sig and not os.path.exists(os.path.join(d, "dump.log")):
            stats["early"] += 1  # before criu's main(): its handlers were not there yet, nothing was done
        elif sig != signal.SIGKILL and (rc <= 0 or "interrupted" not in err):
            why = "criu got signal %d: rc %d, stderr %r" % (sig, rc, err.strip()[-300:])
        harm, leftover, strict = judge(t, sent and sig == signal.SIGKILL)
        if strict:
            stats["strict"] += 1
            print("KNOWN dump try %d: signal 9 after %.1f ms: the strict-seccomp child %d was killed by "
                  "seccomp (the trapped-syscall window)" % (i, delay * 1000, strict), flush=True)
        why = why or harm
        if why is None:
            ok += 1
            stats["survived"] += not strict
            stats["leftover"] += leftover
            stats["fds"] += t.leftover_fds
        else:
            bad += 1
            print("FAIL dump try %d: signal %d after %.1f ms: %s" % (i, sig, delay * 1000, why), flush=True)
            tail = read(os.path.join(work, "tree.err")) or ""
            if tail.strip():
                print("   tree said: %s" % tail.strip()[-300:], flush=True)
            if os.path.exists(os.path.join(d, "dump.log")):
                keep = os.path.join(work, "fail-%d.log" % i)
                shutil.copy(os.path.join(d, "dump.log"), keep)
        t.kill()
        os.truncate(os.path.join(work, "tree.err"), 0)
    return ok, bad, stats


def walk_tries(binary, work, first, last, stride):
    """SIGKILL of criu at fault-injection steps first, first+stride, ... (CRIU_FAULT_KILL): deterministic."""
    ok = bad = 0
    stats = {"tries": 0, "survived": 0, "leftover": 0, "strict": 0}
    d = os.path.join(work, "img")
    t = Tree(binary, work)
    shutil.rmtree(d, ignore_errors=True)
    rc, _, err, _ = run_criu(["dump", "-t", str(t.pid), "-D", d, "-R", "-o", "dump.log"], None, None,
                             {"CRIU_FAULT": "count"})
    t.kill()
    steps = [int(x) for x in err.split("fault injection: ")[-1].split()[:1] if x.isdigit()]
    if rc != 0 or not steps:
        print("killtest: counting the steps of a dump failed (rc %d): %s" % (rc, err.strip()[-300:]))
        return 0, 1, stats
    last = min(last or steps[0], steps[0])
    log("a dump has %d steps; killing criu at %d..%d every %d" % (steps[0], first, last, stride))
    for n in range(first, last + 1, stride):
        t = Tree(binary, work)
        shutil.rmtree(d, ignore_errors=True)
        rc, _, err, _ = run_criu(["dump", "-t", str(t.pid), "-D", d, "-R", "-o", "dump.log", "-v4"], None, None,
                                 {"CRIU_FAULT": str(n), "CRIU_FAULT_KILL": "1"})
        stats["tries"] += 1
        harm, leftover, strict = judge(t, True)
        if strict:
            stats["strict"] += 1
            print("KNOWN walk step %d: the strict-seccomp child %d was killed by seccomp "
                  "(the trapped-syscall window)" % (n, strict), flush=True)
        if harm is None:
            ok += 1
            stats["survived"] += not strict
            stats["leftover"] += leftover
        else:
            bad += 1
            print("FAIL walk step %d (criu rc %d): %s" % (n, rc, harm), flush=True)
            if os.path.exists(os.path.join(d, "dump.log")):
                shutil.copy(os.path.join(d, "dump.log"), os.path.join(work, "walk-%d.log" % n))
        t.kill()
        os.truncate(os.path.join(work, "tree.err"), 0)
    return ok, bad, stats


def selftest(binary, work):
    """The harness's own judgment, without criu: the strict child dying of
    SIGKILL just after check() continued the stopped child (as it does when
    the daemon's trapped syscall kills it late) must count as the known
    window, with nothing else harmed. 1 passed or 1 failed."""
    t = Tree(binary, work)
    strict = [p for p in t.kids if t.snap[p]["seccomp"] == "1"][0]

    def kill_strict(tree):
        os.kill(strict, signal.SIGKILL)
        deadline = time.time() + 5
        while state(strict) != "Z" and time.time() < deadline:
            time.sleep(0.01)

    t.after_cont = kill_strict
    harm, _, found = judge(t, True)
    t.kill()
    if harm is None and found == strict:
        print("selftest: the strict child killed after the first check is the known window; the stopped "
              "child's continuation is not taken for harm", flush=True)
        return 1, 0
    print("FAIL selftest: %s (strict child found killed: %s)" % (harm, found), flush=True)
    return 0, 1


def restore_tries(binary, work, n, rnd):
    d = os.path.join(work, "rimg")
    shutil.rmtree(d, ignore_errors=True)
    t = Tree(binary, work, "/dev/null")
    pids = t.pids()
    all_tids = [x for p in pids for x in tids(p)]
    rc, _, err, _ = run_criu(["dump", "-t", str(t.pid), "-D", d, "-o", "dump.log"], None, None)
    t.p.wait()
    reap()
    if rc != 0:
        print("killtest: the dump for the restore tries failed: %s" % err.strip()[-300:])
        return 0, 1, {}

    def cleanup():
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.time() + 5
        while time.time() < deadline:
            reap()
            if all(state(x) is None for x in all_tids):
                return
            time.sleep(0.01)

    durs = []
    for _ in range(3):
        rc, dt, err, _ = run_criu(["restore", "-D", d, "-d", "-o", "restore.log"] + RST_OPTS, None, None)
        if rc != 0:
            print("killtest: a plain restore failed: %s" % err.strip()[-300:])
            cleanup()
            return 0, 1, {}
        durs.append(dt)
        cleanup()
    span = sorted(durs)[len(durs) // 2]
    log("restore takes %.0f ms; killing within that" % (span * 1000))

    ok = bad = 0
    stats = {"tries": 0, "nothing": 0, "whole": 0}
    for i in range(n):
        sig = rnd.choice(SIGNALS)
        delay = rnd.uniform(0, span)
        t.clear_error()
        rc, dt, err, sent = run_criu(["restore", "-D", d, "-d", "-o", "restore.log", "-v4"] + RST_OPTS, delay, sig)
        stats["tries"] += 1
        # what criu left settles within an instant: all or nothing
        deadline = time.time() + 1
        while True:
            time.sleep(0.05)
            reap()
            alive = [x for x in all_tids if state(x) not in (None, "Z")]
            if not alive or len(alive) == len(all_tids) or time.time() > deadline:
                break
        why = None
        if not alive:
            stats["nothing"] += 1
        elif len(alive) != len(all_tids):
            why = "half alive: %s of %s (criu rc %d): %s" % (alive, all_tids, rc, "; ".join(
                "%d %s ppid %s tracer %s" % (x, state(x), status_field(x, "PPid"), status_field(x, "TracerPid"))
                for x in alive))
        elif rc != 0 and sig != signal.SIGKILL:
            why = "criu failed (rc %d) but left the tree running: %s" % (rc, err.strip()[-200:])
        else:
            # all there: it must be whole and working
            for p in pids:
                for _ in range(100):
                    if status_field(p, "TracerPid") == "0":
                        break
                    time.sleep(0.01)
            traced = [p for p in pids if status_field(p, "TracerPid") != "0"]
            before, e1, _, m1 = t.shared()
            time.sleep(0.3)
            after, e2, _, m2 = t.shared()
            deadline = time.time() + 5  # starved (load) rather than stuck: see Tree.check()
            while any(after[k] == before[k] for k in RUNNING) and not e2 and time.time() < deadline:
                time.sleep(0.05)
                after, e2, _, m2 = t.shared()
            if traced:
                why = "processes %s still traced" % traced
            elif e2:
                why = "restored tree found itself wrong: %s" % m2
            elif any(after[k] == before[k] for k in RUNNING):
                why = "restored tree does not work: %s -> %s" % (before, after)
            else:
                stats["whole"] += 1
        if why is None:
            ok += 1
        else:
            bad += 1
            print("FAIL restore try %d: signal %d after %.1f ms: %s" % (i, sig, delay * 1000, why), flush=True)
            if os.path.exists(os.path.join(d, "restore.log")):
                shutil.copy(os.path.join(d, "restore.log"), os.path.join(work, "rfail-%d.log" % i))
        cleanup()
    return ok, bad, stats


def main():
    global VERBOSE
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    ap = argparse.ArgumentParser()
    ap.add_argument("--tries", type=int, default=100, help="dump tries")
    ap.add_argument("--restore-tries", type=int, default=50)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--walk", default=None, metavar="FIRST:LAST:STRIDE",
                    help="instead of random instants, SIGKILL criu at these fault-injection steps of a dump "
                         "(CRIU_FAULT_KILL; LAST 0: the last step)")
    ap.add_argument("--selftest", action="store_true", help="check the harness's own judgment first")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    VERBOSE = a.v
    if os.geteuid() != 0:
        print("killtest: must run as root\nkilltest: 0 passed, 1 failed")
        return 2
    if a.walk:
        a.tries = a.restore_tries = 0
    seed = a.seed if a.seed is not None else int(time.time())
    rnd = random.Random(seed)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    work = tempfile.mkdtemp(prefix="killtest-")
    binary = os.path.join(work, "killtree")
    subprocess.run(["cc", "-O1", "-Wall", "-pthread"] + os.environ.get("KILLTREE_CFLAGS", "").split() +
                   ["-o", binary, os.path.join(HERE, "killtree.c")], check=True)
    print("killtest: seed %d, %d dump tries, %d restore tries" % (seed, a.tries, a.restore_tries), flush=True)
    ok = bad = 0
    if a.selftest:
        o, b = selftest(binary, work)
        ok += o
        bad += b
    if a.walk:
        first, last, stride = (int(x) for x in a.walk.split(":"))
        o, b, st = walk_tries(binary, work, first, last, max(stride, 1))
        ok += o
        bad += b
        print("walk: %d steps killed at, %d unharmed (%d with the parasite's area left), %d with the strict "
              "child killed in the trapped-syscall window, %d harmed" %
              (st.get("tries", 0), st.get("survived", 0), st.get("leftover", 0), st.get("strict", 0), b),
              flush=True)
    if a.tries:
        o, b, st = dump_tries(binary, work, a.tries, rnd)
        ok += o
        bad += b
        print("dump: %d tries, %d survived unharmed (%d with the parasite's area left, %d with its socket "
              "or pipes left in the strict child), %d with the strict child killed in the trapped-syscall "
              "window, %d harmed; %d finished before the signal, %d signalled before criu's main()" %
              (st.get("tries", 0), st.get("survived", 0), st.get("leftover", 0), st.get("fds", 0),
               st.get("strict", 0), b,
               st.get("completed", 0), st.get("early", 0)), flush=True)
    if a.restore_tries:
        o, b, st = restore_tries(binary, work, a.restore_tries, rnd)
        ok += o
        bad += b
        print("restore: %d tries, %d left nothing, %d left the whole tree working, %d left a part" %
              (st.get("tries", 0), st.get("nothing", 0), st.get("whole", 0), b), flush=True)
    if a.keep or bad:
        print("killtest: work directory kept: %s" % work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    print("killtest: %d passed, %d failed" % (ok, bad), flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
