#!/usr/bin/env python3
"""
Lazy restore when things go wrong (Documentation/lazy-pages.md):

  daemon_killed   memhog (512 MiB) restored with --lazy-pages; the lazy-pages
                  daemon is SIGKILLed while it still copies pages in: its
                  watchdog kills memhog (no page may read zeros instead of its
                  data) and says so in the daemon's log; nothing is left.
  daemon_killed_in_restore  the daemon is stopped (SIGSTOP) before the
                  restore and killed while the restore waits for it: the
                  restore fails, no process of the tree is left.
  no_daemon       restore --lazy-pages with no daemon listening fails saying
                  so, and no process of the tree is left.
  check           criu check --feature lazy_pages and uffd-noncoop say yes
                  (root); as nobody they say no, with the reason.

Run as root: python3 test/others/lazy_pages.py. Output: PASS/FAIL lines and
"lazy_pages: N passed, M failed".
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(TOP, "build")
CRIU = os.environ.get("CRIU", os.path.join(BUILD, "criu", "criu"))
MEMHOG = os.path.join(BUILD, "test", "bench", "memhog")
TMP = None
procs = []


class Fail(Exception):
    pass


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def start_memhog(d, mib):
    pidfile = os.path.join(d, "memhog.pid")
    out = open(os.path.join(d, "memhog.out"), "w")
    p = subprocess.Popen([MEMHOG, "random", str(mib), pidfile], stdin=subprocess.DEVNULL, stdout=out,
                         stderr=subprocess.STDOUT, start_new_session=True, close_fds=True, cwd="/")
    procs.append(p)
    deadline = time.monotonic() + 60
    while not os.path.exists(pidfile):
        if p.poll() is not None or time.monotonic() > deadline:
            raise Fail("memhog did not start")
        time.sleep(0.02)
    return p


def dump(d, hog):
    img = os.path.join(d, "img")
    os.makedirs(img)
    p = subprocess.run([CRIU, "dump", "-t", str(hog.pid), "-D", img, "-o", "dump.log", "-v4"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if p.returncode:
        raise Fail("dump failed: %s" % p.stderr.strip()[-300:])
    hog.wait(timeout=30)
    return img


def daemon(img):
    r, w = os.pipe()
    p = subprocess.Popen([CRIU, "lazy-pages", "-D", img, "-o", "lazy-pages.log", "-v4", "--status-fd", str(w)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         pass_fds=(w,))
    procs.append(p)
    os.close(w)
    with os.fdopen(r, "rb") as rf:
        if not rf.read(1):
            raise Fail("criu lazy-pages did not start: %s" % read(os.path.join(img, "lazy-pages.log"))[-300:])
    return p


def restore(img, lazy=True):
    return subprocess.run([CRIU, "restore", "-D", img, "-d", "-o", "restore.log", "-v4"] +
                          (["--lazy-pages"] if lazy else []), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=120)


def gone_within(pid, secs):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        try:
            os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            pass
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def t_daemon_killed(d):
    hog = start_memhog(d, 512)
    pid = hog.pid
    img = dump(d, hog)
    lp = daemon(img)
    p = restore(img)
    if p.returncode:
        raise Fail("restore --lazy-pages failed: %s" % p.stderr.strip()[-300:])
    lp.kill()
    lp.wait()
    log = os.path.join(img, "lazy-pages.log")
    if "every page is in" in read(log):
        raise Fail("the daemon had put every page in before it was killed: nothing tested")
    if not gone_within(pid, 10):
        raise Fail("memhog %d is alive after its lazy-pages daemon died" % pid)
    deadline = time.monotonic() + 5
    while "killing it" not in read(log) and time.monotonic() < deadline:
        time.sleep(0.05)
    if "the lazy-pages daemon died before the memory of process %d was whole" % pid not in read(log):
        raise Fail("the log does not say why memhog was killed:\n%s" % read(log)[-600:])
    for q in subprocess.run(["pgrep", "-f", "criu lazy-pages -D " + img], capture_output=True,
                            text=True).stdout.split():
        raise Fail("process %s of the lazy-pages daemon is left" % q)


def t_daemon_killed_in_restore(d):
    hog = start_memhog(d, 64)
    pid = hog.pid
    img = dump(d, hog)
    lp = daemon(img)
    os.kill(lp.pid, signal.SIGSTOP)
    r = subprocess.Popen([CRIU, "restore", "-D", img, "-d", "-o", "restore.log", "-v4", "--lazy-pages"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs.append(r)
    time.sleep(1)
    if r.poll() is not None:
        raise Fail("the restore ended (%d) while its daemon was stopped" % r.returncode)
    lp.kill()
    lp.wait()
    try:
        _, err = r.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        raise Fail("the restore hangs after its daemon was killed")
    if r.returncode == 0:
        raise Fail("the restore succeeded without its daemon")
    if "lazy-pages daemon" not in err:
        raise Fail("the failed restore does not say why: %s" % err.strip()[-300:])
    if not gone_within(pid, 5):
        raise Fail("pid %d is alive after the failed restore" % pid)


def t_no_daemon(d):
    hog = start_memhog(d, 16)
    pid = hog.pid
    img = dump(d, hog)
    p = restore(img)
    if p.returncode == 0:
        raise Fail("restore --lazy-pages without a daemon succeeded")
    if "no lazy-pages daemon at" not in p.stderr:
        raise Fail("the failed restore does not say why: %s" % p.stderr.strip()[-300:])
    if alive(pid):
        raise Fail("pid %d is alive after the failed restore" % pid)


def t_check(d):
    for f in ("lazy_pages", "uffd-noncoop"):
        p = subprocess.run([CRIU, "check", "--feature", f], capture_output=True, text=True)
        if p.returncode:
            raise Fail("check --feature %s: %s" % (f, p.stdout.strip()))
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", CRIU, "check",
                        "--feature", "lazy_pages"], capture_output=True, text=True, cwd="/")
    if p.returncode == 0 and open("/proc/sys/vm/unprivileged_userfaultfd").read().strip() == "0":
        raise Fail("nobody: lazy_pages said supported")
    if p.returncode and "userfaultfd" not in p.stdout:
        raise Fail("nobody: no reason given: %s" % p.stdout.strip())


def main():
    global TMP
    if os.geteuid():
        sys.exit("lazy_pages.py: needs root")
    TMP = tempfile.mkdtemp(prefix="lazy-pages.")
    passed = failed = 0
    try:
        for name, fn in (("check", t_check), ("no_daemon", t_no_daemon),
                         ("daemon_killed_in_restore", t_daemon_killed_in_restore), ("daemon_killed", t_daemon_killed)):
            d = os.path.join(TMP, name)
            os.makedirs(d)
            try:
                fn(d)
                print("PASS %s" % name)
                passed += 1
            except (Fail, subprocess.TimeoutExpired) as e:
                print("FAIL %s: %s" % (name, e))
                failed += 1
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            procs.clear()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("lazy_pages: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
