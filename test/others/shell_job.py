#!/usr/bin/env python3
"""A --shell-job restored in the foreground of a terminal, checked as a
user at that terminal would see it.

A job (a process leading its group, the foreground of pty A, cbreak mode,
counting SIGWINCHes, logging what it reads) is dumped with --shell-job.
On pty B a stand-in shell (session leader) runs `criu restore --shell-job`
as its foreground job. Then:
  - the job is the foreground group of B, B has the job's modes (no
    ICANON, no ECHO), the job got a SIGWINCH, and reads what is typed;
  - ^Z stops the job, and criu with it: the shell sees criu stopped by
    SIGTSTP, B's foreground is criu's group again with the shell's modes;
  - `fg` (SIGCONT to criu's group, B's foreground given to it) gives the
    job the terminal again, and it reads on;
  - ^C ends the job, criu exits with 130, and B's foreground is criu's
    group again (the shell's to take).
Prints "shell_job: N passed, M failed". Run as root.
"""
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import tempfile
import termios
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CRIU = os.environ.get("CRIU", os.path.join(TOP, "build", "criu", "criu"))

JOB = r'''
import os, signal, sys, termios, time
log = open(sys.argv[1], "a", buffering=1)
winch = [0]
def on_winch(s, f):
    winch[0] += 1
    log.write("winch %d\n" % winch[0])
signal.signal(signal.SIGWINCH, on_winch)
# as a job of an interactive shell: ^C kills it, whatever the runner ignored
# (a background command of a non-interactive shell starts with SIGINT ignored)
signal.signal(signal.SIGINT, signal.SIG_DFL)
t = termios.tcgetattr(0)
t[3] &= ~(termios.ICANON | termios.ECHO)
termios.tcsetattr(0, termios.TCSANOW, t)
log.write("ready %d\n" % os.getpid())
while True:
    try:
        b = os.read(0, 64)
    except InterruptedError:
        continue
    if not b:
        break
    log.write("got %r\n" % b)
'''

results = []


def check(name, ok, why=""):
    results.append(ok)
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, "" if ok else ": " + why), flush=True)
    return ok


def wait_for(fn, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.02)
    return fn()


