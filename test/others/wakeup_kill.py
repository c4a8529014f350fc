#!/usr/bin/env python3
"""A signal sent to a task while a killed criu still held it wakes it as
it would have without criu.

While compel works in a task every signal is blocked (Documentation/
compel.md); when criu dies the task heals by rt_sigreturn of its heal
frame, which re-enters the syscall it was stopped in. A signal sent
meanwhile is delivered then: it must make pause() and a nanosleep()
return EINTR (as the kernel does for a caught signal), not run its
handler and sleep again (a lost wakeup), while a read() whose signal is
caught with SA_RESTART goes on reading.

wakeup_holder (next to this file) has a thread for each. Each try starts
`criu dump -R -v4` of it, sends SIGUSR1 to the main thread, SIGUSR2 to
the sleeper and SIGHUP to the reader after a random delay (while criu
holds them, or not), SIGKILLs criu a random moment later (or criu kills
itself at a read step, CRIU_FAULT_KILL), waits until the holder is no
longer traced nor stopped, writes a byte into the reader's FIFO and
wants an "ok" from all three within 3 s. A try that failed where criu
was killed in the window where only it could settle the main thread's
frame (its log: before "heals through the blob" or after "heals through
its own restorer") is counted apart as KNOWN; more than 1 in 20 fails.
Run as root: test/others/wakeup_kill.py [--tries N] [--stride N];
WAKEUP_SIG_MS and WAKEUP_KILL_MS bound the delays (15 ms each),
WAKEUP_LOG=PREFIX keeps the log of each failure. The last line is
"wakeup_kill: N passed, M failed".
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

import treelib
from treelib import reap

HOLDER = os.path.join(treelib.BUILD, "test", "others", "wakeup_holder")
NAMES = ("main", "sleep", "read")
libc = ctypes.CDLL(None, use_errno=True)


def read_file(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


def wait_file(path, timeout):
    end = time.time() + timeout
    while time.time() < end:
        text = read_file(path)
        if text:
            return text
        time.sleep(0.005)
    return None


def status(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return line.split()[1]
    except FileNotFoundError:
        return None
    return None


state = treelib.proc_state


def tgkill(pid, tid, sig):
    if libc.syscall(234, pid, tid, sig):
        raise OSError(ctypes.get_errno(), "tgkill %d %d" % (tid, sig))


def signal_all(pid, tids, out):
    for n in NAMES:
        try:
            os.unlink(out + "." + n)
        except FileNotFoundError:
            pass
    tgkill(pid, tids[0], signal.SIGUSR1)
    tgkill(pid, tids[1], signal.SIGUSR2)
    tgkill(pid, tids[2], signal.SIGHUP)


def ask(pid, tids, out, fifo_w):
    """Each thread's verdict on the signals sent, or why there is none."""
    end = time.time() + 5
    while time.time() < end and (status(pid, "TracerPid") not in ("0", None) or
                                 any(state(t) in ("t", "T") for t in tids)):
        time.sleep(0.005)
    if state(pid) in (None, "Z"):
        return "the holder is gone"
    time.sleep(0.02)        # the handler first, then the byte: a restarted read gets it
    os.write(fifo_w, b"x")
    bad = []
    for n, t in zip(NAMES, tids):
        v = wait_file(out + "." + n, 3.0)
        if v != "ok":
            why = v or "no answer (state %s, wchan %s)" % (
                state(t), read_file("/proc/%d/task/%d/wchan" % (pid, t)))
            bad.append("%s: %s" % (n, why))
    return "; ".join(bad) or "ok"


def tool_window(log, pid):
    """True if criu died while the main thread's frame returned into no blob
    (before "heals through the blob", after "heals through its own restorer")."""
    try:
        with open(log) as f:
            text = f.read()
    except FileNotFoundError:
        return True
    blob = text.rfind("task %d: heals through the blob" % pid)
    own = text.rfind("task %d: heals through its own restorer" % pid)
    return blob < 0 or own > blob


