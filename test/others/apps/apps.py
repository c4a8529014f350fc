#!/usr/bin/env python3
"""Real programs from Debian packages, checkpointed and restored as a user
would: each runs as an ordinary user made for the purpose (criuapp), is
checked to work, dumped with -R (it must go on unchanged) and dumped and
restored (it must work again: serve requests, keep its data, keep its
clients connected), twice each. A refused dump must name the resource and
leave the program running.

    test/others/apps/apps.py [--quick] [--only NAME ...] [--list] [--keep]

--quick runs the programs scripts/packages installs (python, perl, sh,
tail, tcl, ruby, node, tmux), never installing anything (one missing is
skipped: no network at test time); without it every program, installing
its Debian packages first. Prints a line per step and "apps: N passed, M
failed, K skipped". Run as root.
"""
import argparse
import ctypes
import grp
import json
import os
import pwd
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CRIU = os.environ.get("CRIU", os.path.join(TOP, "build", "criu", "criu"))
HERE = os.path.dirname(os.path.abspath(__file__))
USER = "criuapp"
PY = "/usr/bin/python3"     # Debian's: the unprivileged user can run it
PR_SET_CHILD_SUBREAPER = 36
VERBOSE = bool(os.environ.get("APPS_VERBOSE"))


class Fail(Exception):
    pass


class Skip(Exception):
    pass


# --------------------------------------------------------------------------
# processes

reaped = {}
reaper_stop = threading.Event()
# children waited for by those who ran them (criu, clients): not the reaper's
waited = set()
waited_lock = threading.Lock()


def reaper():
    """We are a subreaper: restored trees and their orphans end up ours. A
    child someone waits for is left to them: reaped here, its status would
    be lost (subprocess takes ECHILD for an exit status of 0)."""
    while not reaper_stop.is_set():
        pid = 0
        with waited_lock:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                info = None
            if info and info.si_pid not in waited:
                pid, st = os.waitpid(info.si_pid, 0)
        if pid > 0:
            reaped[pid] = st
            continue
        time.sleep(0.02)


def run_waited(argv, timeout, **kw):
    """subprocess.run() whose child the reaper leaves alone: (returncode, stdout, stderr)."""
    with waited_lock:
        p = subprocess.Popen(argv, **kw)
        waited.add(p.pid)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise
    finally:
        with waited_lock:
            waited.discard(p.pid)
    return p.returncode, out, err


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def wait_gone(pid, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if not os.path.exists("/proc/%d" % pid):
            return True
        time.sleep(0.02)
    return False


def session_pids(sid):
    """Every process of session @sid (our programs each start one)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid:
                out.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return out


def kill_session(sid):
    for _ in range(3):
        pids = session_pids(sid)
        if not pids:
            return
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)


def wait_for(fn, timeout=10.0, step=0.05):
    end = time.time() + timeout
    while True:
        try:
            v = fn()
        except Exception:
            v = None
        if v or time.time() > end:
            return v
        time.sleep(step)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def run(argv, user=None, check=True, timeout=60, **kw):
    """Run to completion (a setup step or a client request); output returned."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    if user:
        kw.update(user=user.uid, group=user.gid, extra_groups=[], env=user.env(kw.get("env")))
    rc, out, _ = run_waited(argv, timeout, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)
    out = out.decode(errors="replace")
    if check and rc != 0:
        raise Fail("%s exited %d: %s" % (" ".join(argv), rc, out.strip()[-400:]))
    return out


class User:
    def __init__(self, name):
        pw = pwd.getpwnam(name)
        self.name, self.uid, self.gid, self.home = name, pw.pw_uid, pw.pw_gid, pw.pw_dir

    def env(self, extra=None):
        e = {"HOME": self.home, "USER": self.name, "LOGNAME": self.name, "PATH": "/usr/local/bin:/usr/bin:/bin",
             "LANG": "C.UTF-8", "TERM": "xterm"}
        e.update(extra or {})
        return e


def spawn(argv, out, user=None, cwd=None, env=None):
    """Start a program detached: a session of its own, fds 0-2 only (stdin
    /dev/null, stdout and stderr to @out); its pid."""
    kw = {}
    if user:
        kw.update(user=user.uid, group=user.gid, extra_groups=[], env=user.env(env))
    elif env is not None:
        kw["env"] = env
    with open(out, "ab") as f:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=f, cwd=cwd, close_fds=True,
                             start_new_session=True, **kw)
    return p.pid


def ensure_user():
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/bash", USER], check=True)
    return User(USER)


apt_updated = [False]


install = [True]


