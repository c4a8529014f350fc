#!/usr/bin/env python3
"""A killed `criu dump --tcp-established` leaves no network lock behind.

The dump locks the tree's TCP connections (criu/net/net.c: an nftables
table or an iptables chain CRIU-<pid>-<time> that drops their packets)
and puts them in repair mode before it reads them. Should criu die before
the tree is gone, the tree runs on: its connections must come out of
repair mode and the lock must go, or they stall for ever.

An echo server (a python process of its own, fds above 2 closed) serves
one connection from us on 127.0.0.1. Each try dumps it and kills criu:

  walk    at each read step (CRIU_FAULT=N CRIU_FAULT_CALLS=read
          CRIU_FAULT_KILL=1), with --stride;
  random  SIGKILL (to criu's process group) after a random delay;
          --pkill: also to every process under criu whose name has
          "criu" in it, as `pkill -9 criu` does (the keeper must not
          be one of them).

After each the server must echo what we send within 2 s, and no table or
chain of its lock (CRIU-<pid>-*) may be left (`nft list tables`,
`iptables -S`, `ip6tables -S`). Each method (nftables, iptables) and
both `dump -R` and a plain dump are tried. Last, a whole plain dump and a
restore: the connection must work after it, and no lock be left.

A plain dump killed once it had begun to kill the tree is a whole dump:
then the server must be dead and the lock kept (for the restore).

--netns: the server in a network namespace of its own (and our end in
it), which the dump locks whole; no restore then (it would make a new
namespace, our end stays in the old one).

--pidns: the server a child of a pid namespace's init (which reaps
nothing), so that criu dumps it from inside the namespace (its agent):
the keeper must not be left to that init. Other helpers of criu's the
agent had running when it died are (the init sees children it never
had exit): counted apart as KNOWN, not failures.

--pidns-init: the server is the init of a pid namespace of its own (a
container of one process), which criu outside kills once the agent says
the dump is whole: killed before that, the agent leaves the server
running, which must get its connection back at once (criu outside tells
the keeper when it has killed the init or won't, and a dump that takes
over 5 s to end fails: it waited 10 s). The server retries a
recv() or send() that fails (EPERM, repair mode) instead of exiting,
which would look like a whole dump. --calls sendmsg walks the steps
around the commit (the keeper's messages, the agent's report). No
restore (its parent-death signal, from unshare --kill-child, is refused
by restore -d).

--restore-kills: the restore side instead. The server is dumped whole
(its lock kept for the restore), then `criu restore --tcp-established`
is killed: at each of the last --last steps of a restore that count
(CRIU_FAULT=N CRIU_FAULT_CALLS=fork,waitpid,setsockopt,write,sendmsg
CRIU_FAULT_KILL=1: the end of a restore, where the connections are
taken out of repair mode, the lock goes and the tree is committed), by
--stride, and --tries times after a random delay. Killed before its
commit, the tree dies with criu: the next restore of the same images
must bring back a connection that works (the peer was not reset, the
lock was kept or put back by criu's keeper). Killed after it, the tree
runs: the connection must work. No lock may be left either way; the
server is dumped again for the next try.

Run as root: test/others/netlock_kill.py [--stride N] [--tries N]
[--methods nftables,iptables,skip] [--modes R,plain] [--netns | --pidns |
--pidns-init] [--calls read|sendmsg] [--no-restore] [--restore-kills
[--last N]]; NETLOCK_SEED picks the delays (NETLOCK_DELAYS=LO,HI in ms, of a dump: 5,90), NETLOCK_LOG=PREFIX keeps the
dump log of each failure. The last line is
"netlock_kill: N passed, M failed".
"""

import argparse
import ctypes
import os
import random
import re
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import treelib
from treelib import criu, reap

SERVER = r"""
import os, socket, sys
os.closerange(3, 65536)
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(ls.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
c, _ = ls.accept()
ls.close()
while True:
    d = c.recv(4096)
    if not d:
        sys.exit(0)
    c.sendall(d)
"""

