"""Shared by the tests that dump and restore the representative tree
(rtree.c): mutate.py, faults.py and scripts/soak.

The caller must be root. It becomes a child subreaper, so that the tree's
processes come back to it (and are reaped by it) however criu leaves them.
"""

import ctypes
import os
import re
import shutil
import signal
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CRIU = os.environ.get("CRIU", os.path.join(REPO, "build", "criu", "criu"))
BUILD = os.path.dirname(os.path.dirname(os.path.abspath(CRIU)))
RTREE = os.path.join(BUILD, "test", "others", "rtree")
IMGTOOL = os.path.join(BUILD, "test", "others", "imgtool")

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0):
        raise SystemExit("prctl(PR_SET_CHILD_SUBREAPER) failed")


def reap():
    """Reap every child that has exited (ours or re-parented to us)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def alive(pid):
    """True if @pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def proc_state(pid):
    """The state letter of @pid (R, S, t, T, Z...), None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def tids(pid):
    try:
        return sorted(int(t) for t in os.listdir("/proc/%d/task" % pid))
    except FileNotFoundError:
        return []


def gone(pid):
    return not os.path.exists("/proc/%d" % pid)


def ours(pid):
    """@pid descends from us (a tree we started, or restored: we are its subreaper), and is not
    another's process that took one of the tree's pids meanwhile (other test runs share the machine)."""
    me = os.getpid()
    for _ in range(64):
        try:
            with open("/proc/%d/stat" % pid) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return False
        if ppid == me:
            return True
        if ppid <= 1:
            return False
        pid = ppid
    return False


def kill_all(pids):
    """Kill those of @pids that are ours and wait until they are reaped: their pids free again."""
    pids = [p for p in pids if ours(p)]
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.time() + 5
    while time.time() < deadline and not all(gone(p) for p in pids):
        reap()
        time.sleep(0.005)
    reap()


class Result:
    def __init__(self, rc, out, err, timed_out=False):
        self.rc, self.out, self.err, self.timed_out = rc, out, err, timed_out

    @property
    def crashed(self):
        """criu itself died of a signal (a timeout kill is not a crash)."""
        return self.rc is not None and self.rc < 0 and not self.timed_out

    def brief(self):
        return "rc=%s%s stderr=%r" % (self.rc, " (timed out)" if self.timed_out else "", self.err.strip()[-400:])


def criu(*args, env=None, timeout=60):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.Popen([CRIU] + [str(a) for a in args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=e, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
        return Result(p.returncode, out, err)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        return Result(p.returncode, out, err, timed_out=True)


def fault_steps(pid, img, calls="read", args=()):
    """How many @calls steps a `criu dump -R [@args]` of @pid makes (CRIU_FAULT=count)."""
    r = criu("dump", "-R", *args, "-t", pid, "-D", img, "-o", "dump.log",
             env={"CRIU_FAULT": "count", "CRIU_FAULT_CALLS": calls})
    m = re.search(r"fault injection: (\d+) steps", r.err)
    return int(m.group(1)) if m else 0


def processes():
    """(pid, name, parent's pid) of every process now."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        name, rest = st.split("(", 1)[1].rsplit(")", 1)
        out.append((int(d), name, int(rest.split()[1])))
    return out


def pkill_criu(pid):
    """SIGKILL to criu @pid and each process under it whose name has "criu" in
    it: `pkill -9 criu` (or `killall`), kept to this criu's processes."""
    kids = {}
    for k, comm, ppid in processes():
        kids.setdefault(ppid, []).append((k, comm))
    todo, hit = [pid], [pid]
    while todo:
        for k, comm in kids.get(todo.pop(), []):
            todo.append(k)
            if "criu" in comm:
                hit.append(k)
    for k in hit:
        try:
            os.kill(k, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return hit


def dump_killed(pid, img, env=None, kill_after=None, before_kill=None, verbose=False, args=(),
                leave_running=True, pkill=False):
    """A `criu dump -R [@args]` (without -R if not @leave_running) of @pid into
    a fresh @img (log dump.log), SIGKILLed @kill_after seconds after
    @before_kill() (if any) ran (with @pkill as pkill_criu() does), or left
    to end (60 s at most); children it leaves are reaped. Its exit status."""
    shutil.rmtree(img, ignore_errors=True)
    os.mkdir(img)
    cmd = [CRIU, "dump"] + (["-R"] if leave_running else []) + list(args) + \
        ["-t", str(pid), "-D", img, "-o", "dump.log"] + (["-v4"] if verbose else [])
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=e, start_new_session=True)
    if before_kill:
        before_kill()
    if kill_after is not None:
        time.sleep(kill_after)
        if pkill:
            pkill_criu(p.pid)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        rc = p.wait()
    reap()
    return rc


class Tree:
    """The rtree processes, started by us or restored."""

    def __init__(self, work, mem_kb=256):
        self.work = work
        self.out = os.path.join(work, "rtree.out")
        self.seen = 0
        open(self.out, "w").close()
        self.p = subprocess.Popen([RTREE, self.out, work, str(mem_kb)], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                  close_fds=True)
        line = self.wait_line(r"^(ready|setup bad)", 10)
        if not line or not line.startswith("ready"):
            self.p.kill()
            raise RuntimeError("rtree did not start: %r" % line)
        self.pids = [int(x) for x in line.split()[1:4]]
        if 0 in self.pids:
            self.kill()
            raise RuntimeError("rtree: %r" % line)

    @property
    def root(self):
        return self.pids[0]

    def lines(self):
        with open(self.out) as f:
            return f.read().splitlines()

    def wait_line(self, pattern, timeout):
        """The first line matching @pattern written since the last one we took."""
        deadline = time.time() + timeout
        while True:
            lines = self.lines()
            for i in range(self.seen, len(lines)):
                if re.search(pattern, lines[i]):
                    self.seen = i + 1
                    return lines[i]
            if time.time() > deadline:
                return None
            time.sleep(0.01)

    def alive(self):
        return [p for p in self.pids if alive(p)]

    def all_tids(self):
        return [t for p in self.pids for t in tids(p)]

    def check(self, timeout=15):
        """Ask the tree to check itself; returns None if all is well, else why not."""
        if not alive(self.root):
            return "the root %d is not alive" % self.root
        os.kill(self.root, signal.SIGUSR2)
        line = self.wait_line(r"^check \d+ ", timeout)
        if line is None:
            return "no check answer in %d s" % timeout
        return None if line.endswith(" ok") else line

    def final(self, timeout=15):
        """SIGTERM: the tree checks itself and exits. None if it was all well."""
        if not alive(self.root):
            return "the root %d is not alive" % self.root
        os.kill(self.root, signal.SIGTERM)
        line = self.wait_line(r"^final ", timeout)
        deadline = time.time() + 5
        while self.alive() and time.time() < deadline:
            reap()
            time.sleep(0.01)
        self.kill()
        if line is None:
            return "no final answer in %d s" % timeout
        return None if line == "final ok" else line

    def kill(self):
        kill_all(self.pids)


def snapshot(pids):
    """What a failed dump must leave as it was: per thread, its state,
    tracer, signal masks; per process, its mappings and fds."""
    snap = {}
    for pid in pids:
        try:
            maps = open("/proc/%d/maps" % pid).read()
            fds = sorted((int(fd), os.readlink("/proc/%d/fd/%s" % (pid, fd)))
                         for fd in os.listdir("/proc/%d/fd" % pid))
        except (FileNotFoundError, ProcessLookupError):
            snap[pid] = None
            continue
        threads = {}
        for tid in tids(pid):
            try:
                st = open("/proc/%d/task/%d/status" % (pid, tid)).read()
            except FileNotFoundError:
                continue
            f = dict(l.split(":\t", 1) for l in st.splitlines() if ":\t" in l)
            threads[tid] = tuple(f.get(k, "").strip() for k in ("TracerPid", "SigBlk", "SigIgn", "SigCgt"))
            threads[tid] += (f.get("State", "?")[0],)
        snap[pid] = (maps, fds, threads)
    return snap


def snapshot_diff(a, b):
    """Why snapshot @b is not @a (thread states R/S/D are all fine), or None."""
    for pid in a:
        if a[pid] is None:
            continue
        if b.get(pid) is None:
            return "process %d is gone" % pid
        (ma, fa, ta), (mb, fb, tb) = a[pid], b[pid]
        if ma != mb:
            la, lb = set(ma.splitlines()), set(mb.splitlines())
            return "process %d: mappings changed: -%s +%s" % (pid, sorted(la - lb)[:3], sorted(lb - la)[:3])
        if fa != fb:
            return "process %d: fds changed: %s -> %s" % (pid, sorted(set(fa) - set(fb)), sorted(set(fb) - set(fa)))
        if set(ta) != set(tb):
            return "process %d: threads %s -> %s" % (pid, sorted(ta), sorted(tb))
        for tid in ta:
            if ta[tid][:4] != tb[tid][:4]:
                return "thread %d: tracer/masks %s -> %s" % (tid, ta[tid][:4], tb[tid][:4])
            if tb[tid][4] in "tTZX":
                return "thread %d: left in state %s" % (tid, tb[tid][4])
    return None


def copy_dump(src, dst):
    if os.path.exists(dst):
        shutil.rmtree(dst)
    shutil.copytree(src, dst, symlinks=True)
