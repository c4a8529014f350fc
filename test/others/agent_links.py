#!/usr/bin/env python3
"""A container whose dump criu outside never finishes runs on with its network as it was.

A pid namespace's init with a network namespace of its own (a container
of one process) is dumped by the agent inside (criu/ns/pid.c): before its
report it sets the namespace's links down (net_ns_dump_quiesce(): no
peer must meet a stack without its connection while the namespace goes),
and criu outside's kill of the init is the commit. Should criu outside
die before that kill, the agent lets the tree run on
(agent_wait_init_kill()): its links must be up again, and all that their
going down took with it back: the IPv4 routes through them (a default
route via a gateway, one more via it), their IPv6 addresses; and a TCP
connection of ours to the init (--tcp-established) must echo.

The namespace: a veth (its host end here) with 198.18.77.2/24,
2001:db8:77::2/64, a default route via 198.18.77.1 and a route to
198.51.100.0/24 via it (no packet leaves the machine: we only look). criu
outside is killed at each of the last --last syscall() steps of a dump
(CRIU_FAULT=N CRIU_FAULT_CALLS=syscall CRIU_FAULT_KILL=1: the agent's
and criu outside's around the report and the init's kill; a step may be
either's). After each: an init that runs has its links, addresses and
routes as before, the connection echoes, and the images no inventory;
a dead init's images have it (the dump was whole).

Before the fix the links stayed down (the agent had freed what it had
dumped of the namespace before it was to set them up again), and setting
them up alone would not bring the routes back.

Run as root: test/others/agent_links.py [--last N]. The last line is
"agent_links: N passed, M failed".
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

CRIU = os.environ.get("CRIU", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../build/criu/criu"))
HOST_IF = "krvlk0"

SERVER = r"""
import os, socket, sys, time
os.closerange(3, 65536)
os.setsid()
go, ready = sys.argv[1], sys.argv[2]
while not os.path.exists(go):
    time.sleep(0.02)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("198.18.77.2", 7777))
ls.listen(4)
open(ready, "w").close()
while True:
    c, _ = ls.accept()
    while True:
        try:
            d = c.recv(100)
        except OSError:
            time.sleep(0.05)    # EPERM in repair mode: the dump's lock
            continue
        if not d:
            break
        while True:
            try:
                c.send(d)
                break
            except OSError:
                time.sleep(0.05)
    c.close()
