#!/usr/bin/env python3
"""A dump killed among its kills kills the whole tree, never a part of it.

criu dumps a process in another pid namespace from inside it (its agent,
criu/ns/pid.c), which reports a whole dump to criu outside, then kills
the tree. Should the agent die after its report (a SIGKILL, a kill that
failed), criu outside must tell a tree killed whole (the dump stands,
exit 0, the inventory kept) from one of which any process runs on (the
dump fails and the images lose their inventory: a restore would make a
second copy of that process).

The tree: a root and its child, both sleeping, children of a pid
namespace's init that reaps nothing. The agent is killed at each of its
kill() calls in turn (CRIU_FAULT=N CRIU_FAULT_CALLS=kill
CRIU_FAULT_KILL=1), and once not at all.

Every process gets PTRACE_O_EXITKILL before the first kill
(criu/dump/dump.c, exit_kill_tree()): an agent (or criu) that dies after
that takes the whole tree with it, and the images are whole. A part of
the tree dead and the rest running is a failure either way.

--host: the same tree dumped by criu itself (no pid namespace), the child
holding a TCP connection of ours (--tcp-established): criu killed at each
kill() leaves the tree dead, the lock kept (its keeper kills what criu
had not reached), and a restore of the images brings back a connection
that echoes. Then, without the connection, criu killed at each of its
PTRACE_SETOPTIONS calls that mark the processes EXITKILL (the last two
ptrace(0x4200) steps, CRIU_FAULT_CALLS=ptrace): killed once the root is
marked and its child not, the root died and the child ran on (the
marks are one process at a time; a tree of more than one process has a
keeper for its kills now, net_keeper_for_kills()).

Run as root: test/others/agent_kills.py [--host]. The last line is
"agent_kills: N passed, M failed".
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CRIU = os.environ.get("CRIU", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../build/criu/criu"))

TREE = r"""
import os, socket, sys, time
os.closerange(3, 65536)
pid = os.fork()
if pid == 0:
    if len(sys.argv) > 2:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
        while True:
            # a call on a connection left in repair mode fails: retry, not die (that looks like a kill)
            try:
                b = s.recv(100)
                if not b:
                    os._exit(0)
                s.sendall(b)
            except OSError:
                time.sleep(0.05)
    while True:
        time.sleep(3600)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(pid))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    time.sleep(3600)
"""

INIT = r"""
import os, subprocess, sys, time
subprocess.Popen(sys.argv[1:], start_new_session=True)
while True:
    time.sleep(3600)