# the init of its own pid namespace: a session of its own there; it outlives a connection in repair mode
SERVER_INIT = r"""
import os, socket, sys, time
os.closerange(3, 65536)
os.setsid()
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(ls.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
c, _ = ls.accept()
ls.close()
while True:
    try:
        d = c.recv(4096)
        if not d:
            sys.exit(0)
        c.sendall(d)
    except OSError:
        time.sleep(0.01)
"""

INIT = r"""
import os, signal, subprocess, sys, time
subprocess.Popen(sys.argv[1:], start_new_session=True)
while True:
    time.sleep(3600)
"""


def children(pid):
    kids = []
    for t in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/children" % (pid, t)) as f:
            kids += [int(x) for x in f.read().split()]
    return kids


def strangers(pair):
    """Processes of criu's newly left in the server's pid namespace (children of its init but the
    server, which reaps none: those seen before stay; with --pidns-init the server's own children)."""
    if pair.pidns_init:
        return [p for p in children(pair.pid) if p not in pair.seen]
    if not pair.init:
        return []
    return [p for p in children(pair.init) if p != pair.pid and p not in pair.seen]


def wait_file(path, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with open(path) as f:
                text = f.read().strip()
            if text:
                return text
        except FileNotFoundError:
            pass
        time.sleep(0.01)
    return None


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except FileNotFoundError:
        return "gone"


state = treelib.proc_state


def how(pid):
    """The state letter of @pid, and for a zombie how it ended (its exit code, in /proc/PID/stat)."""
    st = state(pid)
    if st != "Z":
        return st
    try:
        with open("/proc/%d/stat" % pid) as f:
            code = int(f.read().rsplit(")", 1)[1].split()[49])
    except (OSError, IndexError, ValueError):
        return st
    if code & 0x7f:
        return "Z, killed by signal %d" % (code & 0x7f)
    return "Z, exit %d" % (code >> 8)


# the random delays of a dump's kill, in s (NETLOCK_DELAYS=LO,HI in ms)
DELAYS = tuple(float(x) / 1000 for x in os.environ.get("NETLOCK_DELAYS", "5,90").split(","))


LIBC = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def setns(fd):
    if LIBC.setns(fd, CLONE_NEWNET):
        raise OSError(ctypes.get_errno(), "setns")


def run_in(nsfd, cmd, **kw):
    """@cmd in the network namespace @nsfd (None: ours)."""
    return subprocess.run(cmd, preexec_fn=(lambda: setns(nsfd)) if nsfd is not None else None, pass_fds=(
        (nsfd,) if nsfd is not None else ()), capture_output=True, text=True, timeout=10, **kw)


def locks_left(pair, timeout=0):
    """The lock tables and chains of a dump of the server still in place (after @timeout s, if any)."""
    end = time.time() + timeout
    while True:
        left = locks_now(pair)
        if not left or time.time() >= end:
            return left
        time.sleep(0.05)


def locks_now(pair):
    left = []
    pat = re.compile(r"CRIU-%d-[0-9a-f]+" % pair.pid)
    for cmd in (["nft", "list", "tables"], ["iptables", "-w", "-S"], ["ip6tables", "-w", "-S"]):
        try:
            out = run_in(pair.nsfd, cmd).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        left += ["%s: %s" % (cmd[0], m) for m in sorted(set(pat.findall(out)))]
    return left


def remove_locks(pair):
    for what in locks_left(pair):
        tool, name = what.split(": ")
        if tool == "nft":
            run_in(pair.nsfd, ["nft", "delete", "table", "inet", name])
        else:
            for hook in ("INPUT", "OUTPUT"):
                run_in(pair.nsfd, [tool, "-w", "-D", hook, "-j", name])
            run_in(pair.nsfd, [tool, "-w", "-F", name])
            run_in(pair.nsfd, [tool, "-w", "-X", name])


class Pair:
    """The echo server and our connection to it."""

    def __init__(self, work, netns=False, pidns=False, pidns_init=False):
        self.work = work
        self.pidns_init = pidns_init
        self.portfile = os.path.join(work, "port")
        self.sk = None
        self.nsfd = None
        self.n = 0
        try:
            os.unlink(self.portfile)
        except FileNotFoundError:
            pass
        cmd = [sys.executable, "-c", SERVER, self.portfile]
        if pidns_init:
            cmd = ["unshare", "-p", "-f", "--kill-child", sys.executable, "-c", SERVER_INIT, self.portfile]
        if netns:
            # a namespace of its own, which the dump locks whole
            cmd = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"] + cmd
        self.init = None
        self.seen = set()
        if pidns:
            # a child of a pid namespace's init: criu dumps it from inside that namespace. The init
            # reaps nothing: a process of criu's left to it shows
            cmd = ["unshare", "-p", "-f", "--kill-child", sys.executable, "-c", INIT] + cmd
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        self.pid = self.p.pid
        port = wait_file(self.portfile)
        if pidns and port is not None:
            self.init = children(self.p.pid)[0]
            self.pid = children(self.init)[0]
        if pidns_init and port is not None:
            self.pid = children(self.p.pid)[0]
        if port is None:
            self.kill()
            raise SystemExit("the echo server did not start")
        if netns:
            # our end in its namespace: we are its peer there
            self.nsfd = os.open("/proc/%d/ns/net" % self.pid, os.O_RDONLY)
            own = os.open("/proc/self/ns/net", os.O_RDONLY)
            setns(self.nsfd)
            try:
                self.sk = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
            finally:
                setns(own)
                os.close(own)
        else:
            self.sk = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
        if self.echo():
            raise SystemExit("the echo server does not echo")

    def echo(self, timeout=None):
        """None if the server echoes a new message within @timeout s, else what went wrong."""
        if timeout is None:
            timeout = 2.0
        self.n += 1
        msg = b"ping %d\n" % self.n
        end = time.time() + timeout
        try:
            self.sk.settimeout(timeout)
            self.sk.sendall(msg)
            got = b""
            while len(got) < len(msg):
                left = end - time.time()
                if left <= 0:
                    raise socket.timeout()
                self.sk.settimeout(left)
                d = self.sk.recv(len(msg) - len(got))
                if not d:
                    return "the connection was closed (server state %s)" % how(self.pid)
                got += d
        except socket.timeout:
            return "no echo in %.0f s (server state %s)" % (timeout, how(self.pid))
        except OSError as e:
            return "the connection failed: %s (server state %s)" % (e, how(self.pid))
        return None if got == msg else "echo %r for %r" % (got, msg)

    def kill(self):
        if self.sk:
            self.sk.close()
            self.sk = None
        if self.nsfd is not None:
            os.close(self.nsfd)
            self.nsfd = None
        treelib.kill_all([self.pid, self.p.pid] + ([self.init] if self.init else []))


def settle(timeout=5.0):
    """Wait for criu's processes left to us (we are a subreaper) by the last try to end, and reap them:
    a dump agent that outlived its criu (it lets the tree go first) is a zombie in the server's pid
    namespace, and the namespace's init, killed by the next dump, can't end before it is reaped."""
    end = time.time() + timeout
    me = os.getpid()
    while True:
        reap()
        left = [p for p, name, ppid in treelib.processes() if ppid == me and name.startswith("criu")]
        if not left or time.time() >= end:
            return
        time.sleep(0.02)


RESTORE_CALLS = "fork,waitpid,setsockopt,write,sendmsg"


def keepers_left(timeout):
    """Wait for criu's keepers (our children once criu is gone) to end; those still there after @timeout s."""
    end = time.time() + timeout
    while True:
        reap()
        left = []
        for d in os.listdir("/proc"):
            if d.isdigit() and comm(int(d)) == "netlock-keeper":
                try:
                    with open("/proc/%s/status" % d) as f:
                        if "\nPPid:\t%d\n" % os.getpid() in f.read():
                            left.append(int(d))
                except FileNotFoundError:
                    pass
        if not left or time.time() >= end:
            return left
        time.sleep(0.01)


def restore_kills(args, work, img, rnd):
    """Kill `criu restore` at the end of a restore's steps and at random instants: see --restore-kills."""
    passed = failed = 0
    pair = None

    def dump(method):
        shutil.rmtree(img, ignore_errors=True)
        os.mkdir(img)
        r = criu("dump", "--tcp-established", "--network-lock", method, "-t", pair.pid, "-D", img, "-o",
                 "dump.log", "-v4")
        reap()
        if r.rc != 0 or treelib.alive(pair.pid) or not locks_left(pair):
            raise SystemExit("FAIL the dump of the server (%s) failed: %s" % (method, r.brief()))

    def restore(env=None, kill_after=None, log="restore.log"):
        cmd = [treelib.CRIU, "restore", "-d", "--tcp-established", "-D", img, "-o", log, "-v4"]
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, env=e, start_new_session=True)
        if kill_after is not None:
            time.sleep(kill_after)
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            _, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            _, err = p.communicate()
        reap()
        return p.returncode, err

    def one(what, method, env=None, kill_after=None):
        nonlocal passed, failed, pair
        what = "%s, restore %s" % (method, what)
        rc, _ = restore(env, kill_after)
        keepers = keepers_left(10)
        log = os.path.join(img, "restore.log")
        said = "the restore is committed" in (open(log, errors="replace").read() if os.path.exists(log) else "")
        # the restore's reaper kills a tree that was not committed: at once, but on a busy machine
        # not within a fixed time (criu killed between the commit and its log line: the tree lives)
        end = time.time() + 3
        while not said and treelib.alive(pair.pid) and time.time() < end:
            time.sleep(0.02)
        # a tree killed is our zombie (we are its subreaper): its pid must be free for the next restore
        reap()
        committed = treelib.alive(pair.pid)
        if said and not committed:
            # the commit made, criu's keeper must not take the tree's connections back
            why = "the tree died after the restore's commit"
        elif not committed:
            if keepers:
                why = "criu's keeper did not end: %s" % keepers
            else:
                rc2, err = restore(log="restore-again.log")
                why = None if rc2 == 0 else "the next restore failed: %s" % err.strip().splitlines()[-1:]
        else:
            why = None
        why = why or pair.echo()
        left = locks_left(pair)
        if why is None and not left:
            passed += 1
        else:
            failed += 1
            print("FAIL %s (criu exit %s, %s): %s%s" % (what, rc, "the tree ran" if committed else "the tree died",
                                                       why or "the connection works",
                                                       "; left: " + ", ".join(left) if left else ""))
            print_log_tail(os.path.join(img, "restore.log"))
            sys.stdout.flush()
            if os.environ.get("NETLOCK_LOG"):
                shutil.copy(os.path.join(img, "restore.log"), "%s.%d.log" % (os.environ["NETLOCK_LOG"], failed))
        if why is not None or not treelib.alive(pair.pid):
            # a new server, dumped whole
            remove_locks(pair)
            pair.kill()
            pair = Pair(work)
        dump(method)

    try:
        for method in args.methods.split(","):
            pair = Pair(work)
            dump(method)
            rc, err = restore({"CRIU_FAULT": "count", "CRIU_FAULT_CALLS": RESTORE_CALLS})
            m = re.search(r"fault injection: (\d+) steps", err)
            steps = int(m.group(1)) if m else 0
            if rc or not steps or pair.echo():
                print("FAIL %s: can't count the steps of a restore (rc %s)" % (method, rc))
                failed += 1
                break
            print("netlock_kill: %d steps (%s) in a restore, the last %d walked" % (steps, RESTORE_CALLS, args.last))
            sys.stdout.flush()
            dump(method)
            first = max(1, steps - args.last + 1)
            for n in range(first + rnd.randrange(args.stride), steps + 1, args.stride):
                one("killed at step %d" % n, method,
                    {"CRIU_FAULT": str(n), "CRIU_FAULT_CALLS": RESTORE_CALLS, "CRIU_FAULT_KILL": "1"})
            for i in range(args.tries):
                delay = rnd.uniform(0.005, 0.12)
                one("killed after %.1f ms" % (delay * 1000), method, kill_after=delay)
            remove_locks(pair)
            pair.kill()
            pair = None
    finally:
        if pair:
            remove_locks(pair)
            pair.kill()
    return passed, failed