"""


def sh(cmd, pid=None):
    if pid:
        cmd = ["nsenter", "-t", str(pid), "-n"] + cmd
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout


def net_state(pid):
    """What the namespace has that a link going down takes (fe80 addresses come back by themselves)."""
    links = sh(["ip", "-br", "link"], pid).replace("@", " ").split("\n")
    links = sorted(" ".join(l.split()[:1] + l.split()[2:3]) for l in links if l.strip())
    routes = sorted(l for l in sh(["ip", "route"], pid).splitlines() + sh(["ip", "-6", "route"], pid).splitlines()
                    if "fe80" not in l)
    addrs = sorted(l for l in sh(["ip", "-o", "addr"], pid).splitlines() if "fe80" not in l)
    addrs = [" ".join(a.split()[1:4]) for a in addrs]
    return links + routes + addrs


class Tree:
    def __init__(self, work):
        self.go = os.path.join(work, "go")
        ready = os.path.join(work, "ready")
        for f in (self.go, ready):
            if os.path.exists(f):
                os.unlink(f)
        self.p = subprocess.Popen(["unshare", "-n", "-p", "-f", "--kill-child", sys.executable, "-c", SERVER,
                                   self.go, ready], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, close_fds=True)
        self.pid = None
        for _ in range(100):
            try:
                kids = open("/proc/%d/task/%d/children" % (self.p.pid, self.p.pid)).read().split()
            except OSError:
                kids = []
            if kids:
                self.pid = int(kids[0])
                break
            time.sleep(0.02)
        if not self.pid:
            raise SystemExit("the server did not start")
        sh(["ip", "link", "del", HOST_IF])
        for c in (["ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", "krvlk1"],
                  ["ip", "link", "set", "krvlk1", "netns", "/proc/%d/ns/net" % self.pid],
                  ["ip", "addr", "add", "198.18.77.1/24", "dev", HOST_IF],
                  ["ip", "link", "set", HOST_IF, "up"]):
            subprocess.check_call(c)
        for c in (["ip", "link", "set", "lo", "up"],
                  ["ip", "addr", "add", "198.18.77.2/24", "dev", "krvlk1"],
                  ["ip", "-6", "addr", "add", "2001:db8:77::2/64", "dev", "krvlk1", "nodad"],
                  ["ip", "link", "set", "krvlk1", "up"],
                  ["ip", "route", "add", "default", "via", "198.18.77.1"],
                  ["ip", "route", "add", "198.51.100.0/24", "via", "198.18.77.1"]):
            subprocess.check_call(["nsenter", "-t", str(self.pid), "-n"] + c)
        open(self.go, "w").close()
        for _ in range(250):
            if os.path.exists(ready):
                break
            time.sleep(0.02)
        self.sk = socket.create_connection(("198.18.77.2", 7777), timeout=5)
        if not self.echo(b"first"):
            raise SystemExit("the server does not echo")
        self.before = net_state(self.pid)

    def echo(self, what, timeout=3.0):
        try:
            self.sk.settimeout(timeout)
            self.sk.sendall(what)
            got = b""
            while len(got) < len(what):
                d = self.sk.recv(100)
                if not d:
                    return False
                got += d
            return got == what
        except OSError:
            return False

    def alive(self):
        try:
            os.kill(self.pid, 0)
            return open("/proc/%d/stat" % self.pid).read().split(")")[-1].split()[0] != "Z"
        except OSError:
            return False

    def end(self):
        if self.sk:
            self.sk.close()
        for p in (self.pid, self.p.pid):
            try:
                os.kill(p, 9)
            except OSError:
                pass
        self.p.wait()
        sh(["ip", "link", "del", HOST_IF])


def dump(tree, img, env=None):
    if os.path.exists(img):
        shutil.rmtree(img)
    os.mkdir(img)
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run([CRIU, "dump", "-t", str(tree.pid), "-D", img, "--tcp-established", "-o", "dump.log",
                        "-v4"], env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return r.returncode, r.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--last", type=int, default=12)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="agent_links.")
    img = os.path.join(work, "img")
    passed = failed = 0

    tree = Tree(work)
    rc, err = dump(tree, img, {"CRIU_FAULT": "count", "CRIU_FAULT_CALLS": "syscall"})
    tree.end()
    nums = [int(w) for w in err.split() if w.isdigit()]
    if rc or not nums:
        print("a whole dump failed (rc %d): %s" % (rc, err.strip()[-400:]))
        print("agent_links: 0 passed, 1 failed")
        return 1
    last = max(nums)
    for step in range(max(1, last - args.last + 1), last + 1):
        tree = Tree(work)
        rc, err = dump(tree, img, {"CRIU_FAULT": str(step), "CRIU_FAULT_CALLS": "syscall", "CRIU_FAULT_KILL": "1"})
        time.sleep(0.3)
        why = []
        inventory = os.path.exists(os.path.join(img, "inventory.img"))
        if tree.alive():
            for _ in range(20):   # the agent puts it back once criu outside is gone
                after = net_state(tree.pid)
                if after == tree.before:
                    break
                time.sleep(0.1)
            if after != tree.before:
                why.append("the namespace's network is not as it was: %s, was %s" %
                           (sorted(set(after) - set(tree.before)) + ["-" + x for x in set(tree.before) - set(after)],
                            tree.before))
            if not tree.echo(b"after"):
                why.append("the connection does not echo")
            if inventory:
                why.append("the images have an inventory of a tree that runs on")
            what = "runs on"
        else:
            if not inventory:
                why.append("the init is dead and the images have no inventory")
            what = "dead"
        tree.end()
        if why:
            failed += 1
            print("FAIL step %d (rc %d, init %s): %s" % (step, rc, what, "; ".join(why)))
            for l in open(os.path.join(img, "dump.log")).read().splitlines()[-6:]:
                print("   ", l)
        else:
            passed += 1
            print("ok   step %d (rc %d, init %s)" % (step, rc, what))
    shutil.rmtree(work)
    print("agent_links: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