def dump_restore(pid, tids, out, fifo_w, img, sig_after):
    """A whole dump with the signals sent while criu holds the holder, then
    a restore: the signals that came during the dump must come back."""
    shutil.rmtree(img, ignore_errors=True)
    os.mkdir(img)
    p = subprocess.Popen([treelib.CRIU, "dump", "-t", str(pid), "-D", img, "-o", "dump.log", "-v4"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.time() + 5
    while status(pid, "TracerPid") in ("0",) and time.time() < end:
        pass
    time.sleep(sig_after)
    signal_all(pid, tids, out)
    rc = p.wait(timeout=60)
    reap()
    if rc:
        return "the dump failed (%d)" % rc
    end = time.time() + 5
    while state(pid) is not None and time.time() < end:
        reap()
        time.sleep(0.005)
    r = subprocess.run([treelib.CRIU, "restore", "-d", "-D", img, "-o", "restore.log"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       start_new_session=True, timeout=60)
    if r.returncode:
        return "the restore failed: %s" % r.stderr.decode(errors="replace").strip()[-300:]
    return ask(pid, tids, out, fifo_w)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tries", type=int, default=200)
    ap.add_argument("--stride", type=int, default=2)
    ap.add_argument("--restores", type=int, default=10)
    args = ap.parse_args()
    if os.geteuid():
        raise SystemExit("run as root")
    treelib.become_subreaper()
    work = tempfile.mkdtemp(prefix="criu-wakeup.")
    out = os.path.join(work, "holder.out")
    fifo = os.path.join(work, "fifo")
    img = os.path.join(work, "img")
    os.mkfifo(fifo)
    passed = failed = known = 0
    holder = subprocess.Popen([HOLDER, out, fifo], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    fifo_w = os.open(fifo, os.O_WRONLY)
    try:
        ready = wait_file(out, 5.0)
        if not ready or not ready.startswith("ready "):
            raise SystemExit("wakeup_holder did not start")
        tids = [int(x) for x in ready.split()[1:]]

        def one(what, env=None, kill_after=None, signal_after=0.0):
            nonlocal passed, failed, known
            # the signals while criu holds the task (blocked there), or after
            rc = treelib.dump_killed(holder.pid, img, env, kill_after, verbose=True,
                                     before_kill=lambda: (time.sleep(signal_after),
                                                          signal_all(holder.pid, tids, out)))
            verdict = ask(holder.pid, tids, out, fifo_w)
            if verdict == "ok":
                passed += 1
            elif rc == -signal.SIGKILL and tool_window(os.path.join(img, "dump.log"), holder.pid):
                known += 1
                print("KNOWN %s: killed while only criu could settle the main thread's frame: %s" %
                      (what, verdict))
            else:
                failed += 1
                print("FAIL %s (criu exit %s): %s" % (what, rc, verdict))
                if os.environ.get("WAKEUP_LOG"):
                    shutil.copy(os.path.join(img, "dump.log"), "%s.%d" % (os.environ["WAKEUP_LOG"], failed))
            return rc

        steps = treelib.fault_steps(holder.pid, img)
        print("wakeup_kill: %d read steps in a dump" % steps)
        rnd = random.Random(int(os.environ.get("WAKEUP_SEED", "1")))
        for n in range(1, steps + 1, args.stride):
            sig = rnd.uniform(0, 0.015)
            one("killed at read step %d, signals after %.1f ms" % (n, sig * 1000),
                {"CRIU_FAULT": str(n), "CRIU_FAULT_CALLS": "read", "CRIU_FAULT_KILL": "1"},
                signal_after=sig)
        for i in range(args.tries):
            sig = rnd.uniform(0, float(os.environ.get("WAKEUP_SIG_MS", "15")) / 1000)
            delay = rnd.uniform(0, float(os.environ.get("WAKEUP_KILL_MS", "15")) / 1000)
            one("signals after %.1f ms, killed %.1f ms later" % (sig * 1000, delay * 1000),
                kill_after=delay, signal_after=sig)
        if one("a whole dump", signal_after=0.004) != 0:
            failed += 1
            print("FAIL the whole dump did not succeed")
        for i in range(args.restores):
            sig = rnd.uniform(0, 0.004)
            verdict = dump_restore(holder.pid, tids, out, fifo_w, img, sig)
            if verdict == "ok":
                passed += 1
            else:
                failed += 1
                print("FAIL dump and restore, signals %.1f ms after the seize: %s" % (sig * 1000, verdict))
        tries = passed + failed + known
        if known > max(2, tries // 20):
            failed += 1
            print("FAIL %d of %d tries fell in the known window: it is wider than it should be" % (known, tries))
    finally:
        try:
            os.kill(holder.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        reap()
        os.close(fifo_w)
        reap()
        shutil.rmtree(work, ignore_errors=True)
    print("wakeup_kill: %d in the known window (Documentation/compel.md, \"Lost wakeups\")" % known)
    print("wakeup_kill: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