def print_log_tail(path, n=25):
    """What a failure's dump log says last, and what the keeper said (it logs there too)."""
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return
    keeper = [ln for ln in lines[:-n] if "keeper" in ln]
    for ln in keeper[-5:] + lines[-n:]:
        print("    " + ln)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--tries", type=int, default=10)
    ap.add_argument("--methods", default="nftables,iptables")
    ap.add_argument("--modes", default="R,plain")
    ap.add_argument("--no-restore", action="store_true")
    ap.add_argument("--netns", action="store_true", help="the server in a network namespace of its own")
    ap.add_argument("--pidns", action="store_true", help="the server in a pid namespace of its own")
    ap.add_argument("--pidns-init", action="store_true", help="the server the init of a pid namespace")
    ap.add_argument("--calls", default="read", help="the calls the walk kills criu at (CRIU_FAULT_CALLS)")
    ap.add_argument("--restore-kills", action="store_true", help="kill restores, not dumps")
    ap.add_argument("--pkill", action="store_true",
                    help="random kills as `pkill -9 criu` does: every process of criu's named *criu*")
    ap.add_argument("--last", type=int, default=30, help="--restore-kills: the last N steps are walked")
    args = ap.parse_args()
    if os.geteuid():
        raise SystemExit("run as root")
    treelib.become_subreaper()
    work = tempfile.mkdtemp(prefix="criu-netlock.")
    img = os.path.join(work, "img")
    passed = failed = known = 0
    pair = None
    if args.restore_kills:
        try:
            passed, failed = restore_kills(args, work, img, random.Random(int(os.environ.get("NETLOCK_SEED", "1"))))
        finally:
            reap()
            shutil.rmtree(work, ignore_errors=True)
        print("netlock_kill: %d passed, %d failed" % (passed, failed))
        return 1 if failed else 0
    try:
        pair = Pair(work, args.netns, args.pidns, args.pidns_init)

        def one(what, method, mode, env=None, kill_after=None):
            """A dump killed; the pair must still talk, and no lock be left."""
            nonlocal passed, failed, pair, known
            settle()
            t0 = time.time()
            rc = treelib.dump_killed(pair.pid, img, env=env, kill_after=kill_after, verbose=True,
                                     args=["--tcp-established", "--network-lock", method],
                                     leave_running=mode == "R", pkill=args.pkill)
            took = time.time() - t0
            what = "%s, %s, dump%s: %s" % (method, mode, " -R" if mode == "R" else "", what)
            if took > 5:
                # criu outside waited for a keeper that waited for a kill no one would send: the tree stalled
                failed += 1
                print("FAIL %s: criu took %.1f s to end (criu exit %s)" % (what, took, rc))
                print_log_tail(os.path.join(img, "dump.log"))
                remove_locks(pair)
                pair.kill()
                pair = Pair(work, args.netns, args.pidns, args.pidns_init)
                return rc
            if rc == 0 and mode != "R":
                # the dump was done before the kill: the tree is gone, as it should be
                if treelib.alive(pair.pid):
                    failed += 1
                    print("FAIL %s: the dump succeeded, the server lives on" % what)
                else:
                    passed += 1
                remove_locks(pair)
                pair.kill()
                pair = Pair(work, args.netns, args.pidns, args.pidns_init)
                return rc
            # the tree is let go: wait until the server is no longer stopped or traced
            end = time.time() + 5
            while state(pair.pid) in ("t", "T") and time.time() < end:
                time.sleep(0.01)
            whole = mode != "R" and os.path.exists(os.path.join(img, "inventory.img"))
            end = time.time() + 1
            while whole and state(pair.pid) not in (None, "Z") and time.time() < end:
                time.sleep(0.01)
            if whole and state(pair.pid) in (None, "Z"):
                # killed as it killed the tree: the dump is whole, its lock must stay for the restore
                if locks_left(pair):
                    passed += 1
                else:
                    failed += 1
                    print("FAIL %s (criu exit %s): killed as it ended the tree, the lock is gone" % (what, rc))
                    print_log_tail(os.path.join(img, "dump.log"))
                remove_locks(pair)
                pair.kill()
                pair = Pair(work, args.netns, args.pidns, args.pidns_init)
                return rc
            why = pair.echo()
            # criu's keeper removes them once criu is gone, a moment after it took the connection out of repair
            left = locks_left(pair, 2)
            end = time.time() + 2
            while strangers(pair) and time.time() < end:
                time.sleep(0.05)
            left_ps = ["%d (%s)" % (p, comm(p)) for p in strangers(pair)]
            if any("netlock-keeper" in x for x in left_ps) and why is None:
                why = "the keeper went to the init of the server's pid namespace: %s" % ", ".join(left_ps)
            elif left_ps:
                # other helpers of criu's that the agent had running when it died (not the lock's)
                known += 1
                print("KNOWN %s: left to the init of its pid namespace: %s" % (what, ", ".join(left_ps)))
            pair.seen |= set(strangers(pair))
            if why is None and not left:
                passed += 1
            else:
                failed += 1
                print("FAIL %s (criu exit %s): %s%s" % (what, rc, why or "the connection works",
                                                        "; left: " + ", ".join(left) if left else ""))
                sys.stdout.flush()
                if os.environ.get("NETLOCK_LOG"):
                    shutil.copy(os.path.join(img, "dump.log"), "%s.%d.log" % (os.environ["NETLOCK_LOG"], failed))
                remove_locks(pair)
                if why is not None:
                    pair.kill()
                    pair = Pair(work, args.netns, args.pidns, args.pidns_init)
            # left to the server itself, they would be dumped with it next time
            if pair.pidns_init and pair.seen:
                pair.kill()
                pair = Pair(work, args.netns, args.pidns, args.pidns_init)
            return rc

        methods = args.methods.split(",")
        modes = args.modes.split(",")
        steps = treelib.fault_steps(pair.pid, work, calls=args.calls, args=["--tcp-established"])
        if not steps:
            print("FAIL can't count the %s steps of a dump (CRIU_FAULT=count)" % args.calls)
            failed += 1
        print("netlock_kill: %d %s steps in a dump -R" % (steps, args.calls))
        sys.stdout.flush()
        rnd = random.Random(int(os.environ.get("NETLOCK_SEED", "1")))
        for method in methods:
            for mode in modes:
                # a plain dump has steps of its own after the last of dump -R's (the commit, the kills)
                for n in range(1 + rnd.randrange(args.stride), steps + 1 + (3 if mode == "plain" else 0),
                               args.stride):
                    one("killed at %s step %d" % (args.calls, n), method, mode,
                        {"CRIU_FAULT": str(n), "CRIU_FAULT_CALLS": args.calls, "CRIU_FAULT_KILL": "1"})
                for i in range(args.tries):
                    delay = rnd.uniform(*DELAYS)
                    one("killed after %.1f ms" % (delay * 1000), method, mode, kill_after=delay)
        # restored, its namespace is a new one, and our end stays in the old one
        # (and unshare --kill-child gives the init a parent-death signal, which restore -d refuses)
        if not args.no_restore and not args.netns and not args.pidns_init:
            for method in methods:
                shutil.rmtree(img, ignore_errors=True)
                os.mkdir(img)
                what = "%s: a whole dump and restore" % method
                r = criu("dump", "--tcp-established", "--network-lock", method, "-t", pair.pid, "-D", img,
                         "-o", "dump.log", "-v4")
                reap()
                if r.rc != 0:
                    failed += 1
                    print("FAIL %s: the dump failed: %s" % (what, r.brief()))
                    continue
                left = locks_left(pair)
                if not left:
                    failed += 1
                    print("FAIL %s: no lock after the dump" % what)
                r = criu("restore", "-d", "--tcp-established", "-D", img, "-o", "restore.log", "-v4")
                why = pair.echo() if r.rc == 0 else "the restore failed: %s" % r.brief()
                left = locks_left(pair)
                if why is None and not left:
                    passed += 1
                else:
                    failed += 1
                    print("FAIL %s: %s%s" % (what, why or "the connection works",
                                            "; left: " + ", ".join(left) if left else ""))
                    remove_locks(pair)
                    pair.kill()
                    pair = Pair(work, args.netns, args.pidns, args.pidns_init)
    finally:
        if pair:
            remove_locks(pair)
            pair.kill()
        reap()
        shutil.rmtree(work, ignore_errors=True)
    if known:
        print("netlock_kill: %d tries left other helpers of criu's to the init of the pid namespace" % known)
    print("netlock_kill: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
