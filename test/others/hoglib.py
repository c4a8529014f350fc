"""
What csum_kind.py and pages_files.py share: a memhog of random pages
(it checks them on SIGTERM: OK or BAD in hog.out), criu run with one
switch of the environment cleared, dumps, restores checked by the hog,
and the cases run in turn with every hog killed after each.
"""
import os, shutil, signal, subprocess, sys, tempfile, time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CRIU = os.environ.get("CRIU", os.path.join(REPO, "build", "criu", "criu"))
HOG = os.path.join(REPO, "build", "test", "bench", "memhog")


def kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def alive(pid):
    try:
        return open("/proc/%d/stat" % pid).read().split(") ")[1][0] not in "ZX"
    except OSError:
        return False


class HogSuite:
    def __init__(self, name, mib, scrub):
        self.name = name
        self.mib = mib
        self.scrub = scrub      # the switch under test: only what a case sets reaches criu
        self.work = tempfile.mkdtemp(prefix="criu-%s-" % name.replace("_", "-"))
        self.pids = []
        self.procs = {}
        self.passed = self.failed = 0

    def start(self, env=None):
        """A memhog of self.mib MiB of random pages."""
        pidf = os.path.join(self.work, "hog.pid")
        if os.path.exists(pidf):
            os.unlink(pidf)
        out = open(os.path.join(self.work, "hog.out"), "w")
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.Popen([HOG, "random", str(self.mib), pidf], stdin=subprocess.DEVNULL, stdout=out, env=e,
                             stderr=subprocess.DEVNULL, close_fds=True, start_new_session=True)
        out.close()
        while not os.path.exists(pidf):
            time.sleep(0.05)
        self.pids.append(p.pid)
        self.procs[p.pid] = p
        return p.pid

    def criu(self, env, *argv):
        e = dict(os.environ)
        e.pop(self.scrub, None)
        e.update(env)
        return subprocess.run([CRIU] + list(argv), env=e, stdin=subprocess.DEVNULL, capture_output=True, text=True)

    def dump(self, env, pid, d, *extra):
        os.makedirs(d)
        r = self.criu(env, "dump", "-t", str(pid), "-D", d, "-o", "dump.log", *extra)
        if r.returncode == 0 and "-R" not in extra:
            self.procs[pid].wait()  # the dumped task is gone: its pid is free for the restore
        return r

    def restore_ok(self, d, pid):
        r = self.criu({}, "restore", "-d", "-D", d, "-o", "restore.log")
        if r.returncode or not alive(pid):
            return "restore failed: " + r.stderr[-500:]
        os.kill(pid, signal.SIGTERM)
        for _ in range(200):
            if not alive(pid):
                break
            time.sleep(0.05)
        out = open(os.path.join(self.work, "hog.out")).read()
        if "OK" not in out:
            return "memhog says: %r" % out
        return None

    def case(self, name, fn):
        try:
            why = fn()
        except Exception as e:  # noqa: BLE001
            why = "%s: %s" % (type(e).__name__, e)
        for p in self.pids:
            kill(p)
        self.pids.clear()
        if why:
            self.failed += 1
            print("FAIL %s: %s" % (name, why), flush=True)
        else:
            self.passed += 1
            print("PASS %s" % name, flush=True)

    def run(self, cases):
        """Every (name, function) in turn; the summary line; exits 1 on a failure."""
        try:
            for n, f in cases:
                self.case(n, f)
        finally:
            for p in self.pids:
                kill(p)
            shutil.rmtree(self.work, ignore_errors=True)
        print("%s: %d passed, %d failed" % (self.name, self.passed, self.failed))
        sys.exit(1 if self.failed else 0)