def need(pkgs=(), cmds=()):
    """Install the Debian packages @pkgs if one of @cmds is missing (not with --quick: skipped)."""
    missing = [c for c in cmds if not shutil.which(c) and not os.path.exists(c)]
    if not missing:
        return
    if not pkgs or not install[0]:
        raise Skip("%s not installed" % ", ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for attempt in range(2):
        r = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends"] + list(pkgs),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        if r.returncode == 0:
            break
        if apt_updated[0]:
            break
        subprocess.run(["apt-get", "update"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        apt_updated[0] = True
    missing = [c for c in cmds if not shutil.which(c) and not os.path.exists(c)]
    if missing:
        raise Skip("could not install %s (%s missing)" % (" ".join(pkgs), ", ".join(missing)))
    # a package's own service, if it started one, is not ours to test
    for p in pkgs:
        subprocess.run(["service", p, "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# --------------------------------------------------------------------------
# criu

def criu(*args, timeout=120):
    argv = [CRIU] + [str(a) for a in args]
    if VERBOSE:
        print("    # " + " ".join(argv), flush=True)
    rc, _, err = run_waited(argv, timeout, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, close_fds=True)
    return rc, err.decode(errors="replace")


def dump(app, imgs, *args):
    """criu dump of the app's tree, tried again (5 times) while refused for a passing state."""
    for attempt in range(5):
        rc, err = criu("dump", "-t", app.root, "-D", imgs, *args)
        if rc == 0 or not any(re.search(p, err) for p in app.transient_refusals):
            break
        time.sleep(0.2)
    return rc, err


def log_errors(d, name):
    text = read(os.path.join(d, name))
    return " | ".join(l.strip() for l in text.splitlines() if "Error" in l)[-800:]


# --------------------------------------------------------------------------
# the programs

class App:
    name = "?"
    quick = False           # no package to install: in --quick (and CI)
    pkgs = ()
    cmds = ()
    opts = ()               # for dump and restore
    dump_opts = ()
    restore_opts = ()
    as_user = True          # run as the unprivileged user, and (--as both) as root
    transient_refusals = () # refusals of a passing state (regexps): the dump is tried again
    transient = 0           # processes of the tree that come and go

    def __init__(self, work, user, as_root):
        self.work = work
        self.user = None if as_root or not self.as_user else user
        self.name = type(self).name + ("" if not self.as_user else " (root)" if as_root else " (user)")
        self.root = None
        self.sids = []

    def path(self, *p):
        return os.path.join(self.work, *p)

    def own(self, *paths):
        for p in paths:
            os.chown(p, self.user.uid if self.user else 0, self.user.gid if self.user else 0)

    def spawn(self, argv, out="out.log", **kw):
        pid = spawn(argv, self.path(out), user=self.user, cwd=self.work, **kw)
        self.sids.append(pid)
        return pid

    def start(self):
        """Start the program; its root pid."""
        raise NotImplementedError

    def check(self):
        """Raise Fail unless it works."""
        raise NotImplementedError

    def after(self):
        """Checks after the last restore (reload, job control...)."""

    def refusals(self):
        """Dumps that must be refused (message, tree left running)."""
        return []

    def stop(self):
        # the tree first: processes that made sessions of their own (crash handlers) are in it
        if self.root:
            for p in tree_of(self.root):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for s in self.sids:
            kill_session(s)


def http_get(port, path="/", timeout=5):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
        return r.read().decode(errors="replace")


def line_from(port, timeout=5):
    """The server's line, read to its close: a client that closes first leaves
    the server's end in CLOSE_WAIT for a moment, which a dump rightly refuses."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        data = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
    return data.decode(errors="replace").strip()


class Counter:
    """A number the program reports must keep growing between checks."""

    def __init__(self, what):
        self.what = what
        self.last = None

    def grows(self, get, timeout=5):
        first = get()
        if self.last is not None and first < self.last:
            raise Fail("%s went back from %d to %d" % (self.what, self.last, first))
        v = wait_for(lambda: (lambda x: x if x > first else None)(get()), timeout)
        if not v:
            raise Fail("%s stays at %d" % (self.what, first))
        self.last = v


class PythonHttp(App):
    name = "python-http"
    quick = True
    cmds = (PY,)

    def start(self):
        os.makedirs(self.path("www"))
        with open(self.path("www", "index.html"), "w") as f:
            f.write("hello from the dumped server\n")
        self.port = free_port()
        pid = self.spawn([PY, "-m", "http.server", str(self.port), "--bind", "127.0.0.1",
                          "--directory", self.path("www")])
        wait_for(lambda: http_get(self.port))
        return pid

    def check(self):
        for _ in range(3):
            if http_get(self.port) != "hello from the dumped server\n":
                raise Fail("wrong page")


HTTP_LOAD_CLI = r'''
import http.client, os, random, socket, sys, time
# keep: one HTTP/1.1 connection kept alive, a request every 10 ms; churn: a
# new connection for each request, 50-150 ms apart (random: a dump retried
# at a fixed pace must not meet an arrival each time)
port, count, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
k = 0
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
while True:
    try:
        if mode == "churn":
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/index.html")
        body = c.getresponse().read()
        if mode == "churn":
            c.close()
        if body != b"hello from the dumped server\n":
            print("bad page", body[:80], flush=True)
            sys.exit(1)
        k += 1
    except (ConnectionRefusedError, ConnectionResetError) as e:
        # a host-network server dumped and restored: its port is closed in between
        if mode == "keep":
            print("bad: the kept-alive connection (%d requests): %r" % (k, e), flush=True)
            sys.exit(1)
        print("gap: %r" % e, flush=True)
    except Exception as e:
        print("bad (%d requests): %r" % (k, e), flush=True)
        sys.exit(1)
    with open(count + ".tmp", "w") as o:
        o.write("%d\n" % k)
    os.rename(count + ".tmp", count)
    time.sleep(0.01 if mode == "keep" else random.uniform(0.05, 0.15))
'''


class PythonHttpLoad(App):
    """http.server (HTTP/1.1, threads) with a client kept alive on one
    connection and another connecting anew all the time: connections come
    and go while it is frozen. A refusal for a connection not accepted yet
    is passing (tried again); the kept-alive client goes on through every
    dump, and the other gets no error but a closed port between a dump and
    its restore."""
    name = "python-http-load"
    quick = True
    cmds = (PY,)
    opts = ("--tcp-established",)
    transient_refusals = (r"not accepted yet",)

    def start(self):
        os.makedirs(self.path("www"))
        with open(self.path("www", "index.html"), "w") as f:
            f.write("hello from the dumped server\n")
        with open(self.path("client.py"), "w") as f:
            f.write(HTTP_LOAD_CLI)
        self.port = free_port()
        pid = self.spawn([PY, "-m", "http.server", str(self.port), "--bind", "127.0.0.1", "--protocol", "HTTP/1.1",
                          "--directory", self.path("www")])
        wait_for(lambda: http_get(self.port))
        self.counters = {}
        for mode in ("keep", "churn"):
            self.sids.append(spawn([PY, self.path("client.py"), str(self.port), self.path(mode + ".count"), mode],
                                   self.path(mode + ".log")))
            self.counters[mode] = Counter("the %s client's requests" % mode)
        return pid

    def check(self):
        if http_get(self.port) != "hello from the dumped server\n":
            raise Fail("wrong page")
        for mode, c in self.counters.items():
            c.grows(lambda: int(read(self.path(mode + ".count")) or "0"))
            if "bad" in read(self.path(mode + ".log")):
                raise Fail("the %s client says: %s" % (mode, read(self.path(mode + ".log")).strip()[-300:]))


SLOW_ACCEPT_APP = r'''
import socket, sys, time
# takes its time before each accept(): a client that connects again as soon
# as it is answered finds its connection waiting in the accept queue
l = socket.create_server(("127.0.0.1", int(sys.argv[1])))
n = 0
while True:
    time.sleep(0.03)
    c, _ = l.accept()
    n += 1
    c.sendall(b"%d\n" % n)
    c.close()
'''

SLOW_ACCEPT_CLI = r'''
import os, socket, sys
k = 0
while True:
    try:
        with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as s:
            if not s.makefile("rb").readline().strip().isdigit():
                print("bad answer", flush=True)
                sys.exit(1)
        k += 1
    except (ConnectionRefusedError, ConnectionResetError):
        pass    # dumped and not yet restored: its port is closed
    except Exception as e:
        print("bad: %r" % e, flush=True)
        sys.exit(1)
    with open(sys.argv[2] + ".tmp", "w") as o:
        o.write("%d\n" % k)
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
'''


class PythonSlowAccept(App):
    """A server that sleeps 30 ms before each accept(), and a client that
    connects again as soon as it is answered: nearly always a connection
    waits in the accept queue. The dump holds new connections to the
    tree's listeners (their SYN waits) from before the freeze and lets the
    server take the one queued: every dump goes through, the first time
    (were refused, "not accepted yet", nearly each time)."""
    name = "python-slow-accept"
    quick = True
    cmds = (PY,)
    opts = ("--tcp-established",)

    def start(self):
        for n, text in (("app.py", SLOW_ACCEPT_APP), ("client.py", SLOW_ACCEPT_CLI)):
            with open(self.path(n), "w") as f:
                f.write(text)
        self.port = free_port()
        pid = self.spawn([PY, self.path("app.py"), str(self.port)])
        wait_for(lambda: line_from(self.port))
        self.sids.append(spawn([PY, self.path("client.py"), str(self.port), self.path("client.count")],
                               self.path("client.log")))
        self.reqs = Counter("the client's connections")
        return pid

    def check(self):
        self.reqs.grows(lambda: int(read(self.path("client.count")) or "0"))
        if "bad" in read(self.path("client.log")):
            raise Fail("the client says: %s" % read(self.path("client.log")).strip()[-300:])


ASYNCIO_APP = r'''
import asyncio, os, sys
state = {"child": None, "rc": None}
async def watch():
    p = await asyncio.create_subprocess_exec("sleep", "1000")
    state["child"] = p.pid
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write("%d\n" % p.pid)
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    state["rc"] = await p.wait()
async def serve(r, w):
    w.write(("alive %d\n" % state["child"] if state["rc"] is None else "exited %d\n" % state["rc"]).encode())
    await w.drain()
    w.close()
async def main():
    asyncio.get_running_loop().create_task(watch())
    s = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]))
    async with s:
        await s.serve_forever()
asyncio.set_child_watcher(asyncio.PidfdChildWatcher())
asyncio.run(main())
'''


class PythonAsyncio(App):
    """An asyncio server whose loop (epoll) watches its child through a pidfd
    (PidfdChildWatcher, the default from Python 3.12): after the restores it
    must still see the child exit."""
    name = "python-asyncio-pidfd"
    quick = True
    cmds = (PY,)

    def start(self):
        with open(self.path("app.py"), "w") as f:
            f.write(ASYNCIO_APP)
        self.port = free_port()
        pid = self.spawn([PY, self.path("app.py"), str(self.port), self.path("child")])
        wait_for(lambda: os.path.exists(self.path("child")) and self.ask())
        return pid

    def ask(self):
        """Its answer, read to the end: the server closes first (no CLOSE_WAIT left to dump)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            data = b""
            while True:
                b = s.recv(4096)
                if not b:
                    return data.decode(errors="replace").strip()
                data += b

    def check(self):
        line = self.ask()
        if line != "alive %s" % read(self.path("child")).strip():
            raise Fail("the server says %r" % line)

    def after(self):
        os.kill(int(read(self.path("child"))), signal.SIGKILL)
        if not wait_for(lambda: self.ask() == "exited -9", 5):
            raise Fail("the loop did not see its child exit: %r" % self.ask())


SQLITE_APP = r'''
import sqlite3, sys, threading, time
db = sys.argv[1]
con = sqlite3.connect(db, check_same_thread=False)
con.execute("pragma journal_mode=wal")
con.execute("create table if not exists t(id integer primary key, th int, v int)")
con.commit()
def worker(i):
    c = sqlite3.connect(db, timeout=60)
    v = 0
    while True:
        c.execute("insert into t(th, v) values(?, ?)", (i, v))
        c.commit()
        v += 1
        time.sleep(0.01)
for i in range(8):
    threading.Thread(target=worker, args=(i,), daemon=True).start()
while True:
    time.sleep(0.2)
    n = con.execute("select count(*) from t").fetchone()[0]
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write("%d\n" % n)
    import os
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
'''


class PythonSqlite(App):
    """Eight threads inserting into sqlite (WAL: a shared mapping of the -shm
    file, POSIX locks taken and dropped all the time: -l)."""
    name = "python-sqlite-threads"
    quick = True
    cmds = (PY,)
    opts = ("-l",)

    def start(self):
        with open(self.path("app.py"), "w") as f:
            f.write(SQLITE_APP)
        self.rows = Counter("the row count")
        return self.spawn([PY, self.path("app.py"), self.path("t.db"), self.path("count")])

    def count(self):
        return int(read(self.path("count")) or "0")

    def check(self):
        self.rows.grows(self.count)
        con = sqlite3.connect(self.path("t.db"), timeout=30)
        try:
            ok = con.execute("pragma quick_check").fetchone()[0]
            per = con.execute("select th, count(*), max(v) from t group by th").fetchall()
        finally:
            con.close()
        if ok != "ok":
            raise Fail("sqlite says %s" % ok)
        for th, n, mx in per:
            if n != mx + 1:     # each thread's values 0..max, none lost or doubled
                raise Fail("thread %d has %d rows up to %d" % (th, n, mx))


PERL_APP = r'''
use strict; use IO::Socket::INET;
$| = 1;
my ($n, $alarms) = (0, 0);
$SIG{ALRM} = sub { $alarms++; alarm 1; };
alarm 1;
pipe(my $r, my $w) or die;
my $kid = fork();
if (!$kid) { close $r; select $w; $| = 1; my $i = 0; while (1) { print $w "tick ", $i++, "\n"; select(undef, undef, undef, 0.1); } }
close $w;
my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$ARGV[0]", Listen => 5, ReuseAddr => 1) or die;
my $expect = 0;
while (1) {
  my $rr = '';
  vec($rr, fileno($r), 1) = 1; vec($rr, fileno($s), 1) = 1;
  next if select($rr, undef, undef, undef) < 0;
  if (vec($rr, fileno($r), 1)) { my $l = <$r>; my ($i) = $l =~ /tick (\d+)/; die "lost tick $expect" if $i != $expect; $expect++; $n++; }
  if (vec($rr, fileno($s), 1)) { my $c = $s->accept or next; print $c "$n $alarms\n"; close $c; }
}
'''


class Perl(App):
    """A perl server with a child writing to it through a pipe, SIGALRM timers, select()."""
    name = "perl"
    quick = True
    cmds = ("perl",)

    def start(self):
        with open(self.path("app.pl"), "w") as f:
            f.write(PERL_APP)
        self.port = free_port()
        self.ticks, self.alarms = Counter("ticks through the pipe"), Counter("SIGALRMs")
        pid = self.spawn(["perl", self.path("app.pl"), str(self.port)])
        wait_for(lambda: line_from(self.port))
        return pid

    def check(self):
        self.ticks.grows(lambda: int(line_from(self.port).split()[0]))
        self.alarms.grows(lambda: int(line_from(self.port).split()[1]), timeout=4)


TCL_APP = r'''
set n 0
proc tick {} { global n; incr n; after 50 tick }
proc accept {chan addr port} { global n; puts $chan $n; close $chan }
socket -server accept -myaddr 127.0.0.1 [lindex $argv 0]
after 50 tick
vwait forever
'''


class Tcl(App):
    """tclsh's event loop: timers (after) and a server socket."""
    name = "tcl"
    quick = True
    pkgs = ("tcl",)
    cmds = ("tclsh",)

    def start(self):
        with open(self.path("app.tcl"), "w") as f:
            f.write(TCL_APP)
        self.port = free_port()
        self.n = Counter("the tick count")
        pid = self.spawn(["tclsh", self.path("app.tcl"), str(self.port)])
        wait_for(lambda: line_from(self.port))
        return pid

    def check(self):
        self.n.grows(lambda: int(line_from(self.port)))


NODE_APP = r'''
const http = require('http');
let n = 0;
const big = Buffer.alloc(16 << 20, 7);
setInterval(() => { n++; }, 10);
const srv = http.createServer((req, res) => { res.end(JSON.stringify({ n: n, b: big[12345] })); });
srv.keepAliveTimeout = 600000;
srv.listen(+process.argv[2], '127.0.0.1');
'''

KEEPALIVE_CLIENT = r'''
import http.client, json, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=60)
last = -1
k = 0
while True:
    try:
        c.request("GET", "/")
        r = json.loads(c.getresponse().read())
    except Exception as e:
        print("error", repr(e), flush=True)
        sys.exit(1)
    if r["n"] < last or r["b"] != 7:
        print("bad", r, flush=True)
        sys.exit(1)
    last = r["n"]
    k += 1
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write("%d\n" % k)
    import os
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    time.sleep(0.02)
'''


class Node(App):
    """A node http server; a client outside the tree keeps one connection
    (keep-alive) across every dump (--tcp-established)."""
    name = "node-http"
    quick = True
    pkgs = ("nodejs",)
    cmds = ("node",)
    opts = ("--tcp-established",)

    def start(self):
        with open(self.path("app.js"), "w") as f:
            f.write(NODE_APP)
        with open(self.path("client.py"), "w") as f:
            f.write(KEEPALIVE_CLIENT)
        self.port = free_port()
        pid = self.spawn(["node", self.path("app.js"), str(self.port)])
        wait_for(lambda: http_get(self.port))
        # the client runs as root, outside the tree
        self.sids.append(spawn([PY, self.path("client.py"), str(self.port), self.path("client.count")],
                               self.path("client.log")))
        self.reqs = Counter("the keep-alive client's requests")
        # connected before the refusal is tried
        if not wait_for(lambda: int(read(self.path("client.count")) or "0") > 0):
            raise Fail("the keep-alive client did not connect: %s" % read(self.path("client.log"))[-300:])
        return pid

    def refusals(self):
        # the keep-alive connection, without --tcp-established
        return [((), [r"TCP connection 127\.0\.0\.1:%d" % self.port, r"--tcp-established"])]

    def check(self):
        if '"b":7' not in http_get(self.port):
            raise Fail("wrong answer")
        self.reqs.grows(lambda: int(read(self.path("client.count")) or "0"))
        if "error" in read(self.path("client.log")) or "bad" in read(self.path("client.log")):
            raise Fail("the keep-alive client says: %s" % read(self.path("client.log")).strip()[-300:])


class Pipeline(App):
    """A shell pipeline writing to a file, stdio redirected (no terminal)."""
    name = "sh-pipeline"
    quick = True
    transient = 1
    cmds = ("sh",)

    def start(self):
        self.lines = Counter("the pipeline's output")
        return self.spawn(["sh", "-c", "while :; do date +%s.%N; sleep 0.05; done | cat -n | "
                           "grep --line-buffered . > " + self.path("pipe.out")])

    def numbers(self):
        return [int(l.split()[0]) for l in read(self.path("pipe.out")).splitlines() if l.strip()]

    def check(self):
        self.lines.grows(lambda: len(self.numbers()))
        nums = self.numbers()
        if nums != list(range(1, len(nums) + 1)):
            raise Fail("the pipeline's lines are not numbered 1..N: a line lost or doubled")


class TailF(App):
    """tail -F: inotify on a file and its directory, following a rotated file."""
    name = "tail-F"
    quick = True
    cmds = ("tail",)

    def start(self):
        self.log = self.path("followed.log")
        with open(self.log, "w") as f:
            f.write("first\n")
        self.own(self.log)
        self.k = 0
        return self.spawn(["tail", "-n", "+1", "-F", self.log], out="tail.out")

    def check(self):
        self.k += 1
        word = "line-%d-%d" % (os.getpid(), self.k)
        with open(self.log, "a") as f:
            f.write(word + "\n")
        if not wait_for(lambda: word in read(self.path("tail.out")), 5):
            raise Fail("tail did not show an appended line")

    def after(self):
        os.rename(self.log, self.log + ".1")
        with open(self.log, "w") as f:
            f.write("after-rotation\n")
        if not wait_for(lambda: "after-rotation" in read(self.path("tail.out")), 8):
            raise Fail("tail -F did not follow the rotated file")


class Tmux(App):
    """A tmux server (ptys, a client socket) with a shell running a pipeline
    in the foreground (a process group led by a sibling)."""
    name = "tmux"
    quick = True
    transient = 1
    pkgs = ("tmux",)
    cmds = ("tmux",)

    def tmux(self, *args):
        return run(["tmux", "-S", self.sock] + list(args), user=self.user)

    def start(self):
        self.sock = self.path("tmux.sock")
        self.tmux("new-session", "-d", "-s", "s", "-x", "120", "-y", "30")
        self.tmux("send-keys", "-t", "s", "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done | cat -n",
                  "Enter")
        pid = int(self.tmux("display-message", "-p", "#{pid}").strip())
        self.sids.append(pid)
        self.ticks = Counter("the pane's ticks")
        return pid

    def last_tick(self):
        m = re.findall(r"tick (\d+)", self.tmux("capture-pane", "-p", "-t", "s"))
        return int(m[-1]) if m else 0

    def check(self):
        self.ticks.grows(self.last_tick)

    def after(self):
        self.tmux("send-keys", "-t", "s", "C-c", "")
        self.tmux("send-keys", "-t", "s", "echo done $((6*7))", "Enter")
        if not wait_for(lambda: "done 42" in self.tmux("capture-pane", "-p", "-t", "s")):
            raise Fail("after ^C the shell does not run a new command")


# ---- programs to install

RCLI = r'''
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")
last = None
k = 0
while True:
    s.sendall(sys.argv[3].encode() + b"\r\n")
    r = f.readline()
    try:
        v = int(r.strip().lstrip(b":"))
    except ValueError:
        print("bad", r, flush=True)
        sys.exit(1)
    if last is not None and v != last + 1:
        print("bad", last, v, flush=True)
        sys.exit(1)
    last = v
    k += 1
    with open(sys.argv[2] + ".tmp", "w") as o:
        o.write("%d\n" % k)
    import os
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    time.sleep(0.01)
'''


class ConnectedClient:
    """A client outside the tree on one connection, incrementing a counter."""

    def client(self, cmd):
        with open(self.path("client.py"), "w") as f:
            f.write(RCLI)
        self.sids.append(spawn([PY, self.path("client.py"), str(self.port), self.path("client.count"), cmd],
                               self.path("client.log")))
        self.reqs = Counter("the connected client's requests")
        # connected before the refusal is tried
        if not wait_for(lambda: int(read(self.path("client.count")) or "0") > 0):
            raise Fail("the connected client did not connect: %s" % read(self.path("client.log"))[-300:])

    def client_ok(self):
        self.reqs.grows(lambda: int(read(self.path("client.count")) or "0"))
        if "bad" in read(self.path("client.log")):
            raise Fail("the connected client says: %s" % read(self.path("client.log")).strip()[-300:])


class Redis(App, ConnectedClient):
    name = "redis"
    pkgs = ("redis-server", "redis-tools")
    cmds = ("redis-server", "redis-cli")
    opts = ("--tcp-established",)

    def cli(self, *args):
        return run(["redis-cli", "-p", str(self.port)] + list(args)).strip()

    def start(self):
        self.port = free_port()
        pid = self.spawn(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.work,
                          "--save", "", "--daemonize", "no"])
        wait_for(lambda: self.cli("ping") == "PONG")
        run(["redis-benchmark", "-p", str(self.port), "-q", "-n", "20000", "-t", "set", "-r", "5000", "-d", "100"])
        self.cli("set", "foo", "bar")
        self.cli("set", "ctr", "0")
        self.keys = int(self.cli("dbsize"))
        self.client("INCR ctr")
        return pid

    def check(self):
        if self.cli("get", "foo") != "bar" or int(self.cli("dbsize")) != self.keys:
            raise Fail("the data changed")
        self.client_ok()

    def after(self):
        # a fork of the restored server writes the data out
        last = self.cli("lastsave")
        self.cli("bgsave")
        if not wait_for(lambda: self.cli("lastsave") != last, 20):
            raise Fail("BGSAVE did not finish")
        if "rdb_last_bgsave_status:ok" not in self.cli("info", "persistence"):
            raise Fail("BGSAVE failed: %s" % self.cli("info", "persistence"))

    def refusals(self):
        # the client's connection, without --tcp-established
        return [((), [r"TCP connection 127\.0\.0\.1:%d" % self.port, r"--tcp-established"])]


class Memcached(App, ConnectedClient):
    name = "memcached"
    pkgs = ("memcached",)
    cmds = ("memcached",)
    opts = ("--tcp-established",)

    def mc(self, cmd):
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(cmd.encode())
            data = b""
            while not (data.endswith(b"END\r\n") or data.endswith(b"STORED\r\n") or b"\r\n" in data and
                       not cmd.startswith("get")):
                b = s.recv(65536)
                if not b:
                    break
                data += b
        return data.decode()

    def start(self):
        self.port = free_port()
        pid = self.spawn(["memcached", "-p", str(self.port), "-l", "127.0.0.1", "-U", "0", "-m", "64", "-t", "4"] +
                         ([] if self.user else ["-u", "root"]))
        wait_for(lambda: "STORED" in self.mc("set k 0 0 5\r\nhello\r\n"))
        for i in range(200):
            self.mc("set key%d 0 0 %d\r\n%s\r\n" % (i, len(str(i * 7)), i * 7))
        self.mc("set ctr 0 0 1\r\n0\r\n")
        self.client("incr ctr 1")
        return pid

    def check(self):
        if "hello" not in self.mc("get k\r\n") or "\r\n1386\r\n" not in self.mc("get key198\r\n"):
            raise Fail("the data changed")
        self.client_ok()


NGINX_CONF = '''
daemon off;
master_process on;
worker_processes 2;
pid {w}/nginx.pid;
error_log {w}/error.log;
events {{ worker_connections 64; use epoll; }}
http {{
  access_log {w}/access.log;
  client_body_temp_path {w}/tmp; proxy_temp_path {w}/tmp; fastcgi_temp_path {w}/tmp;
  uwsgi_temp_path {w}/tmp; scgi_temp_path {w}/tmp;
  server {{ listen 127.0.0.1:{port}; root {w}/www; }}
}}
'''


class Nginx(App):
    """nginx: a master and two workers sharing the listening socket, epoll."""
    name = "nginx"
    pkgs = ("nginx-light",)
    cmds = ("nginx",)

    def start(self):
        self.port = free_port()
        for d in ("www", "tmp"):
            os.makedirs(self.path(d))
            self.own(self.path(d))
        with open(self.path("www", "index.html"), "w") as f:
            f.write("hello from nginx\n")
        with open(self.path("nginx.conf"), "w") as f:
            f.write(NGINX_CONF.format(w=self.work, port=self.port))
        pid = self.spawn([shutil.which("nginx"), "-c", self.path("nginx.conf"), "-p", self.work])
        wait_for(lambda: http_get(self.port))
        return pid

    def check(self):
        for _ in range(10):
            if http_get(self.port) != "hello from nginx\n":
                raise Fail("wrong page")

    def after(self):
        before = set(children(self.root))
        os.kill(self.root, signal.SIGHUP)
        if not wait_for(lambda: (lambda c: len(c) == 2 and not (c & before))(set(children(self.root))), 10):
            raise Fail("a reload (SIGHUP) did not replace the workers: %s -> %s" % (before,
                                                                                   children(self.root)))
        self.check()


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


class Postgres(App):
    """A postgresql cluster of its own, run as the postgres user: a postmaster
    and its helpers, shared memory (anonymous shared and a SysV segment),
    a pgbench client connected across every dump."""
    name = "postgresql"
    transient = 2           # autovacuum workers come and go
    pkgs = ("postgresql",)
    cmds = ("psql",)
    opts = ("--tcp-established",)
    as_user = False

    def bindir(self):
        vers = sorted(os.listdir("/usr/lib/postgresql"), key=lambda v: int(v) if v.isdigit() else 0)
        return "/usr/lib/postgresql/%s/bin" % vers[-1]

    def psql(self, sql):
        return run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-Atc", sql]).strip()

    def start(self):
        self.user = User("postgres")
        b = self.bindir()
        self.port = free_port()
        os.chown(self.work, self.user.uid, self.user.gid)
        run([b + "/initdb", "-D", self.path("data"), "-A", "trust", "-U", "postgres"], user=self.user)
        pid = self.spawn([b + "/postgres", "-D", self.path("data"), "-k", self.work, "-p", str(self.port),
                          "-c", "listen_addresses=127.0.0.1"])
        wait_for(lambda: self.psql("select 1") == "1", 30)
        self.psql("create table kept(a int); insert into kept select generate_series(1, 10000);")
        run([b + "/pgbench", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-i", "-s", "1",
             "postgres"])
        self.bench = spawn([b + "/pgbench", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-c", "4",
                            "-T", "600", "-P", "1", "postgres"], self.path("pgbench.log"))
        self.sids.append(self.bench)
        self.tx = Counter("pgbench's transactions")
        return pid

    def after(self):
        # parallel workers, started now, with dynamic shared memory (POSIX shm)
        q = ("set max_parallel_workers_per_gather = 2; set parallel_setup_cost = 0; set parallel_tuple_cost = 0; "
             "set min_parallel_table_scan_size = 0; select count(*) from pgbench_accounts")
        if self.psql(q).splitlines()[-1] != "100000":
            raise Fail("a parallel query gives a wrong count")
        self.check()

    def transactions(self):
        return int(self.psql("select sum(xact_commit) from pg_stat_database"))

    def check(self):
        if self.psql("select count(*), sum(a) from kept") != "10000|50005000":
            raise Fail("the table changed")
        self.tx.grows(self.transactions)
        log = read(self.path("pgbench.log"))
        if "aborted" in log or "error" in log.lower():
            raise Fail("pgbench says: %s" % log.strip()[-300:])
        if not alive(self.bench):
            raise Fail("pgbench is gone: %s" % log.strip()[-300:])


JAVA_APP = r'''
import java.net.*; import java.io.*; import java.util.concurrent.*; import java.util.concurrent.atomic.*;
public class App {
  public static void main(String[] a) throws Exception {
    AtomicLong n = new AtomicLong();
    ExecutorService pool = Executors.newFixedThreadPool(32);
    for (int i = 0; i < 32; i++) pool.submit(() -> { byte[][] junk = new byte[64][]; int j = 0;
      while (true) { n.incrementAndGet(); junk[j++ % 64] = new byte[4096]; try { Thread.sleep(2); } catch (Exception e) {} } });
    ServerSocket ss = new ServerSocket(Integer.parseInt(a[0]), 50, InetAddress.getByName("127.0.0.1"));
    while (true) { try (Socket s = ss.accept()) { System.gc(); s.getOutputStream().write((n.get() + "\n").getBytes()); } }
  }
}
'''


class Java(App):
    """A JVM with 32 busy threads (and the JVM's own), the GC run on each request."""
    name = "java"
    pkgs = ("default-jdk-headless",)
    cmds = ("java", "javac")

    def start(self):
        with open(self.path("App.java"), "w") as f:
            f.write(JAVA_APP)
        run(["javac", "-d", self.work, self.path("App.java")], timeout=180)
        self.port = free_port()
        self.n = Counter("the JVM's counter")
        pid = self.spawn(["java", "-Xmx256m", "-cp", self.work, "App", str(self.port)])
        wait_for(lambda: line_from(self.port), 60)
        return pid

    def check(self):
        self.n.grows(lambda: int(line_from(self.port)))


class Screen(App):
    """GNU screen with a shell running a pipeline."""
    name = "screen"
    transient = 1
    pkgs = ("screen",)
    cmds = ("screen",)

    def screen(self, *args):
        return run(["screen", "-S", "crs"] + list(args), user=self.user, env={"SCREENDIR": self.path("sd"),
                                                                              "SHELL": "/bin/bash"})

    def start(self):
        os.makedirs(self.path("sd"), mode=0o700)
        self.own(self.path("sd"))
        run(["screen", "-dmS", "crs"], user=self.user, env={"SCREENDIR": self.path("sd"), "SHELL": "/bin/bash"})
        self.screen("-X", "stuff", "while :; do date +%s; sleep 0.2; done | cat -n\n")
        pid = int(wait_for(lambda: re.search(r"(\d+)\.crs", run(["screen", "-ls"], user=self.user, check=False,
                                                                 env={"SCREENDIR": self.path("sd")})).group(1)))
        self.sids.append(pid)
        self.n = Counter("the window's lines")
        return pid

    def last(self):
        out = self.path("hc.txt")
        if os.path.exists(out):
            os.unlink(out)
        self.screen("-X", "hardcopy", out)
        nums = re.findall(r"^\s*(\d+)\s+\d+", wait_for(lambda: read(out)) or "", re.M)
        return int(nums[-1]) if nums else 0

    def check(self):
        self.n.grows(self.last)


class VimShellJob(App):
    """vim in a tmux window, dumped with --shell-job and restored by a criu
    typed in another window: it must take that terminal (raw mode, redrawn)
    and go on editing; ^Z and fg go through criu."""
    name = "vim-shell-job"
    pkgs = ("vim-nox", "tmux")
    cmds = ("vim", "tmux")
    as_user = False         # the windows' shells run criu, as root; vim runs as the user

    def tmux(self, *args):
        return run(["tmux", "-S", self.sock] + list(args))

    def screen(self, w):
        return self.tmux("capture-pane", "-p", "-t", "s:%d" % w)

    def custom(self, user, imgs):
        self.sock = self.path("tmux.sock")
        text = self.path("edited.txt")
        with open(text, "w") as f:
            f.write("")
        os.chown(text, user.uid, user.gid)
        self.tmux("new-session", "-d", "-s", "s", "-x", "100", "-y", "25")
        self.sids.append(int(self.tmux("display-message", "-p", "#{pid}").strip()))
        self.tmux("new-window", "-t", "s")
        self.tmux("send-keys", "-t", "s:0", "setpriv --reuid %d --regid %d --clear-groups env HOME=%s "
                  "vim -u NONE -n %s" % (user.uid, user.gid, user.home, text), "Enter")
        pid = wait_for(lambda: int(run(["pgrep", "-f", "vim -u NONE -n " + text]).split()[0]))
        self.tmux("send-keys", "-t", "s:0", "ibefore the dump", "Escape")
        if not wait_for(lambda: "before the dump" in self.screen(0)):
            raise Fail("vim did not start")
        shutil.rmtree(imgs, ignore_errors=True)
        os.makedirs(imgs)
        rc, err = criu("dump", "-t", pid, "-D", imgs, "-o", "dump.log", "-v4", "--shell-job")
        if rc:
            raise Fail("dump failed: %s" % err.strip()[-300:])
        self.tmux("send-keys", "-t", "s:1", "clear; %s restore -D %s -o restore.log -v4 --shell-job; "
                  "echo criu-exit=$?" % (CRIU, imgs), "Enter")
        if not wait_for(lambda: "before the dump" in self.screen(1)):
            raise Fail("the restored vim did not draw itself in the new window: %r" % self.screen(1)[-300:])
        self.tmux("send-keys", "-t", "s:1", "A, after the restore", "Escape")
        if not wait_for(lambda: "before the dump, after the restore" in self.screen(1)):
            raise Fail("the restored vim does not take input: %r" % self.screen(1)[-300:])
        self.tmux("send-keys", "-t", "s:1", "C-z", "")
        if not wait_for(lambda: "criu-exit=148" in self.screen(1)):
            raise Fail("^Z did not stop criu with vim: %r" % self.screen(1)[-300:])
        self.tmux("send-keys", "-t", "s:1", "fg", "Enter")
        time.sleep(0.5)
        self.tmux("send-keys", "-t", "s:1", "o", "and after fg", "Escape", ":wq", "Enter")
        if not wait_for(lambda: "after fg" in read(text)):
            raise Fail("vim did not write the file after fg: %r / %r" % (read(text), self.screen(1)[-300:]))
        if read(text) != "before the dump, after the restore\nand after fg\n":
            raise Fail("the file is %r" % read(text))


MP_APP = r"""
import multiprocessing as mp, socket, sys, threading, time
from multiprocessing import shared_memory

def work(a):
    shm = shared_memory.SharedMemory(name=a[0])
    shm.buf[a[1]] = (shm.buf[a[1]] + 1) % 256
    shm.close()
    return a[1] * a[1]

if __name__ == "__main__":
    ctx = mp.get_context("forkserver")
    shm = shared_memory.SharedMemory(create=True, size=1 << 20)
    shm.buf[:16] = bytes(16)
    rounds = ctx.Value("q", 0)
    pool = ctx.Pool(4)
    q = ctx.Queue()
    def loop():
        while True:
            r = pool.map(work, [(shm.name, i) for i in range(16)])
            with rounds.get_lock():
                rounds.value += 1
            # each worker added one to its byte of the shared memory
            if r != [i * i for i in range(16)] or set(shm.buf[:16]) != {rounds.value % 256}:
                q.put("bad")
            q.put(rounds.value)
            time.sleep(0.01)
    threading.Thread(target=loop, daemon=True).start()
    last = [0]
    def drain():
        while True:
            last[0] = q.get()
    threading.Thread(target=drain, daemon=True).start()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen(5)
    while True:
        c, _ = s.accept()
        c.sendall(("%s %d\n" % (last[0], rounds.value)).encode())
        c.close()
"""


class PythonMultiprocessing(App):
    """multiprocessing: a forkserver, a pool of 4 workers, POSIX shared
    memory and semaphores (/dev/shm), a Queue with its feeder thread, the
    resource tracker."""
    name = "python-multiprocessing"
    quick = True
    cmds = (PY,)

    def start(self):
        with open(self.path("app.py"), "w") as f:
            f.write(MP_APP)
        self.port = free_port()
        self.n = Counter("the pool's rounds")
        pid = self.spawn([PY, self.path("app.py"), str(self.port)])
        wait_for(lambda: line_from(self.port), 20)
        return pid

    def rounds(self):
        last, n = line_from(self.port).split()
        if last == "bad":
            raise Fail("a pool worker's result or shared memory byte is wrong")
        return int(n)

    def check(self):
        self.n.grows(self.rounds)


RUBY_APP = r"""
require 'socket'
n = 0
m = Mutex.new
q = Queue.new
4.times { |i| Thread.new { k = 0; loop { q << [i, k]; k += 1; sleep 0.01 } } }
seen = Hash.new(-1)
Thread.new { loop { i, k = q.pop; abort "lost #{i} #{k}" if k != seen[i] + 1; seen[i] = k; m.synchronize { n += 1 } } }
rd, wr = IO.pipe
pid = fork { rd.close; loop { wr.puts Process.pid; sleep 0.05 } }
wr.close
kid = 0
Thread.new { loop { kid += 1 if rd.gets } }
srv = TCPServer.new('127.0.0.1', ARGV[0].to_i)
loop { c = srv.accept; c.puts("#{m.synchronize { n }} #{kid}"); c.close }
"""


class Ruby(App):
    """ruby: threads through a Queue, a forked child writing through a pipe, a server socket."""
    name = "ruby"
    quick = True
    pkgs = ("ruby",)
    cmds = ("ruby",)

    def start(self):
        with open(self.path("app.rb"), "w") as f:
            f.write(RUBY_APP)
        self.port = free_port()
        self.n, self.kid = Counter("the queue's items"), Counter("the child's lines")
        pid = self.spawn(["ruby", self.path("app.rb"), str(self.port)])
        wait_for(lambda: line_from(self.port))
        return pid

    def check(self):
        self.n.grows(lambda: int(line_from(self.port).split()[0]))
        self.kid.grows(lambda: int(line_from(self.port).split()[1]))


def dns_query(port, name, timeout=1):
    """The A record of @name from a DNS server on 127.0.0.1:@port, or None."""
    qid = os.getpid() & 0xffff
    pkt = qid.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    for part in name.split("."):
        pkt += bytes([len(part)]) + part.encode()
    pkt += b"\x00\x00\x01\x00\x01"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(pkt, ("127.0.0.1", port))
        r = s.recv(4096)
    if int.from_bytes(r[6:8], "big") == 0:
        return None
    # the answer ends with the address of the (only) A record
    return ".".join(str(b) for b in r[-4:])


class Dnsmasq(App):
    """dnsmasq answering DNS over UDP from a hosts file, reread on SIGHUP."""
    name = "dnsmasq"
    pkgs = ("dnsmasq-base",)
    cmds = ("/usr/sbin/dnsmasq",)

    def start(self):
        self.port = free_port()
        self.hosts = self.path("hosts")
        with open(self.hosts, "w") as f:
            f.write("10.1.2.3 kept.criu.test\n")
        argv = ["/usr/sbin/dnsmasq", "-k", "-C", "/dev/null", "--port=%d" % self.port,
                "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
                "--addn-hosts=" + self.hosts, "--pid-file=", "--log-facility=" + self.path("dnsmasq.log"),
                "--user=" + (self.user.name if self.user else "root")]
        pid = self.spawn(argv)
        wait_for(lambda: dns_query(self.port, "kept.criu.test"))
        return pid

    def check(self):
        for _ in range(5):
            a = dns_query(self.port, "kept.criu.test")
            if a != "10.1.2.3":
                raise Fail("kept.criu.test is %s" % a)

    def after(self):
        with open(self.hosts, "a") as f:
            f.write("10.4.5.6 new.criu.test\n")
        os.kill(self.root, signal.SIGHUP)
        if wait_for(lambda: dns_query(self.port, "new.criu.test")) != "10.4.5.6":
            raise Fail("after SIGHUP the new host is not served")
        self.check()


SSHD_CONF = """
Port {port}
ListenAddress 127.0.0.1
HostKey {w}/host_key
PidFile {w}/sshd.pid
AuthorizedKeysFile {w}/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowUsers {user}
PrintMotd no
PrintLastLog no
"""


class Sshd(App):
    """OpenSSH's sshd (run by root: a listener, a privileged monitor and
    the user's unprivileged process per connection) with an ssh session on
    a pty, its client outside the tree connected across every dump."""
    name = "sshd"
    transient = 1           # the session's sleep
    pkgs = ("openssh-server", "openssh-client")
    cmds = ("/usr/sbin/sshd", "ssh", "ssh-keygen")
    opts = ("--tcp-established",)
    as_user = False

    def ssh(self, *args, tty=False):
        return ["ssh", "-i", self.path("id"), "-p", str(self.port), "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"] + \
            (["-tt"] if tty else ["-T"]) + ["%s@127.0.0.1" % USER] + list(args)

    def start(self):
        self.port = free_port()
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.path("host_key")])
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.path("id")])
        shutil.copy(self.path("id.pub"), self.path("authorized_keys"))
        with open(self.path("sshd_config"), "w") as f:
            f.write(SSHD_CONF.format(port=self.port, w=self.work, user=USER))
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        # a locked account ("!") may not log in without PAM; "*" has no password either
        if "%s:!" % USER in read("/etc/shadow"):
            run(["usermod", "-p", "*", USER])
        pid = self.spawn(["/usr/sbin/sshd", "-D", "-e", "-f", self.path("sshd_config")], out="sshd.log")
        if not wait_for(lambda: run(self.ssh("echo ok-$((6*7))"), check=False, timeout=10).strip() == "ok-42", 10):
            raise Fail("no ssh login: %s" % run(self.ssh("true"), check=False, timeout=10))
        self.sids.append(spawn(self.ssh("i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done", tty=True),
                               self.path("session.log")))
        self.ticks = Counter("the ssh session's ticks")
        # the session runs before the refusal is tried
        if not wait_for(lambda: self.last_tick() > 0, 15):
            raise Fail("the ssh session does not run: %s" % read(self.path("session.log"))[-300:])
        return pid

    def last_tick(self):
        m = re.findall(r"tick (\d+)", read(self.path("session.log")))
        nums = [int(x) for x in m]
        if nums != list(range(1, len(nums) + 1)):
            raise Fail("the session's ticks are not 1..N")
        return nums[-1] if nums else 0

    def check(self):
        out = run(self.ssh("echo ok-$((6*7)) $(id -un)"), check=False, timeout=20).strip()
        if out != "ok-42 " + USER:
            raise Fail("a new ssh login says %r" % out[-300:])
        self.ticks.grows(self.last_tick)

    def refusals(self):
        return [((), [r"TCP connection 127\.0\.0\.1:%d" % self.port, r"--tcp-established"])]