def read_log(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def drain(fd):
    while select.select([fd], [], [], 0)[0]:
        try:
            if not os.read(fd, 4096):
                return
        except OSError:
            return


def session_child(slave, body):
    """Fork a session leader with @slave as its controlling terminal; it runs body()."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for fd in range(3):
                os.dup2(slave, fd)
            body()
        finally:
            os._exit(0)
    return pid


def main():
    if os.geteuid() != 0:
        print("shell_job.py must run as root", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="criu-shelljob-")
    log = os.path.join(tmp, "job.log")
    img = os.path.join(tmp, "img")
    os.mkdir(img)
    job_py = os.path.join(tmp, "job.py")
    with open(job_py, "w") as f:
        f.write(JOB)
    kids = []
    job = None
    try:
        # pty A: a shell whose foreground job is the program
        ma, sa = pty.openpty()
        jr, jw = os.pipe()

        def shell_a():
            os.close(jr)
            j = os.fork()
            if j == 0:
                os.setpgid(0, 0)
                os.closerange(3, 65536)
                os.execv(sys.executable, [sys.executable, job_py, log])
            os.setpgid(j, j)
            signal.signal(signal.SIGTTOU, signal.SIG_IGN)
            os.tcsetpgrp(0, j)
            os.write(jw, struct.pack("i", j))
            os.waitpid(j, 0)
        kids.append(session_child(sa, shell_a))
        os.close(jw)
        job = struct.unpack("i", os.read(jr, 4))[0]
        os.close(jr)
        if not wait_for(lambda: "ready" in read_log(log)):
            check("setup", False, "the job did not start")
            return 1
        drain(ma)
        r = os.spawnv(os.P_WAIT, CRIU, [CRIU, "dump", "-t", str(job), "-D", img, "-o", "dump.log", "--shell-job"])
        if not check("dump", r == 0, "criu dump exited %d" % r):
            return 1

        # pty B: a stand-in shell runs criu restore as its foreground job
        mb, sb = pty.openpty()
        ws = struct.pack("HHHH", 33, 111, 0, 0)
        fcntl.ioctl(mb, termios.TIOCSWINSZ, ws)
        cr, cw = os.pipe()      # commands to the shell
        er, ew = os.pipe()      # its reports

        def shell_b():
            os.close(cw)
            os.close(er)
            signal.signal(signal.SIGTTOU, signal.SIG_IGN)
            c = os.fork()
            if c == 0:
                os.setpgid(0, 0)
                signal.signal(signal.SIGTTOU, signal.SIG_DFL)
                os.closerange(3, 65536)
                os.execv(CRIU, [CRIU, "restore", "-D", img, "-o", "restore.log", "--shell-job"])
            os.setpgid(c, c)
            os.tcsetpgrp(0, c)
            os.write(ew, b"criu %d\n" % c)
            while True:
                _, st = os.waitpid(c, os.WUNTRACED)
                if os.WIFSTOPPED(st):
                    os.write(ew, b"stopped %d\n" % os.WSTOPSIG(st))
                    if os.read(cr, 1) != b"f":
                        os.kill(-c, signal.SIGKILL)
                        continue
                    os.tcsetpgrp(0, c)      # fg
                    os.kill(-c, signal.SIGCONT)
                    continue
                code = os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st)
                os.write(ew, b"exit %d\n" % code)
                return
        kids.append(session_child(sb, shell_b))
        os.close(cr)
        os.close(ew)
        ef = os.fdopen(er, "rb", buffering=0)

        def report():
            if not select.select([er], [], [], 30)[0]:
                return ""
            return ef.readline().decode().strip()

        criu_pid = int(report().split()[1])
        up = wait_for(lambda: os.tcgetpgrp(mb) == job and ("winch" in read_log(log)), 10)
        check("foreground", os.tcgetpgrp(mb) == job,
              "the foreground group of criu's terminal is %d, not the job %d" % (os.tcgetpgrp(mb), job))
        lflag = termios.tcgetattr(mb)[3]
        check("modes", not (lflag & (termios.ICANON | termios.ECHO)),
              "criu's terminal has not the job's modes (lflag %#x)" % lflag)
        check("winch", "winch" in read_log(log), "the job got no SIGWINCH")
        os.write(mb, b"a")
        check("input", wait_for(lambda: "got b'a'" in read_log(log)), "the job did not read what was typed")

        os.write(mb, b"\x1a")       # ^Z
        ev = report()
        check("stop", ev == "stopped %d" % signal.SIGTSTP, "the shell saw %r, not criu stopped by SIGTSTP" % ev)
        check("stop_terminal", wait_for(lambda: os.tcgetpgrp(mb) == criu_pid),
              "after ^Z the foreground is %d, not criu's group %d" % (os.tcgetpgrp(mb), criu_pid))
        lflag = termios.tcgetattr(mb)[3]
        check("stop_modes", lflag & termios.ICANON, "after ^Z the terminal kept the job's modes")
        os.write(cw, b"f")
        check("fg", wait_for(lambda: os.tcgetpgrp(mb) == job),
              "after fg the foreground is %d, not the job %d" % (os.tcgetpgrp(mb), job))
        os.write(mb, b"b")
        check("fg_input", wait_for(lambda: "got b'b'" in read_log(log)), "after fg the job reads nothing")

        os.write(mb, b"\x03")       # ^C
        ev = report()
        check("exit", ev == "exit 130", "the shell saw %r, not criu exiting with 130" % ev)
        check("exit_terminal", os.tcgetpgrp(mb) == criu_pid or os.tcgetpgrp(mb) != job,
              "the terminal's foreground is still the job's group")
        job = None
        return 0
    finally:
        if job:
            try:
                os.kill(job, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for k in kids:
            try:
                os.kill(k, signal.SIGKILL)
                os.waitpid(k, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        if not os.environ.get("KEEP"):
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
        n = len(results)
        p = sum(1 for r in results if r)
        print("shell_job: %d passed, %d failed" % (p, n - p))


if __name__ == "__main__":
    rc = main()
    sys.exit(rc if rc else (0 if all(results) else 1))
