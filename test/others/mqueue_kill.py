#!/usr/bin/env python3
"""A failed or killed dump leaves POSIX message queues as they were.

Reading a queue's messages takes them out (criu/ipc/mqueue.c): a process
of its own puts them back before it hands them over. This checks it on
mqueue_holder (next to this file: two queues of an IPC namespace of its
own, one held by an fd, one by its name alone, messages of three
priorities), which on SIGUSR1 checks every message's place, bytes and
priority and puts them back:

  walk    `criu dump -R` with a fault at each read step (CRIU_FAULT=N
          CRIU_FAULT_CALLS=read: the pipe the messages come through among
          them), failed and then SIGKILLed there (CRIU_FAULT_KILL=1);
  random  `criu dump -R` sent SIGKILL after a random delay;
  dump    a whole `criu dump -R`.

After each the holder must be alive, not stopped, and find its queues as
they were. Run as root: test/others/mqueue_kill.py [--stride N] [--tries N].
The last line is "mqueue_kill: N passed, M failed".
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

NR_PAUSE = 34       # x86_64
HOLDER = os.path.join(treelib.BUILD, "test", "others", "mqueue_holder")


def wait_file(path, want, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with open(path) as f:
                text = f.read().strip()
            if text and (want is None or text == want):
                return text
        except FileNotFoundError:
            pass
        time.sleep(0.01)
    return None


state = treelib.proc_state


def in_pause(pid):
    try:
        with open("/proc/%d/syscall" % pid) as f:
            return f.read().split()[0] == str(NR_PAUSE)
    except (OSError, IndexError):
        return False


def ask(pid, out):
    """The holder's verdict on its queues, once it sleeps in pause() again.

    Not before: a caught signal that comes while a task leaves a stop, after
    the kernel has decided to restart its pause() and before it is back in
    user mode, runs its handler and returns into a pause() entered again
    (no EINTR). That is the kernel's own: SIGSTOP, SIGCONT and SIGUSR1 at
    once to a task in pause() lost the wakeup in 91 of 3,000 tries with no
    criu anywhere (Documentation/compel.md, "Lost wakeups"), and a seize,
    PTRACE_INTERRUPT and a tracer that exits in 1 of 3,000.
    """
    end = time.time() + 5
    while time.time() < end and not (state(pid) == "S" and in_pause(pid)):
        if state(pid) in (None, "Z"):
            return "the holder is gone"
        time.sleep(0.01)
    if state(pid) in (None, "Z"):
        return "the holder is gone"
    try:
        os.unlink(out)
    except FileNotFoundError:
        pass
    os.kill(pid, signal.SIGUSR1)
    verdict = wait_file(out, None)
    if verdict:
        return verdict
    why = "no answer (state %s, %s)" % (state(pid), looks(pid))
    # A second signal tells a lost wakeup (it answers now) from a
    # blocked or ignored signal (still no answer).
    os.kill(pid, signal.SIGUSR1)
    again = wait_file(out, None, timeout=2)
    return why + (": answered a second SIGUSR1 (%s)" % again if again else ": not even to a second SIGUSR1")


def looks(pid):
    """What /proc says of a holder that does not answer."""
    parts = []
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k = line.split(":")[0]
                if k in ("SigQ", "SigPnd", "ShdPnd", "SigBlk", "SigCgt", "TracerPid"):
                    parts.append(line.strip().replace("\t", " "))
        for name in ("wchan", "syscall"):
            with open("/proc/%d/%s" % (pid, name)) as f:
                parts.append("%s %s" % (name, f.read().strip()))
    except OSError as e:
        parts.append(str(e))
    return ", ".join(parts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--tries", type=int, default=10)
    ap.add_argument("--step", type=int, default=0, help="walk only this read step")
    ap.add_argument("--repeat", type=int, default=1, help="times to take each walked step")
    args = ap.parse_args()
    if os.geteuid():
        raise SystemExit("run as root")
    treelib.become_subreaper()
    work = tempfile.mkdtemp(prefix="criu-mqkill.")
    out = os.path.join(work, "holder.out")
    img = os.path.join(work, "img")
    passed = failed = 0
    holder = subprocess.Popen([HOLDER, out], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    try:
        if wait_file(out, "ready") is None:
            raise SystemExit("mqueue_holder did not start")

        def one(what, env=None, kill_after=None):
            nonlocal passed, failed
            rc = treelib.dump_killed(holder.pid, img, env, kill_after)
            verdict = ask(holder.pid, out)
            if verdict == "ok":
                passed += 1
            else:
                failed += 1
                print("FAIL %s (criu exit %s): %s" % (what, rc, verdict))
            return rc

        steps = treelib.fault_steps(holder.pid, img)
        print("mqueue_kill: %d read steps in a dump" % steps)
        walk = [args.step] if args.step else range(1, steps + 1, args.stride)
        for n in [n for n in walk for _ in range(args.repeat)]:
            for kill in ("0", "1"):
                one("read step %d%s" % (n, " killed" if kill == "1" else ""),
                    {"CRIU_FAULT": str(n), "CRIU_FAULT_CALLS": "read", "CRIU_FAULT_KILL": kill})
        rnd = random.Random(int(os.environ.get("MQKILL_SEED", "1")))
        for i in range(args.tries):
            delay = rnd.uniform(0, 0.04)
            one("killed after %.1f ms" % (delay * 1000), kill_after=delay)
        if one("a whole dump") != 0:
            failed += 1
            print("FAIL the whole dump did not succeed")
    finally:
        holder.kill()
        holder.wait()
        reap()
        shutil.rmtree(work, ignore_errors=True)
    print("mqueue_kill: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