SUBREAPER_EXEC = "import ctypes, os, sys; ctypes.CDLL(None).prctl(36, 1, 0, 0, 0); os.execvp(sys.argv[1], sys.argv[1:])"
CHROMIUM_PAGE = "data:text/html,<script>let n=0;setInterval(()=>{document.title='n'+(++n)},20)</script>"


class Chromium(App):
    """Headless chromium: a browser process, its zygotes, a network
    service, a renderer per page, its crash handlers; a page whose script counts in its
    title, read and a new page opened through the DevTools HTTP endpoint."""
    name = "chromium"
    pkgs = ("chromium",)
    cmds = ("chromium",)
    transient = 2
    opts = ("--file-locks",)   # its profile's sqlite databases
    # its network change notifier reads the kernel's answers a moment later
    transient_refusals = (r"netlink route socket .* has messages queued",)

    def devtools(self, what, method="GET"):
        req = urllib.request.Request("http://127.0.0.1:%d/json/%s" % (self.port, what), method=method)
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def start(self):
        self.port = free_port()
        # a subreaper, as a user would run it (under an init like tini): its crash
        # handler forks twice to leave it and would otherwise be outside the tree
        pid = self.spawn([PY, "-c", SUBREAPER_EXEC, "chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--no-default-browser-check", "--disable-breakpad", "--disable-crash-reporter", "--enable-logging=stderr",
                          "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=%d" % self.port,
                          "--user-data-dir=" + self.path("profile"), CHROMIUM_PAGE], out="chromium.log")
        if not wait_for(lambda: self.title(), 60):
            raise Fail("chromium shows no counting page: %s" % read(self.path("chromium.log"))[-300:])
        self.n = Counter("the page's counter")
        return pid

    def title(self):
        for t in self.devtools("list"):
            if t.get("type") == "page" and re.match(r"n\d+$", t.get("title", "")):
                return int(t["title"][1:])
        return 0

    def check(self):
        self.n.grows(self.title, timeout=10)

    def after(self):
        self.devtools("new?data:text/html,<script>document.title='x'+6*7</script>", method="PUT")
        if not wait_for(lambda: any(t.get("title") == "x42" for t in self.devtools("list")), 20):
            raise Fail("a page opened after the restore does not run its script")
        self.check()