"""


def kids(pid):
    out = []
    for t in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/children" % (pid, t)) as f:
            out += [int(x) for x in f.read().split()]
    return out


def running(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def echo(conn):
    conn.settimeout(3)
    try:
        conn.sendall(b"ping")
        return conn.recv(100) == b"ping"
    except OSError:
        return False


class NoConn:
    """The tree without a connection (no keeper: its processes' PTRACE_O_EXITKILL alone)"""

    def sendall(self, b):
        pass

    def recv(self, n):
        return b"ping"

    def settimeout(self, t):
        pass

    def close(self):
        pass


def one_host(work, step, tcp=True, calls="kill", listing=None, in_hook=False):
    """--host: criu killed at kill() (@calls) number @step of a dump of the tree (@in_hook: by its post-dump
    hook instead).

    @listing: a list, to get the steps' names (CRIU_FAULT=list) instead."""
    import socket
    ready = os.path.join(work, "ready")
    if os.path.exists(ready):
        os.unlink(ready)
    lsk = socket.socket()
    lsk.bind(("127.0.0.1", 0))
    lsk.listen(1)
    tree = subprocess.Popen([sys.executable, "-c", TREE, ready] + ([str(lsk.getsockname()[1])] if tcp else []),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, close_fds=True)
    pgid = tree.pid
    conn = lsk.accept()[0] if tcp else NoConn()
    lsk.close()
    d = os.path.join(work, "d")
    tables = nft_tables()
    try:
        for _ in range(100):
            if os.path.exists(ready):
                break
            time.sleep(0.05)
        root = tree.pid
        child = kids(root)[0]
        if not echo(conn):
            print("FAIL kill step %s: the tree does not echo before the dump" % step)
            return False
        shutil.rmtree(d, ignore_errors=True)
        os.mkdir(d)
        env = dict(os.environ)
        if listing is not None:
            env.update(CRIU_FAULT="list", CRIU_FAULT_CALLS=calls)
        elif step:
            env.update(CRIU_FAULT=str(step), CRIU_FAULT_CALLS=calls, CRIU_FAULT_KILL="1")
        hook = []
        if in_hook:
            script = os.path.join(work, "hook.sh")
            with open(script, "w") as f:
                # criu is the nearest "criu" above us (sh -c may or may not exec us)
                f.write('#!/bin/sh\n[ "$CRTOOLS_SCRIPT_ACTION" = post-dump ] || exit 0\np=$PPID\n'
                        'while [ "$(cat /proc/$p/comm)" != criu ]; do p=$(cut -d" " -f4 /proc/$p/stat); done\n'
                        'kill -9 $p\nexit 0\n')
            os.chmod(script, 0o755)
            hook = ["--action-script", script]
        r = subprocess.run([treelib_criu(), "dump", "-t", str(root), "-D", d, "-o", "dump.log", "-v4",
                            "--tcp-established"] + hook, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
        if listing is not None:
            listing += r.stderr.splitlines()
            return r.returncode == 0
        try:
            tree.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        time.sleep(0.3)
        alive = [p for p in (root, child) if running(p)]
        inv = os.path.exists(os.path.join(d, "inventory.img"))
        what = "--host%s %s: criu exit %d, running %s, inventory %s" % (
            "" if tcp else " (no connection)", "post-dump hook" if in_hook else "%s step %s" % (calls, step or "none"),
            r.returncode, alive, inv)
        # killed before its commit: the tree runs on whole, its connection back at once, no restorable images
        if alive == [root, child] and r.returncode != 0:
            if inv:
                print("FAIL %s: the images of a tree that runs on can be restored" % what, flush=True)
                return False
            ok = echo(conn)
            print("%s %s; the tree runs on, its connection %s" % ("PASS" if ok else "FAIL", what,
                                                                 "echoes" if ok else "does not echo"), flush=True)
            return ok
        if alive or not inv:
            print("FAIL " + what, flush=True)
            return False
        rr = subprocess.run([treelib_criu(), "restore", "-d", "-D", d, "-o", "restore.log", "-v4",
                             "--tcp-established"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if rr.returncode != 0:
            print("FAIL %s; restore failed: %s" % (what, rr.stderr.strip()[-200:]), flush=True)
            return False
        if not echo(conn):
            print("FAIL %s; the restored connection does not echo" % what, flush=True)
            return False
        print("PASS %s; restored, its connection echoes" % what, flush=True)
        return True
    finally:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        conn.close()
        # restore -d: the restored root is not our child; its zombie is init's
        time.sleep(0.1)
        # a lock a failure left
        for t in nft_tables() - tables:
            subprocess.run(["nft", "delete", "table", "inet", t])


def nft_tables():
    r = subprocess.run(["nft", "list", "tables"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return set(line.split()[-1] for line in r.stdout.splitlines() if "CRIU-" in line)


def treelib_criu():
    return CRIU


def one(work, step):
    port = os.path.join(work, "ready")
    if os.path.exists(port):
        os.unlink(port)
    u = subprocess.Popen(["unshare", "-p", "-f", "--kill-child", sys.executable, "-c", INIT, sys.executable, "-c",
                          TREE, port], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    try:
        for _ in range(100):
            if os.path.exists(port):
                break
            time.sleep(0.05)
        init = kids(u.pid)[0]
        root = kids(init)[0]
        child = kids(root)[0]
        d = os.path.join(work, "d")
        shutil.rmtree(d, ignore_errors=True)
        os.mkdir(d)
        env = dict(os.environ)
        if step:
            env.update(CRIU_FAULT=str(step), CRIU_FAULT_CALLS="kill", CRIU_FAULT_KILL="1")
        r = subprocess.run([CRIU, "dump", "-t", str(root), "-D", d, "-o", "dump.log", "-v4"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        alive = [p for p in (root, child) if running(p)]
        inv = os.path.exists(os.path.join(d, "inventory.img"))
        what = "kill step %s: criu exit %d, running %s, inventory %s" % (step or "none", r.returncode, alive, inv)
        # a part of the tree dead and the rest running is a harm either way
        ok = (r.returncode == 0 and not alive and inv) or (r.returncode != 0 and alive == [root, child] and not inv)
        print(("PASS " if ok else "FAIL ") + what, flush=True)
        return ok
    finally:
        os.killpg(u.pid, signal.SIGKILL)
        u.wait()


def main():
    host = "--host" in sys.argv[1:]
    work = tempfile.mkdtemp(prefix="agent_kills.")
    passed = failed = 0
    try:
        # kill 1: the root, 2: its child; then criu's own helpers, if any
        for step in (1, 2, 3, None):
            if (one_host if host else one)(work, step):
                passed += 1
            else:
                failed += 1
        for step in (2,) if host else ():
            if one_host(work, step, tcp=False):
                passed += 1
            else:
                failed += 1
        # criu killed as it marks each process PTRACE_O_EXITKILL (exit_kill_tree(), no connection, so
        # no keeper of the lock's): the root marked, its child not yet
        steps = []
        if host and one_host(work, None, tcp=False, calls="ptrace", listing=steps):
            marks = [int(l.split("step ")[1].split(":")[0]) for l in steps if "ptrace(0x4200," in l][-2:]
            for step in marks:
                if one_host(work, step, tcp=False, calls="ptrace"):
                    passed += 1
                else:
                    failed += 1
        elif host:
            print("FAIL the steps of a dump could not be listed")
            failed += 1
        # criu killed by its own post-dump hook: the images are written, the kills not begun
        if host:
            if one_host(work, None, in_hook=True):
                passed += 1
            else:
                failed += 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("agent_kills: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
