#!/usr/bin/env python3
"""A killed dump leaves the options of the tree's sockets as they were.

To copy a UDP or unix socket's queue without taking it away, criu peeks
it at an offset of its own (SO_PEEK_OFF) with SO_PASSCRED or IP_PKTINFO
on for the while, and puts the task's values back after. Should criu die
meanwhile, the tree runs on: a peek offset of ours left on its socket
makes its MSG_PEEK skip messages or block for ever. The dump's keeper
(criu/net/net.c) puts them back then.

A holder (a python process of its own, fds above 2 closed) has a UDP
socket with two datagrams queued and a unix datagram socketpair with two
messages queued. `criu dump -R` of it is killed at each recvmsg and
setsockopt step (CRIU_FAULT=N CRIU_FAULT_CALLS=recvmsg,setsockopt
CRIU_FAULT_KILL=1, with --stride; --calls for others) and
after random delays; after each, the holder must peek its first message
on each socket, with its peek offset, SO_PASSCRED and IP_PKTINFO as they
were. Run as root: test/others/sockopt_kill.py [--stride N] [--tries N].
The last line is "sockopt_kill: N passed, M failed".
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

import treelib

HOLDER = r'''
import os, socket, sys, time
SO_PEEK_OFF = 42
out, go = sys.argv[1], sys.argv[2]
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind(("127.0.0.1", 0))
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.sendto(b"udp-one", rx.getsockname())
tx.sendto(b"udp-two", rx.getsockname())
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
a.send(b"unix-one")
a.send(b"unix-two")
time.sleep(0.05)

def check():
    bad = []
    for name, s, first in (("udp", rx, b"udp-one"), ("unix", b, b"unix-one")):
        off = s.getsockopt(socket.SOL_SOCKET, SO_PEEK_OFF)
        if off != -1:
            bad.append("%s: SO_PEEK_OFF %d" % (name, off))
        try:
            got = s.recv(100, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            got = b"(nothing)"
        if got != first:
            bad.append("%s: peeked %r, not %r" % (name, got, first))
    if b.getsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED):
        bad.append("unix: SO_PASSCRED on")
    if rx.getsockopt(socket.SOL_IP, 8):      # IP_PKTINFO
        bad.append("udp: IP_PKTINFO on")
    return "; ".join(bad) or "ok"

with open(out + ".tmp", "w") as f:
    f.write("ready")
os.rename(out + ".tmp", out)
while True:
    time.sleep(0.01)
    if os.path.exists(go):
        os.unlink(go)
        with open(out + ".tmp", "w") as f:
            f.write(check())
        os.rename(out + ".tmp", out)
'''


def ask(pid, out, go, timeout=5.0):
    """The holder's verdict, once it runs again."""
    end = time.time() + timeout
    while time.time() < end and treelib.proc_state(pid) in ("t", "T"):
        time.sleep(0.01)
    if not treelib.alive(pid):
        return "the holder is gone"
    try:
        os.unlink(out)
    except FileNotFoundError:
        pass
    open(go, "w").close()
    while time.time() < end:
        try:
            with open(out) as f:
                return f.read().strip()
        except FileNotFoundError:
            time.sleep(0.01)
    return "no answer (state %s)" % treelib.proc_state(pid)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--tries", type=int, default=10)
    ap.add_argument("--calls", default="recvmsg,setsockopt", help="the calls whose steps are walked")
    args = ap.parse_args()
    if os.geteuid():
        raise SystemExit("run as root")
    treelib.become_subreaper()
    work = tempfile.mkdtemp(prefix="criu-sokill.")
    out, go, img = os.path.join(work, "out"), os.path.join(work, "go"), os.path.join(work, "img")
    passed = failed = 0
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, out, go], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                              close_fds=True)
    try:
        end = time.time() + 10
        while not os.path.exists(out) and time.time() < end:
            time.sleep(0.02)
        if not os.path.exists(out):
            raise SystemExit("the holder did not start")
        os.unlink(out)

        def one(what, env=None, kill_after=None):
            nonlocal passed, failed
            rc = treelib.dump_killed(holder.pid, img, env, kill_after)
            verdict = ask(holder.pid, out, go)
            if verdict == "ok":
                passed += 1
            else:
                failed += 1
                print("FAIL %s (criu exit %s): %s" % (what, rc, verdict))
                if os.environ.get("SOKILL_LOG"):
                    shutil.copy(os.path.join(img, "dump.log"), "%s.%d" % (os.environ["SOKILL_LOG"], failed))
            return rc

        steps = treelib.fault_steps(holder.pid, img, args.calls)
        print("sockopt_kill: %d %s steps in a dump" % (steps, args.calls))
        for n in range(1, steps + 1, args.stride):
            one("killed at %s step %d" % (args.calls, n),
                {"CRIU_FAULT": str(n), "CRIU_FAULT_CALLS": args.calls, "CRIU_FAULT_KILL": "1"})
        rnd = random.Random(int(os.environ.get("SOKILL_SEED", "1")))
        for i in range(args.tries):
            delay = rnd.uniform(0, 0.03)
            one("killed after %.1f ms" % (delay * 1000), kill_after=delay)
        if one("a whole dump -R") != 0:
            failed += 1
            print("FAIL the whole dump -R did not succeed")
    finally:
        holder.kill()
        holder.wait()
        treelib.reap()
        shutil.rmtree(work, ignore_errors=True)
    print("sockopt_kill: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