class Mariadb(App, ConnectedClient):
    """MariaDB (InnoDB and its I/O threads; without native AIO, which is
    io_uring here and refused by name) with a client outside the tree
    inserting on one connection across every dump."""
    name = "mariadb"
    pkgs = ("mariadb-server", "mariadb-client")
    cmds = ("/usr/sbin/mariadbd", "mariadb", "mariadb-install-db")
    opts = ("--tcp-established", "--file-locks")

    def refusals(self):
        # its files' locks, without --file-locks
        return [(("--tcp-established",), [r"fd \d+ \(.*/data/aria_log_control\) holds a file lock", r"--file-locks"])]

    def sql(self, q):
        return run(["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", str(self.port), "-uroot", "-N", "-B",
                    "-e", q]).strip()

    def start(self):
        self.port = free_port()
        base = ["--no-defaults", "--datadir=" + self.path("data")]
        me = ["--user=" + (self.user.name if self.user else "root")]
        run(["mariadb-install-db"] + base + me + ["--skip-test-db", "--auth-root-authentication-method=normal"],
            user=self.user, timeout=180)
        pid = self.spawn(["/usr/sbin/mariadbd"] + base + me + [
            "--socket=" + self.path("sock"), "--port=%d" % self.port, "--bind-address=127.0.0.1",
            "--skip-grant-tables", "--pid-file=" + self.path("pid"), "--log-error=" + self.path("error.log"),
            "--innodb-buffer-pool-size=32M", "--innodb-use-native-aio=0"])   # io_uring: refused, not supported
        if not wait_for(lambda: self.sql("select 6*7") == "42", 60):
            raise Fail("mariadbd did not start: %s" % read(self.path("error.log"))[-400:])
        self.sql("create database d; use d; create table d.kept(a int) engine=innodb; "
                 "insert into d.kept select seq from seq_1_to_10000; create table d.t(id int auto_increment "
                 "primary key, v int) engine=innodb;")
        self.sids.append(spawn(["sh", "-c", "while :; do echo 'insert into d.t(v) values(1); "
                                "select concat(\"n \", count(*)) from d.t;'; sleep 0.02; done | mariadb "
                                "--no-defaults -h 127.0.0.1 -P %d -uroot -N -B --unbuffered" % self.port],
                               self.path("client.log")))
        self.rows = Counter("the client's rows")
        return pid

    def nrows(self):
        m = re.findall(r"^n (\d+)$", read(self.path("client.log")), re.M)
        return int(m[-1]) if m else 0

    def check(self):
        if self.sql("select count(*), sum(a) from d.kept") != "10000\t50005000":
            raise Fail("the table changed")
        self.rows.grows(self.nrows)
        if "ERROR" in read(self.path("client.log")):
            raise Fail("the connected client says: %s" % read(self.path("client.log")).strip()[-300:])

    def after(self):
        if self.sql("check table d.t").split("\t")[-1] != "OK":
            raise Fail("check table: %s" % self.sql("check table d.t"))
        self.check()


