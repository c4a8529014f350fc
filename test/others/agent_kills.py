#!/usr/bin/env python3
"""A dump agent that dies among its kills makes criu fail unless the whole tree dies.

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

Run as root: test/others/agent_kills.py. The last line is
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
import os, sys, time
os.closerange(3, 65536)
pid = os.fork()
if pid == 0:
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
        ok = (r.returncode == 0 and not alive and inv) or (r.returncode != 0 and alive and not inv)
        if alive == [root, child] and r.returncode == 0:
            ok = False
        print(("PASS " if ok else "FAIL ") + what, flush=True)
        return ok
    finally:
        os.killpg(u.pid, signal.SIGKILL)
        u.wait()


def main():
    work = tempfile.mkdtemp(prefix="agent_kills.")
    passed = failed = 0
    try:
        # kill 1: the root, 2: its child; then criu's own helpers, if any
        for step in (1, 2, 3, None):
            if one(work, step):
                passed += 1
            else:
                failed += 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("agent_kills: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
