#!/usr/bin/env python3
"""A killed dump leaves the queues, termios and lock of a pty as they were.

Reading what is queued in a pty takes it out, and a canonical one is read
with ICANON off for a moment (criu/files/tty-queue.c): a process of its
own does it and puts everything back, so that criu SIGKILLed meanwhile
(alone, or with its process group) leaves the pty as it was. This runs
the zdtm tests pty_canon (lines queued in canonical mode, output queued)
and pty_termios (a locked canonical pty with nothing queued, raw and
packet-mode ptys) and sends each `criu dump -R` SIGKILL after a random
delay, --tries times, then one whole `dump -R`; then the test is stopped
and must print PASS (it checks its ptys: the bytes queued, the termios,
the lock). Run as root: test/others/pty_kill.py [--tries N] [--seed S].
The last line is "pty_kill: N passed, M failed".
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

import treelib
from treelib import reap

TESTS = ("pty_canon", "pty_termios")


def wait_gone(pid, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        reap()
        if treelib.proc_state(pid) in (None, "Z"):
            reap()
            return True
        time.sleep(0.01)
    return False


def one_test(name, work, tries, rnd):
    """The verdict on zdtm @name after @tries killed dumps and a whole one: None if it passed."""
    binary = os.path.join(treelib.BUILD, "test", "zdtm", "static", name)
    pidfile = os.path.join(work, name + ".pid")
    outfile = os.path.join(work, name + ".out")
    img = os.path.join(work, "img")
    launcher = subprocess.run([binary, "--pidfile=" + pidfile, "--outfile=" + outfile], cwd=work,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True, timeout=10)
    if launcher.returncode:
        return "did not start (%d)" % launcher.returncode
    pid = int(open(pidfile).read().strip())
    try:
        kills = []
        for _ in range(tries):
            delay = rnd.uniform(0.001, 0.012)	# a dump -R of either takes about 6 ms, the queues 3-5 ms in
            # criu alone (runc, an OOM kill) or with its process group (a shell's job control)
            group = rnd.random() < 0.5
            kills.append("%.1f ms%s" % (delay * 1000, " (group)" if group else ""))
            dump(pid, img, delay, group)
            if treelib.proc_state(pid) in (None, "Z", "t", "T"):
                return "the test is %s after a dump killed at %s" % (treelib.proc_state(pid), kills[-1])
        rc = dump(pid, img, None, False)
        if rc != 0:
            return "a whole dump -R failed (%d)" % rc
        os.kill(pid, signal.SIGTERM)
        if not wait_gone(pid):
            return "did not exit after SIGTERM (kills at %s)" % ", ".join(kills)
        out = open(outfile).read()
        if "PASS" not in out.splitlines():
            return "%s (kills at %s)" % (" / ".join(l for l in out.splitlines() if l.startswith("FAIL")) or out,
                                          ", ".join(kills))
        return None
    finally:
        if treelib.proc_state(pid) not in (None, "Z"):
            os.kill(pid, signal.SIGKILL)
        wait_gone(pid)


def dump(pid, img, delay, group):
    """`criu dump -R` of @pid, SIGKILLed (alone, or its process group) after @delay s if not None."""
    shutil.rmtree(img, ignore_errors=True)
    os.mkdir(img)
    p = subprocess.Popen([treelib.CRIU, "dump", "-R", "-t", str(pid), "-D", img, "-o", "dump.log"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    if delay is not None:
        time.sleep(delay)
        try:
            if group:
                os.killpg(p.pid, signal.SIGKILL)
            else:
                os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        rc = p.wait()
    # what a killed criu leaves (its reader of the pty's queues) finishes: it comes to us, the subreaper
    time.sleep(0.05)
    reap()
    return rc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tries", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if os.geteuid():
        raise SystemExit("run as root")
    treelib.become_subreaper()
    rnd = random.Random(args.seed)
    passed = failed = 0
    for name in TESTS:
        work = tempfile.mkdtemp(prefix="criu-ptykill.")
        try:
            verdict = one_test(name, work, args.tries, rnd)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if verdict is None:
            passed += 1
            print("PASS %s" % name)
        else:
            failed += 1
            print("FAIL %s: %s" % (name, verdict))
    print("pty_kill: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