APPS = [PythonHttp, PythonHttpLoad, PythonSlowAccept, PythonSqlite, PythonAsyncio, PythonMultiprocessing, Perl, Ruby, Tcl, Node, Pipeline, TailF, Tmux,
        Redis, Memcached, Nginx, Postgres, Mariadb, Dnsmasq, Sshd, Java, Screen, Chromium, VimShellJob]


# --------------------------------------------------------------------------
# the driver

results = []


def report(name, step, why=None, skip=False):
    if skip:
        results.append("skip")
        print("SKIP %s: %s" % (name, why), flush=True)
    elif why is None:
        results.append("pass")
        print("PASS %s: %s" % (name, step), flush=True)
    else:
        results.append("fail")
        print("FAIL %s: %s: %s" % (name, step, " ".join(str(why).split())[:1200]), flush=True)


def tree_of(pid):
    out = [pid]
    for c in children(pid):
        out += tree_of(c)
    return out


def step(app, name, fn):
    t0 = time.time()
    try:
        fn()
    except Fail as e:
        report(app.name, name, e)
        return False
    except Exception as e:
        report(app.name, name, "test error: %s: %s" % (type(e).__name__, e))
        return False
    report(app.name, "%s (%.1f s)" % (name, time.time() - t0))
    return True


def leftovers(app):
    """Processes of the app's sessions still there after its stop."""
    left = []
    for s in app.sids:
        left += [(p, read("/proc/%d/comm" % p).strip()) for p in session_pids(s)]
    if app.root and alive(app.root):
        left.append((app.root, read("/proc/%d/comm" % app.root).strip()))
    return left


def run_app(cls, work, user, cycles, as_root):
    app = cls(os.path.join(work, cls.name + ("-root" if as_root else "")), user, as_root)
    os.makedirs(app.work)
    os.chmod(app.work, 0o755)
    try:
        need(cls.pkgs, cls.cmds)
    except Skip as e:
        report(app.name, "", str(e), skip=True)
        return
    try:
        if app.user:
            app.own(app.work)
        if hasattr(app, "custom"):
            step(app, "dump and restore", lambda: app.custom(user, os.path.join(work, "images", os.path.basename(app.work))))
            return

        def start():
            app.root = app.start()
            app.check()
        if not step(app, "start", start):
            return
        # root's, apart from the program's files (a watched directory would see it made)
        imgs = os.path.join(work, "images", os.path.basename(app.work))

        for k, (opts, patterns) in enumerate(app.refusals()):
            def refused():
                pids = tree_of(app.root)
                shutil.rmtree(imgs, ignore_errors=True)
                os.makedirs(imgs)
                rc, err = criu("dump", "-t", app.root, "-D", imgs, "-o", "dump.log", *opts)
                if rc == 0:
                    raise Fail("the dump was not refused")
                text = err + read(os.path.join(imgs, "dump.log"))
                for p in patterns:
                    if not re.search(p, text):
                        raise Fail("the refusal does not say /%s/: %s" % (p, err.strip()[-400:]))
                # processes of the tree may come and go (a shell's sleep): those that stay run on
                gone = [p for p in pids if not alive(p)]
                if not alive(app.root) or len(gone) > app.transient or any(state(p) in ("T", "t") for p in pids):
                    raise Fail("processes %s were not left running" % [(p, state(p)) for p in pids])
                app.check()
            step(app, "refused dump %d" % (k + 1), refused)

        for i in range(cycles):
            def leave_running():
                pids = tree_of(app.root)
                shutil.rmtree(imgs, ignore_errors=True)
                os.makedirs(imgs)
                rc, err = dump(app, imgs, "-o", "dump.log", "-v4", "-R", *(app.opts + app.dump_opts))
                if rc:
                    raise Fail("dump -R failed: %s %s" % (err.strip()[-300:], log_errors(imgs, "dump.log")))
                # processes of the tree may come and go (a shell's sleep): those that stay run on
                if not alive(app.root) or any(state(p) in ("T", "t") for p in pids):
                    raise Fail("the tree did not go on after dump -R: %s" % [(p, state(p)) for p in pids])
                app.check()
            step(app, "dump -R #%d" % (i + 1), leave_running)

        for i in range(cycles):
            def dump_restore():
                nprocs = len(tree_of(app.root))
                shutil.rmtree(imgs, ignore_errors=True)
                os.makedirs(imgs)
                t0 = time.time()
                rc, err = dump(app, imgs, "-o", "dump.log", "-v4", *(app.opts + app.dump_opts))
                if rc:
                    raise Fail("dump failed: %s %s" % (err.strip()[-300:], log_errors(imgs, "dump.log")))
                if not wait_gone(app.root) and alive(app.root):
                    raise Fail("the dumped tree is still there")
                t1 = time.time()
                rc, err = criu("restore", "-D", imgs, "-o", "restore.log", "-v4", "-d",
                               "--pidfile", os.path.join(imgs, "pid"), *(app.opts + app.restore_opts))
                if rc:
                    raise Fail("restore failed: %s %s" % (err.strip()[-300:], log_errors(imgs, "restore.log")))
                t2 = time.time()
                if not alive(app.root) or len(tree_of(app.root)) < nprocs - app.transient:
                    raise Fail("the restored tree is not whole: %s" % tree_of(app.root))
                if VERBOSE:
                    print("    dump %.2f s, restore %.2f s, %d processes" % (t1 - t0, t2 - t1, nprocs))
                app.check()
            if not step(app, "dump and restore #%d" % (i + 1), dump_restore):
                return
        step(app, "after the restores", app.after)
    finally:
        app.stop()
        left = wait_for(lambda: not leftovers(app), 5) or leftovers(app)
        if left is not True:
            report(app.name, "cleanup", "processes left behind: %s" % left)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="only programs a new machine has")
    ap.add_argument("--only", action="append", default=[], metavar="NAME")
    ap.add_argument("--cycles", type=int, default=2, help="dumps -R and dump+restores of each (2)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--as", dest="who", choices=("user", "root", "both"), default="both",
                    help="run the programs as the unprivileged user, as root or both (both)")
    a = ap.parse_args()
    install[0] = not a.quick
    if a.list:
        for c in APPS:
            print("%-22s %s%s" % (c.name, "quick " if c.quick else "      ", " ".join(c.pkgs)))
        return 0
    if os.geteuid() != 0:
        print("apps.py must run as root", file=sys.stderr)
        return 2
    if not os.access(CRIU, os.X_OK):
        print("no criu at %s: build it first" % CRIU, file=sys.stderr)
        return 2
    unknown = set(a.only) - {c.name for c in APPS}
    if unknown:
        print("unknown program(s): %s (see --list)" % ", ".join(sorted(unknown)), file=sys.stderr)
        return 2
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    threading.Thread(target=reaper, daemon=True).start()
    user = ensure_user()
    work = tempfile.mkdtemp(prefix="criu-apps-")
    os.chmod(work, 0o755)
    os.mkdir(os.path.join(work, "images"), 0o700)
    try:
        for c in APPS:
            if a.only and c.name not in a.only:
                continue
            if a.quick and not a.only and not c.quick:
                continue
            for as_root in (False, True):
                if c.as_user and a.who == ("user" if as_root else "root"):
                    continue
                if not c.as_user and as_root:
                    continue
                run_app(c, work, user, a.cycles, as_root)
    finally:
        reaper_stop.set()
        if a.keep:
            print("work directory kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    p, f, s = results.count("pass"), results.count("fail"), results.count("skip")
    print("apps: %d passed, %d failed, %d skipped" % (p, f, s))
    return 1 if f else 0


if __name__ == "__main__":
    sys.exit(main())
