#!/usr/bin/env python3
"""The swrk protocol from a client's side: every request type, the
notifications in their order with their answers, the reply fields clients
dereference, and bad input (malformed or unknown requests, wrong fds, a
client that goes away, a client without the rights to what it asks).

Each check prints "PASS name" or "FAIL name: why"; the last line is
"rpc: N passed, M failed". Must run as root. Names on the command line
run only those cases. The criu binary is $CRIU or
<repo>/build/criu/criu.
"""

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
CRIU = os.environ.get("CRIU", os.path.join(REPO, "build", "criu", "criu"))
NOBODY = 65534
sys.path.insert(0, HERE)
from criu_rpc import Swrk, TYPES, score  # noqa: E402

T = TYPES
results = []
TMP = None
COUNTER = None
targets = []

COUNTER_C = r"""
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
/* counts up in memory and shows the count in a file: the count must go on after a restore */
int main(int argc, char **argv)
{
	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	char b[32];

	if (fd < 0)
		return 1;
	for (unsigned long n = 0;; n++) {
		int l = snprintf(b, sizeof(b), "%020lu\n", n);
		if (pwrite(fd, b, l, 0) != l)
			return 1;
		usleep(5000);
	}
}
"""


class Fail(Exception):
    pass


def check(name, fn, *args):
    # rpc_test.py NAME...: only those cases
    if sys.argv[1:] and name not in sys.argv[1:]:
        return
    try:
        fn(*args)
    except Fail as e:
        results.append((name, str(e)))
        print("FAIL %s: %s" % (name, " ".join(str(e).split())[:800]), flush=True)
    except Exception as e:
        results.append((name, "test error"))
        print("FAIL %s: test error: %s: %s" % (name, type(e).__name__, e), flush=True)
    else:
        results.append((name, None))
        print("PASS %s" % name, flush=True)


def expect(cond, why):
    if not cond:
        raise Fail(why)


def new_dir(tag, owner=None):
    d = tempfile.mkdtemp(prefix=tag + ".", dir=TMP)
    if owner is not None:
        os.chown(d, owner, owner)
    return d


class Target:
    """The counter in a session of its own, as a runtime's container init would be."""

    def __init__(self, user=None, netns=False):
        self.dir = new_dir("target", user)
        self.file = os.path.join(self.dir, "count")

        def pre():
            os.setsid()
            if netns and ctypes.CDLL(None, use_errno=True).unshare(0x40000000):
                os._exit(1)
            if user is not None:
                os.setgroups([])
                os.setgid(user)
                os.setuid(user)
        self.p = subprocess.Popen([COUNTER, self.file], preexec_fn=pre, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True)
        self.pid = self.p.pid
        targets.append(self)
        deadline = time.time() + 5
        while self.count() < 3:
            expect(time.time() < deadline, "the counter did not start")
            time.sleep(0.01)

    def count(self):
        try:
            with open(self.file) as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def alive(self):
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                return f.read().split(") ")[1][0] not in "ZX"
        except OSError:
            return False

    def counting(self):
        a = self.count()
        time.sleep(0.1)
        return self.count() > a

    def kill(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def dir_fd(path):
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY)


def request(req, on_notify=None, pass_fds=()):
    """One request in its own criu swrk, as runc and libcriu do; (reply, exit status)."""
    s = Swrk(CRIU, pass_fds=pass_fds, stderr=subprocess.DEVNULL)
    try:
        r = s.call(req, on_notify)
    except BaseException:
        s.p.kill()      # no criu left behind by a request that failed to answer
        s.close()
        raise
    rc = s.close()
    return r, rc


def failed_with(r, *words):
    expect(r is not None, "no reply")
    expect(r.get("success") is False, "succeeded: %r" % r)
    msg = r.get("cr_errmsg", "")
    for w in words:
        expect(w in msg, "cr_errmsg %r does not say %r" % (msg, w))


# ---- requests without images

def t_version():
    r, rc = request({"type": T["VERSION"]})
    expect(r and r["success"] and r["type"] == T["VERSION"], "reply %r" % r)
    v = r.get("version")
    expect(v and "major_number" in v and "minor_number" in v, "no version in %r" % r)
    expect(score(v) >= 40000, "version %r scores %d, below 4.0" % (v, score(v)))
    expect(rc == 0, "criu exited %r" % rc)


def t_feature_check():
    r, rc = request({"type": T["FEATURE_CHECK"], "features": {"mem_track": True, "lazy_pages": True}})
    expect(r and r["success"] and r["type"] == T["FEATURE_CHECK"], "reply %r" % r)
    f = r.get("features")
    expect(f is not None and all(k in f for k in ("mem_track", "lazy_pages", "pidfd_store")),
           "features not all set: %r" % f)
    # truthful: what `criu check --feature` says
    track = subprocess.run([CRIU, "check", "--feature", "mem_dirty_track"], capture_output=True).returncode == 0
    lazy = subprocess.run([CRIU, "check", "--feature", "lazy_pages"], capture_output=True).returncode == 0
    expect(f["mem_track"] is track and f["lazy_pages"] is lazy, "features %r, mem_dirty_track %r, lazy_pages %r" %
           (f, track, lazy))
    expect(rc == 0, "criu exited %r" % rc)


def t_check():
    r, rc = request({"type": T["CHECK"]})
    expect(r and r["success"] and r["type"] == T["CHECK"], "reply %r" % r)
    expect(rc == 0, "criu exited %r" % rc)


def t_check_opts():
    """CHECK's opts (libcriu's criu_check() sends the caller's) are taken: the log goes where
    log_file says, an option that means nothing for a check is ignored, named in the log (a
    libcriu caller's dump options come along: nothing a check could get wrong); without a dir
    (libcriu's images_dir_fd -1) the check still runs."""
    d = new_dir("img")
    fd = dir_fd(d)
    r, rc = request({"type": T["CHECK"], "opts": {"images_dir_fd": fd, "log_file": "check.log", "log_level": 4}},
                    pass_fds=(fd,))
    expect(r and r["success"] and rc == 0, "check: %r rc %r" % (r, rc))
    log = os.path.join(d, "check.log")
    expect(os.path.exists(log) and os.path.getsize(log) > 0, "no check.log in %r" % os.listdir(d))
    os.unlink(log)
    r, rc = request({"type": T["CHECK"], "opts": {"images_dir_fd": fd, "leave_running": True, "pid": 1,
                                                  "log_file": "check.log"}}, pass_fds=(fd,))
    os.close(fd)
    expect(r and r["success"] and rc == 0, "check with a dump's options: %r rc %r" % (r, rc))
    with open(log) as f:
        text = f.read()
    expect("criu_opts.leave_running (" in text and "means nothing for check: ignored" in text,
           "the check's log does not say the dump's options were ignored")
    r, rc = request({"type": T["CHECK"], "opts": {"images_dir_fd": -1}})
    expect(r and r["success"] and rc == 0, "check without a dir: %r rc %r" % (r, rc))
    r, rc = request({"type": T["CHECK"], "opts": {"images_dir_fd": -1, "log_file": "check.log"}})
    failed_with(r, "log_file", "images_dir_fd or work_dir_fd")


def t_keep_open():
    s = Swrk(CRIU, stderr=subprocess.DEVNULL)
    r1 = s.call({"type": T["VERSION"], "keep_open": True})
    r2 = s.call({"type": T["FEATURE_CHECK"]})
    rc = s.close()
    expect(r1 and r1["success"] and r2 and r2["success"] and "features" in r2, "replies %r %r" % (r1, r2))
    expect(rc == 0, "criu exited %r" % rc)


def t_unknown_type():
    r, rc = request({"type": 77})
    failed_with(r, "unknown request type 77")
    expect(r["type"] == T["EMPTY"], "reply type %r, not EMPTY" % r["type"])
    expect(rc != 0, "criu exited 0 after a failed request")


def t_not_yet(typ, words):
    d = new_dir("img")
    fd = dir_fd(d)
    r, _ = request({"type": T[typ], "opts": {"images_dir_fd": fd, "pid": 1}}, pass_fds=(fd,))
    os.close(fd)
    failed_with(r, *words)
    expect(r["type"] == T[typ], "reply type %r" % r["type"])


def t_malformed():
    s = Swrk(CRIU, stderr=subprocess.DEVNULL)
    s.send_raw(b"\xff\xff\xff\xff\x0f garbage")
    r = s.recv()
    rc = s.close()
    failed_with(r, "malformed")
    expect(rc not in (0, None), "criu exited %r" % rc)


def t_empty_packet():
    s = Swrk(CRIU, stderr=subprocess.DEVNULL)
    s.send_raw(b"")
    r = s.recv()
    rc = s.close()
    failed_with(r, "malformed")
    expect(rc not in (0, None), "criu exited %r" % rc)


def t_unknown_field(where):
    d = new_dir("img")
    fd = dir_fd(d)
    if where == "req":
        req = {"type": T["VERSION"], 100: 1}
    else:
        req = {"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": 1, 200: 1}}
    r, _ = request(req, pass_fds=(fd,))
    os.close(fd)
    failed_with(r, "field %d" % (100 if where == "req" else 200))


def t_no_client():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    p = subprocess.Popen([CRIU, "swrk", str(b.fileno())], pass_fds=(b.fileno(),), stderr=subprocess.PIPE)
    b.close()
    a.close()
    _, err = p.communicate(timeout=30)
    expect(p.returncode != 0 and b"closed the socket" in err, "rc %r, %r" % (p.returncode, err))


def t_not_a_socket():
    r = subprocess.run([CRIU, "swrk", "0"], stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    expect(r.returncode != 0 and b"SOCK_SEQPACKET" in r.stderr, "rc %d, %r" % (r.returncode, r.stderr))


# ---- dump and restore

DUMP_ORDER = ["pre-dump", "network-lock", "post-dump"]
RESTORE_ORDER = ["pre-restore", "setup-namespaces", "post-setup-namespaces", "post-restore",
                 "network-unlock", "pre-resume", "post-resume"]


def dump_opts(fd, pid, **kw):
    o = {"images_dir_fd": fd, "pid": pid, "log_level": 4, "log_file": "dump.log", "notify_scripts": True}
    o.update(kw)
    return o


def t_dump_restore():
    t = Target()
    d = new_dir("img")
    fd = dir_fd(d)
    seen = []

    def note(r):
        seen.append((r["notify"]["script"], r["notify"].get("pid")))
        return True
    r, rc = request({"type": T["DUMP"], "opts": dump_opts(fd, t.pid)}, note, (fd,))
    expect(r and r["success"] and r["type"] == T["DUMP"], "dump: %r" % r)
    expect("dump" in r, "the dump reply has no dump{} (libcriu dereferences it)")
    expect(rc == 0, "criu exited %r after the dump" % rc)
    expect([s for s, _ in seen] == DUMP_ORDER, "dump notifications %r" % seen)
    expect(not t.alive(), "the tree still runs after the dump")
    try:
        os.waitpid(t.pid, 0)
    except ChildProcessError:
        pass
    expect(os.path.exists(os.path.join(d, "inventory.img")), "no inventory.img")
    expect(os.path.exists(os.path.join(d, "dump.log")), "no dump.log in the images dir")
    before = t.count()

    seen.clear()
    r, rc = request({"type": T["RESTORE"], "opts": {"images_dir_fd": fd, "log_level": 4,
                     "log_file": "restore.log", "notify_scripts": True, "rst_sibling": True}}, note, (fd,))
    os.close(fd)
    expect(r and r["success"] and r["type"] == T["RESTORE"], "restore: %r" % r)
    expect(rc == 0, "criu exited %r after the restore" % rc)
    expect(r.get("restore", {}).get("pid") == t.pid, "restore.pid %r, not %d" % (r.get("restore"), t.pid))
    expect([s for s, _ in seen] == RESTORE_ORDER, "restore notifications %r" % seen)
    pids = dict(seen)
    expect(pids["setup-namespaces"] == t.pid and pids["post-restore"] == t.pid,
           "notification pids %r" % seen)
    expect(t.alive() and t.counting(), "the restored counter does not count")
    expect(t.count() > before, "the count went back")
    # rst_sibling: the restored root is our child
    t.kill()
    expect(not t.alive(), "the restored root was not our child")


def t_images_fd_in_foreign_dir():
    """podman's bundle of a container with a user namespace belongs to the
    container's root: the images dir root gives by fd is root's, the one
    above it someone else's. Read through the fd, it is taken; by its
    path (criu restore -D) it is still refused."""
    t = Target()
    top = new_dir("userdata", NOBODY)
    os.chmod(top, 0o700)
    d = os.path.join(top, "checkpoint")
    os.mkdir(d, 0o700)
    fd = dir_fd(d)
    r, rc = request({"type": T["DUMP"], "opts": dump_opts(fd, t.pid, notify_scripts=False)}, None, (fd,))
    expect(r and r["success"], "dump: %r" % r)
    try:
        os.waitpid(t.pid, 0)
    except ChildProcessError:
        pass
    p = subprocess.run([CRIU, "restore", "-d", "-D", d, "-o", "cli.log"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    expect(p.returncode != 0, "criu restore -D %s took images under a directory of uid %d" % (d, NOBODY))
    # an fd of the directory above is no fd of the images dir: nobody could swap checkpoint/ in it
    tfd = dir_fd(top)
    for past in ("checkpoint", "../%s/checkpoint" % os.path.basename(top)):
        p = subprocess.run([CRIU, "restore", "-d", "-D", "/proc/self/fd/%d/%s" % (tfd, past), "-o", "cli.log"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           pass_fds=(tfd,))
        expect(p.returncode != 0, "criu restore -D /proc/self/fd/N/%s took images under a directory of uid %d"
               % (past, NOBODY))
    os.close(tfd)
    r, rc = request({"type": T["RESTORE"], "opts": {"images_dir_fd": fd, "log_level": 4,
                     "log_file": "restore.log", "rst_sibling": True}}, None, (fd,))
    os.close(fd)
    if not (r and r["success"]):
        with open(os.path.join(d, "restore.log"), errors="replace") as f:
            errs = [ln for ln in f if "Error" in ln]
        raise Fail("restore from the fd: %r %s" % (r, " ".join(errs[-2:])))
    expect(t.alive() and t.counting(), "the restored counter does not count")
    t.kill()


def t_dump_leave_running_no_notify():
    t = Target()
    d = new_dir("img")
    fd = dir_fd(d)
    wd = new_dir("work")
    wfd = dir_fd(wd)
    r, rc = request({"type": T["DUMP"], "opts": {"images_dir_fd": fd, "work_dir_fd": wfd, "pid": t.pid,
                     "leave_running": True, "log_file": "dump.log", "log_level": 4}}, pass_fds=(fd, wfd))
    os.close(fd)
    os.close(wfd)
    expect(r and r["success"] and "dump" in r and rc == 0, "dump: %r, rc %r" % (r, rc))
    expect(t.alive() and t.counting(), "the tree does not run on")
    expect(os.path.exists(os.path.join(wd, "dump.log")) and os.path.exists(os.path.join(wd, "stats-dump")),
           "log or stats not in the work dir: %r" % os.listdir(wd))
    t.kill()
    # its file changed since: the restoring child's error is the reply's cr_errmsg
    fd = dir_fd(d)
    r, rc = request({"type": T["RESTORE"], "opts": {"images_dir_fd": fd, "log_file": "restore.log",
                     "rst_sibling": True}}, pass_fds=(fd,))
    os.close(fd)
    failed_with(r, "changed")
    expect(not t.alive(), "a failed restore left the tree")


def t_notify_refused(at):
    t = Target()
    d = new_dir("img")
    fd = dir_fd(d)
    r, rc = request({"type": T["DUMP"], "opts": dump_opts(fd, t.pid)},
                    lambda r: r["notify"]["script"] != at, (fd,))
    os.close(fd)
    failed_with(r, "refused " + at)
    expect(t.alive() and t.counting(), "the tree was harmed by a failed dump")
    expect(not os.path.exists(os.path.join(d, "inventory.img")), "a failed dump left inventory.img")
    t.kill()


def t_client_vanishes(at):
    t = Target()
    d = new_dir("img")
    fd = dir_fd(d)
    s = Swrk(CRIU, pass_fds=(fd,), stderr=subprocess.DEVNULL)
    s.send({"type": T["DUMP"], "opts": dump_opts(fd, t.pid)})
    while True:
        r = s.recv()
        expect(r is not None and r.get("type") == T["NOTIFY"], "no notification %s: %r" % (at, r))
        if r["notify"]["script"] == at:
            break
        s.send({"type": T["NOTIFY"], "notify_success": True})
    rc = s.close()
    os.close(fd)
    expect(rc not in (0, None), "criu exited %r with its client gone" % rc)
    expect(t.alive() and t.counting(), "the tree was harmed when the client went away")
    t.kill()


def t_vanish_without_notify():
    """No notifications: criu still sees its client gone before it kills the tree."""
    t = Target()
    d = new_dir("img")
    fd = dir_fd(d)
    s = Swrk(CRIU, pass_fds=(fd,), stderr=subprocess.DEVNULL)
    s.send({"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": t.pid}})
    s.sk.shutdown(socket.SHUT_RDWR)
    rc = s.close()
    os.close(fd)
    expect(rc not in (0, None), "criu exited %r with its client gone" % rc)
    expect(t.alive() and t.counting(), "the tree was killed with no one to tell")
    t.kill()


def t_restore_no_sibling_pid():
    """Without rst_sibling the reply still names the root (detached: criu does not wait)."""
    t = Target()
    d = new_dir("img")
    fd = dir_fd(d)
    r, _ = request({"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": t.pid}}, pass_fds=(fd,))
    expect(r and r["success"], "dump: %r" % r)
    t.kill()
    r, rc = request({"type": T["RESTORE"], "opts": {"images_dir_fd": fd}}, pass_fds=(fd,))
    os.close(fd)
    expect(r and r["success"] and r.get("restore", {}).get("pid") == t.pid and rc == 0,
           "restore: %r rc %r" % (r, rc))
    expect(t.alive() and t.counting(), "restored tree does not run")
    os.kill(t.pid, signal.SIGKILL)


def t_wait_pid():
    """A root restored without rst_sibling is criu's child: WAIT_PID in the same session."""
    t = Target()
    d = new_dir("img")
    fd = dir_fd(d)
    r, _ = request({"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": t.pid}}, pass_fds=(fd,))
    expect(r and r["success"], "dump: %r" % r)
    t.kill()
    s = Swrk(CRIU, pass_fds=(fd,), stderr=subprocess.DEVNULL)
    r = s.call({"type": T["RESTORE"], "keep_open": True, "opts": {"images_dir_fd": fd}})
    os.close(fd)
    expect(r and r["success"] and r["restore"]["pid"] == t.pid, "restore: %r" % r)
    expect(t.alive() and t.counting(), "restored tree does not run")
    os.kill(t.pid, signal.SIGTERM)
    r = s.call({"type": T["WAIT_PID"], "pid": t.pid})
    rc = s.close()
    expect(r and r["success"] and r.get("status") == signal.SIGTERM, "wait_pid: %r" % r)
    expect(rc == 0, "criu exited %r" % rc)
    r, _ = request({"type": T["WAIT_PID"], "pid": 1})
    failed_with(r, "only a child of this criu")


def t_second_dump_in_session():
    d = new_dir("img")
    fd = dir_fd(d)
    s = Swrk(CRIU, pass_fds=(fd,), stderr=subprocess.DEVNULL)
    r1 = s.call({"type": T["DUMP"], "keep_open": True, "opts": {"images_dir_fd": fd, "pid": 999999999}})
    r2 = s.call({"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": 1}})
    s.close()
    os.close(fd)
    failed_with(r1, "999999999")
    failed_with(r2, "one dump, restore or check with opts per swrk session")


def t_fuzz():
    """Mangled requests: criu answers or exits, never dies of a signal, harms nothing."""
    import random
    rnd = random.Random(11)
    from criu_rpc import encode
    d = new_dir("img")
    fd = dir_fd(d)
    gone = 2 ** 22 + 7      # above pid_max's default: no such process
    seeds = [encode("criu_req", {"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": gone,
                                 "log_file": "f.log", "external": ["pipe:[1]"],
                                 "ext_mnt": [{"key": "a", "val": "b"}]}}),
             encode("criu_req", {"type": T["FEATURE_CHECK"], "features": {"mem_track": True}}),
             encode("criu_req", {"type": T["RESTORE"], "opts": {"images_dir_fd": fd,
                                 "inherit_fd": [{"key": "k", "fd": 0}]}})]
    for i in range(60):
        b = bytearray(rnd.choice(seeds))
        for _ in range(rnd.randint(1, 4)):
            op = rnd.randint(0, 2)
            pos = rnd.randrange(len(b))
            if op == 0:
                b[pos] = rnd.randrange(256)
            elif op == 1:
                del b[pos:pos + rnd.randint(1, 4)]
            else:
                b[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 4)))
        s = Swrk(CRIU, pass_fds=(fd,), stderr=subprocess.DEVNULL)
        try:
            s.send_raw(bytes(b))
            try:
                while True:
                    r = s.recv(timeout=20)
                    if r is None or r.get("type") != T["NOTIFY"]:
                        break
                    s.send({"type": T["NOTIFY"], "notify_success": True})
            except (OSError, ValueError, IndexError, KeyError, UnicodeDecodeError):
                pass
        finally:
            rc = s.close()
        expect(rc is not None and rc >= 0, "criu died (%r) on request %s" % (rc, bytes(b).hex()))
    os.close(fd)
    expect(not os.listdir(d) or os.listdir(d) == ["f.log"], "left %r" % os.listdir(d))


# ---- bad options

def bad_dump(opts_extra, *words, target=True):
    t = Target() if target else None
    d = new_dir("img")
    fd = dir_fd(d)
    o = {"images_dir_fd": fd, "pid": t.pid if t else 1}
    o.update(opts_extra)
    r, rc = request({"type": T["DUMP"], "opts": o}, pass_fds=(fd,))
    os.close(fd)
    failed_with(r, *words)
    expect(rc not in (0, None), "criu exited %r" % rc)
    if t:
        expect(t.alive() and t.counting(), "the tree was harmed")
        t.kill()
    return r


def t_default_log_file():
    """No log_file: the log is criu.log in the work dir (here the images dir), as with other criu servers."""
    t = Target()
    d = new_dir("img")
    fd = dir_fd(d)
    r, rc = request({"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": t.pid, "leave_running": True,
                                                  "log_level": 4}},
                    pass_fds=(fd,))
    os.close(fd)
    expect(r and r["success"] and rc == 0, "dump: %r, rc %r" % (r, rc))
    log = os.path.join(d, "criu.log")
    expect(os.path.exists(log) and os.path.getsize(log) > 0, "no criu.log in %r" % os.listdir(d))
    expect(t.alive() and t.counting(), "the tree does not run on")
    t.kill()


def t_cr_errno():
    """cr_errno as libcriu's callers test it: ESRCH for no process, EBADRQC for options not taken."""
    for o, want in (({"pid": -1}, 3), ({"pid": 999999999}, 3), ({"log_file": "../file.log"}, 56),
                    ({"manage_cgroups_mode": 77}, 56)):
        t = Target()
        d = new_dir("img")
        fd = dir_fd(d)
        req = {"images_dir_fd": fd, "pid": t.pid}
        req.update(o)
        r, rc = request({"type": T["DUMP"], "opts": req}, pass_fds=(fd,))
        os.close(fd)
        expect(r and r.get("success") is False and r.get("cr_errno") == want,
               "%r: cr_errno %r, not %d (%r)" % (o, r and r.get("cr_errno"), want, r))
        expect(t.alive() and t.counting(), "the tree was harmed")
        t.kill()


def t_errmsg_log_level_0():
    """log_level 0 writes no errors in the log, but the reply still says what failed."""
    d = new_dir("img")
    fd = dir_fd(d)
    r, rc = request({"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": 999999999, "log_level": 0,
                                                  "log_file": "dump.log"}}, pass_fds=(fd,))
    failed_with(r, "999999999", "no such process")
    # a log path too long to open says so, not "see the log"
    r, rc = request({"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": 999999999, "log_file": "x" * 5000}},
                    pass_fds=(fd,))
    os.close(fd)
    failed_with(r, "log file", "too long")


def t_socket_on_stdio():
    """A client with its stdio closed (a daemon calling libcriu) hands criu the socket as fd 2, with
    fd 1 closed: criu's errors, copied to its stderr, must not reach the client as a reply; an
    inherit_fd naming the closed fd 1 is still refused."""
    d = new_dir("img")
    fd = dir_fd(d)
    for o, words in (({"pid": 999999999}, ("999999999", "no such process")),
                     ({"inherit_fd": [{"key": "pipe:[1]", "fd": 1}]}, ("fd 1 is not open in criu",))):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)

        def pre():
            os.dup2(theirs.fileno(), 2)
            os.close(1)
        p = subprocess.Popen([CRIU, "swrk", "2"], preexec_fn=pre, pass_fds=(fd,), stdin=subprocess.DEVNULL)
        theirs.close()
        s = Swrk.__new__(Swrk)
        s.sk, s.p = ours, p
        req = {"images_dir_fd": fd, "log_file": "criu.log"}
        req.update(o)
        typ = "RESTORE" if "inherit_fd" in o else "DUMP"
        try:
            r = s.call({"type": T[typ], "opts": req})
        except Exception as e:      # a garbled reply: what criu wrote to its stderr
            r = {"success": None, "cr_errmsg": "an unreadable reply: %r" % e}
        rc = s.close()
        expect(r is None or r.get("success") is not None, r and r["cr_errmsg"])
        failed_with(r, *words)
        expect(rc == 1, "criu exited %r" % rc)
    os.close(fd)


SELF_DUMP = r"""
import os, subprocess, sys
sys.path.insert(0, sys.argv[1])
from criu_rpc import Swrk, TYPES
fd = os.open(sys.argv[3], os.O_RDONLY)
s = Swrk(sys.argv[2], pass_fds=(fd,), stderr=subprocess.DEVNULL)
r = s.call({"type": TYPES["DUMP"], "opts": {"images_dir_fd": fd, "pid": os.getpid(), "leave_running": True}})
print(repr(r), s.close())
"""


def t_self_dump():
    """A client dumping itself (libcriu's criu_dump() of its own pid): the tree holds the client's
    criu swrk, refused saying so (it tried to seize itself), the client running on."""
    d = new_dir("img")
    p = subprocess.run([sys.executable, "-c", SELF_DUMP, HERE, CRIU, d], capture_output=True, text=True,
                       timeout=60, start_new_session=True)
    out = p.stdout.strip().rsplit(" ", 1)
    expect(p.returncode == 0 and len(out) == 2, "rc %d %r %r" % (p.returncode, p.stdout, p.stderr[-300:]))
    failed_with(eval(out[0]), "criu (pid", "is in that tree")


def t_dump_zombie():
    """A root that is dead but not reaped: no process to dump, said so (ESRCH)."""
    z = subprocess.Popen(["true"])
    deadline = time.time() + 5
    while proc_state(z.pid) != "Z":
        expect(time.time() < deadline, "no zombie")
        time.sleep(0.01)
    d = new_dir("img")
    fd = dir_fd(d)
    r, rc = request({"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": z.pid}}, pass_fds=(fd,))
    os.close(fd)
    z.wait()
    failed_with(r, "zombie")
    expect(r.get("cr_errno") == 3, "cr_errno %r, not ESRCH" % r.get("cr_errno"))


def t_wrong_images_fd():
    bad_dump({"images_dir_fd": 987}, "no fd 987")


def t_images_fd_not_dir():
    f = os.open("/dev/null", os.O_RDONLY)
    t = Target()
    r, _ = request({"type": T["DUMP"], "opts": {"images_dir_fd": f, "pid": t.pid}}, pass_fds=(f,))
    os.close(f)
    failed_with(r, "images_dir_fd")
    expect(t.alive(), "tree harmed")
    t.kill()


def t_no_images_fd():
    r, _ = request({"type": T["DUMP"], "opts": {"pid": 1}})
    failed_with(r, "images_dir_fd")


def t_option_wrong_action():
    """A field that means nothing for the request is refused by name, as the command line refuses
    the option (criu dump -S), not taken and forgotten: a DUMP with restore's fields, a RESTORE
    with dump's."""
    for extra, cli in (({"rst_sibling": True}, "-S/--restore-sibling"),
                       ({"inherit_fd": [{"key": "pipe:[1]", "fd": 1}]}, "--inherit-fd"),
                       ({"lsm_profile": "apparmor:unconfined"}, "--lsm-profile"),
                       ({"join_ns": [{"ns": "net", "ns_file": "/proc/1/ns/net"}]}, "--join-ns")):
        field = "criu_opts." + list(extra)[0]
        r = bad_dump(extra, field, cli, "means nothing for dump")
        expect(r.get("cr_errno") == 56, "%s: cr_errno %r" % (field, r.get("cr_errno")))
    t = Target()
    d = new_dir("img")
    fd = dir_fd(d)
    # a pre-dump always lets the tree run on
    r, rc = request({"type": T["PRE_DUMP"], "opts": {"images_dir_fd": fd, "pid": t.pid, "leave_stopped": True}},
                    pass_fds=(fd,))
    failed_with(r, "criu_opts.leave_stopped", "nothing for pre-dump")
    expect(t.alive() and t.counting(), "the tree was harmed")
    # nothing would be written to its status_fd: refused, not left waited on
    rd, wr = os.pipe()
    r, rc = request({"type": T["PRE_DUMP"], "opts": {"images_dir_fd": fd, "pid": t.pid, "status_fd": wr}},
                    pass_fds=(fd,))
    os.close(rd)
    os.close(wr)
    failed_with(r, "--status-fd", "pre-dump")
    expect(t.alive() and t.counting(), "the tree was harmed")
    t.kill()
    for extra, cli in (({"leave_running": True}, "-R/--leave-running"), ({"freeze_cgroup": "/x"}, "--freeze-cgroup"),
                       ({"pid": 1}, "-t/--tree"), ({"ps": {"port": 1234}}, "--page-server")):
        field = "criu_opts." + list(extra)[0]
        o = {"images_dir_fd": fd}
        o.update(extra)
        r, rc = request({"type": T["RESTORE"], "opts": o}, pass_fds=(fd,))
        failed_with(r, field, cli, "means nothing for restore")
        expect(rc not in (0, None), "criu exited %r" % rc)
    os.close(fd)


def t_unsupported_option(field, val, cli):
    bad_dump({field: val}, "--%s is not supported yet" % cli)


# ---- DUMP with lazy_pages: the tree's memory served to a destination ----

MEMHOG = os.path.join(os.path.dirname(os.path.dirname(CRIU)), "test", "bench", "memhog")
LAZY_PORT = 28127
hogs = []       # (pid, Popen of its unshare or None)


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0]
    except OSError:
        return "X"


def reap(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


class Hog:
    """memhog as the init of a pid namespace of its own (a restore here can't clash with its pids)."""

    def __init__(self, mib):
        self.dir = new_dir("hog")
        self.out = os.path.join(self.dir, "memhog.out")
        pidfile = os.path.join(self.dir, "memhog.pid")
        with open(self.out, "w") as out:
            self.p = subprocess.Popen(["unshare", "-p", "-f", "setsid", MEMHOG, "random", str(mib), pidfile],
                                      stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                      start_new_session=True, close_fds=True, cwd="/")
        hogs.append(self)
        self.pid = None
        self.restored = None
        deadline = time.time() + 30
        while self.pid is None:
            expect(self.p.poll() is None and time.time() < deadline, "memhog did not start")
            if os.path.exists(pidfile):
                kids = subprocess.run(["pgrep", "-P", str(self.p.pid)], capture_output=True,
                                      text=True).stdout.split()
                if kids and "memhog" in open("/proc/%s/comm" % kids[0]).read():
                    self.pid = int(kids[0])
                    break
            time.sleep(0.02)

    def verdict(self, pid):
        """SIGTERM makes memhog check every page and say OK or BAD."""
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 60
        while time.time() < deadline:
            with open(self.out) as f:
                text = f.read()
            if "memhog: OK" in text:
                return
            expect("memhog: BAD" not in text, "memory differs: %s" % text.strip()[-200:])
            time.sleep(0.05)
        raise Fail("memhog %d gave no verdict" % pid)

    def kill(self):
        for pid in (self.pid, self.restored):
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                reap(pid)
        try:
            self.p.kill()
        except ProcessLookupError:
            pass
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def lazy_dump_start(hog, img, seen):
    """A swrk DUMP with lazy_pages, ps and status_fd, answered in a thread; (swrk, thread, result, status r)."""
    import threading
    r, w = os.pipe()
    fd = dir_fd(img)
    s = Swrk(CRIU, pass_fds=(fd,), stderr=subprocess.DEVNULL)
    res = {}

    def note(m):
        seen.append(m["notify"]["script"])
        return True

    def run():
        try:
            res["r"] = s.call({"type": T["DUMP"], "opts": dump_opts(
                fd, hog.pid, lazy_pages=True, status_fd=w,
                ps={"address": "127.0.0.1", "port": LAZY_PORT})}, note)
        except Exception as e:
            res["e"] = e
    th = threading.Thread(target=run, daemon=True)
    th.start()
    # the status byte: criu listens, the images are whole
    import select
    rd, _, _ = select.select([r], [], [], 60)
    got = os.read(r, 1) if rd else b""
    os.close(w)
    os.close(r)
    os.close(fd)
    if got != b"\0":
        s.p.kill()
        s.close()
        th.join(10)
        raise Fail("no status byte from the lazy dump (%r): %r" % (got, res))
    deadline = time.time() + 10     # the notification follows the byte
    while seen[-1:] != ["status-ready"] and th.is_alive() and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)                 # criu answered: now it waits for a destination
    return s, th, res


def t_lazy_dump():
    hog = Hog(64)
    img = new_dir("lazy")
    seen = []
    s, th, res = lazy_dump_start(hog, img, seen)
    try:
        expect(th.is_alive(), "the DUMP was answered before any destination came: %r" % res)
        expect(seen[-1:] == ["status-ready"], "notifications so far %r (status-ready last)" % seen)
        big = [f for f in os.listdir(img) if f.startswith("pages-") and
               os.path.getsize(os.path.join(img, f)) > (1 << 20)]
        expect(not big, "the lazy dump wrote the memory into %s" % big)
        dest = new_dir("dest")
        for f in os.listdir(img):
            if f.endswith(".img"):
                shutil.copy(os.path.join(img, f), os.path.join(dest, f))
        lp = subprocess.Popen([CRIU, "lazy-pages", "--page-server", "--address", "127.0.0.1", "--port",
                               str(LAZY_PORT), "-D", dest, "-o", "lazy-pages.log", "-v4"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
        try:
            deadline = time.time() + 30
            while not os.path.exists(os.path.join(dest, "lazy-pages.socket")):
                expect(lp.poll() is None and time.time() < deadline, "criu lazy-pages did not start")
                time.sleep(0.02)
            pidfile = os.path.join(dest, "restored.pid")
            p = subprocess.run([CRIU, "restore", "-D", dest, "--lazy-pages", "-d", "--pidfile", pidfile,
                                "-o", "restore.log", "-v4"], stdin=subprocess.DEVNULL, capture_output=True,
                               text=True, timeout=60)
            expect(p.returncode == 0, "restore --lazy-pages: %s" % p.stderr[-300:])
            hog.restored = int(open(pidfile).read())
            expect(lp.wait(timeout=60) == 0, "criu lazy-pages failed")
        finally:
            if lp.poll() is None:
                lp.kill()
                lp.wait()
        th.join(60)
        expect(not th.is_alive(), "no DUMP reply after the destination had every page")
        r = res.get("r")
        expect(r and r.get("success") and r["type"] == T["DUMP"] and "dump" in r, "dump: %r" % res)
        rc = s.close()
        expect(rc == 0, "criu exited %r after the lazy dump" % rc)
        expect(seen == DUMP_ORDER + ["status-ready"], "notifications %r" % seen)
        deadline = time.time() + 10
        while proc_state(hog.pid) not in "ZX":
            expect(time.time() < deadline, "the dumped memhog %d still runs" % hog.pid)
            time.sleep(0.05)
        hog.verdict(hog.restored)
    finally:
        if s.p.poll() is None:
            s.p.kill()
            s.close()
        hog.kill()


def t_lazy_dump_no_dest(how):
    """Nobody comes for the pages and the client closes its socket or kills criu: the tree resumes."""
    hog = Hog(16)
    img = new_dir("lazy")
    seen = []
    s, th, res = lazy_dump_start(hog, img, seen)
    try:
        expect(proc_state(hog.pid) in "tT", "memhog is not held while its pages wait (%s)" %
               proc_state(hog.pid))
        if how == "close":
            s.sk.shutdown(socket.SHUT_RDWR)
            try:
                rc = s.p.wait(20)
            except subprocess.TimeoutExpired:
                raise Fail("criu swrk still waits for a destination with its client gone")
            expect(rc != 0, "criu exited 0 with its client gone")
        else:
            s.p.kill()
            s.p.wait()
        th.join(10)
        deadline = time.time() + 20
        while proc_state(hog.pid) in "tT":
            expect(time.time() < deadline, "memhog %d is still held (%s)" % (hog.pid, proc_state(hog.pid)))
            time.sleep(0.05)
        expect(proc_state(hog.pid) in "SR", "memhog %d is in state %s" % (hog.pid, proc_state(hog.pid)))
        # nothing of criu left: its dump agent lived in memhog's pid namespace
        deadline = time.time() + 20
        while True:
            kids = subprocess.run(["pgrep", "-P", str(hog.pid)], capture_output=True, text=True).stdout.split()
            kids = [k for k in kids if proc_state(int(k)) not in "ZX"]
            if not kids:
                break
            expect(time.time() < deadline, "processes left below memhog: %s" % kids)
            time.sleep(0.05)
        hog.verdict(hog.pid)
    finally:
        if s.p.poll() is None:
            s.p.kill()
        s.close()
        hog.kill()


def t_lsm_profile_refused():
    """A profile criu can't give the tasks (no AppArmor here, or not supported yet): refused by name."""
    bad_dump({"lsm_profile": "apparmor:x"}, "LSM profile apparmor:x")


# ---- a container's console: a pty whose master is the runtime's (orphan_pts_master)

TIOCGPTN = 0x80045430
TIOCSCTTY = 0x540E


class PtyTarget:
    """cat on a pty of its own, as the container's console: the master is ours, outside the tree."""

    def __init__(self):
        import fcntl
        import struct
        import termios
        import tty
        self.master, slave = os.openpty()
        self.index = int(os.ttyname(slave).rsplit("/", 1)[1])
        tty.setraw(slave)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 77, 0, 0))

        def pre():
            os.setsid()
            fcntl.ioctl(slave, TIOCSCTTY, 0)
            for i in range(3):
                os.dup2(slave, i)
        self.p = subprocess.Popen(["cat"], preexec_fn=pre, pass_fds=(), close_fds=True,
                                  stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        self.pid = self.p.pid
        targets.append(self)
        expect(self.echo(self.master, b"hello"), "cat does not echo before the dump")

    def echo(self, m, data):
        import select
        os.write(m, data)
        got = b""
        deadline = time.time() + 5
        while got != data and time.time() < deadline:
            if select.select([m], [], [], 0.2)[0]:
                got += os.read(m, 100)
        return got == data

    def alive(self):
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                return f.read().split(") ")[1][0] not in "ZX"
        except OSError:
            return False

    def kill(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def dump_pty(extra=None):
    t = PtyTarget()
    d = new_dir("img")
    fd = dir_fd(d)
    o = dump_opts(fd, t.pid, orphan_pts_master=True)
    o.update(extra or {})
    r, rc = request({"type": T["DUMP"], "opts": o}, None, (fd,))
    expect(r and r["success"], "dump: %r" % r)
    try:
        os.waitpid(t.pid, 0)
    except ChildProcessError:
        pass
    # the old pty goes with its last master, or its index stays taken
    os.close(t.master)
    return t, d, fd


def t_orphan_pts():
    import fcntl
    import struct
    import termios
    t, d, fd = dump_pty()
    got = []

    def note(r):
        if r["notify"]["script"] == "orphan-pts-master":
            expect(len(r["_fds"]) == 1, "orphan-pts-master came with %d fds" % len(r["_fds"]))
            got.append(os.dup(r["_fds"][0]))
        return True
    r, rc = request({"type": T["RESTORE"], "opts": {"images_dir_fd": fd, "log_level": 4,
                     "log_file": "restore.log", "notify_scripts": True, "rst_sibling": True,
                     "orphan_pts_master": True}}, note, (fd,))
    os.close(fd)
    expect(r and r["success"], "restore: %r" % r)
    expect(len(got) == 1, "no orphan-pts-master notification with a master")
    m = got[0]
    idx = struct.unpack("I", fcntl.ioctl(m, TIOCGPTN, b"\0" * 4))[0]
    expect(idx == t.index, "the new master is of pts %d, not %d" % (idx, t.index))
    rows, cols = struct.unpack("HHHH", fcntl.ioctl(m, termios.TIOCGWINSZ, b"\0" * 8))[:2]
    expect((rows, cols) == (33, 77), "the window is %dx%d, not 33x77" % (rows, cols))
    lflag = termios.tcgetattr(m)[3]
    expect(not lflag & (termios.ICANON | termios.ECHO), "the pty is not raw any more (lflag %#x)" % lflag)
    with open("/proc/%d/stat" % t.pid) as f:
        st = f.read().split(") ")[1].split()
    expect(int(st[4]) == (136 << 8 | t.index), "the restored cat's terminal is %s, not pts %d" % (st[4], t.index))
    expect(t.echo(m, b"after restore"), "cat does not echo through the new master")
    os.close(m)
    t.kill()


def t_orphan_pts_refused():
    t = PtyTarget()
    d = new_dir("img")
    fd = dir_fd(d)
    r, rc = request({"type": T["DUMP"], "opts": dump_opts(fd, t.pid)}, None, (fd,))
    os.close(fd)
    failed_with(r, "pts %d" % t.index, "master is outside", "--orphan-pts-master")
    expect(t.alive() and t.echo(t.master, b"still"), "the tree was harmed")
    t.kill()
    os.close(t.master)


def t_orphan_pts_needs_notify():
    t, d, fd = dump_pty()
    # without notifications nobody takes the master: refused, and on the command line too
    r, rc = request({"type": T["RESTORE"], "opts": {"images_dir_fd": fd, "rst_sibling": True,
                     "orphan_pts_master": True}}, None, (fd,))
    failed_with(r, "orphan-pts-master", "notify_scripts")
    r, rc = request({"type": T["RESTORE"], "opts": {"images_dir_fd": fd, "rst_sibling": True,
                     "notify_scripts": True}}, None, (fd,))
    failed_with(r, "restore with --orphan-pts-master")
    os.close(fd)
    p = subprocess.run([CRIU, "restore", "-D", d, "-d", "--orphan-pts-master"], capture_output=True, text=True)
    expect(p.returncode != 0 and "notify_scripts" in p.stderr, "the command line restored it: %r" % p.stderr)
    expect(not t.alive(), "a task is left")


# ---- cgroups: freeze_cgroup, manage_cgroups(_mode), cg_root

def t_cgroups():
    top = "criu-rpc.%d" % os.getpid()
    fz = os.path.join("/sys/fs/cgroup/freezer", top)
    pids = os.path.join("/sys/fs/cgroup/pids", top)
    try:
        for dd in (fz, os.path.join(pids, "a"), os.path.join(pids, "b")):
            os.makedirs(dd)
        with open(os.path.join(pids, "a", "pids.max"), "w") as f:
            f.write("77")

        t = Target()
        for dd in (fz, os.path.join(pids, "a")):
            with open(os.path.join(dd, "cgroup.procs"), "w") as f:
                f.write(str(t.pid))
        d = new_dir("img")
        fd = dir_fd(d)
        r, rc = request({"type": T["DUMP"], "opts": dump_opts(fd, t.pid, manage_cgroups=True,
                                                              freeze_cgroup=fz)}, None, (fd,))
        expect(r and r["success"], "dump with freeze_cgroup: %r" % r)
        try:
            os.waitpid(t.pid, 0)
        except ChildProcessError:
            pass
        with open(os.path.join(fz, "freezer.state")) as f:
            expect(f.read().strip() == "THAWED", "the freezer cgroup is left frozen")
        # runc: restore under the cgroup it made for the new container (cg_root, soft)
        r, rc = request({"type": T["RESTORE"], "opts": {
            "images_dir_fd": fd, "log_level": 4, "log_file": "restore.log", "rst_sibling": True,
            "manage_cgroups": True, "manage_cgroups_mode": 3,
            "cg_root": [{"ctrl": "pids", "path": "/%s/b" % top}]}}, None, (fd,))
        os.close(fd)
        expect(r and r["success"], "restore: %r" % r)
        with open("/proc/%d/cgroup" % t.pid) as f:
            cg = f.read()
        expect(":pids:/%s/b\n" % top in cg, "the restored task is not in pids:/%s/b:\n%s" % (top, cg))
        expect(":freezer:/%s\n" % top in cg, "the restored task is not in freezer:/%s" % top)
        with open(os.path.join(pids, "b", "pids.max")) as f:
            v = f.read().strip()
        # b existed: soft leaves its properties alone
        expect(v == "max", "soft mode changed pids.max of an existing cgroup to %s" % v)
        expect(t.counting(), "the restored counter does not count")
        t.kill()
    finally:
        for dd in (os.path.join(pids, "a"), os.path.join(pids, "b"), pids, fz):
            try:
                os.rmdir(dd)
            except OSError:
                pass


def t_ext_mnt_colon():
    """runc's and crun's ext_mnt keys are the container's mountpoints, which may hold a ':'
    ("/mnt/a:b"): the mount is external under its whole path, and the restore binds the
    source the client gives, not the one it had."""
    top = new_dir("extmnt")
    src, src2, mp = (os.path.join(top, n) for n in ("src", "src2", "data:1"))
    for dd, text in ((src, "old"), (src2, "new"), (mp, None)):
        os.mkdir(dd)
        if text:
            with open(os.path.join(dd, "f"), "w") as f:
                f.write(text)
    p = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c",
                          'mount --bind "$0" "$1" && exec setsid sleep 1000', src, mp],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pid = restored = None
    try:
        deadline = time.time() + 5
        while not pid:
            expect(time.time() < deadline and p.poll() is None, "the target did not start")
            time.sleep(0.02)
            try:
                with open("/proc/%d/mountinfo" % p.pid) as f:
                    if (" %s " % mp) in f.read() and os.readlink("/proc/%d/exe" % p.pid).endswith("sleep"):
                        pid = p.pid
            except OSError:
                pass
        d = new_dir("img")
        fd = dir_fd(d)
        r, rc = request({"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": pid, "log_file": "dump.log",
                                                      "log_level": 4, "ext_mnt": [{"key": mp, "val": mp}]}},
                        pass_fds=(fd,))
        expect(r and r["success"] and rc == 0, "dump: %r" % r)
        p.wait()
        with open(os.path.join(d, "dump.log")) as f:
            expect("key %s\n" % mp in f.read(), "the mount at %s was not dumped as external under its path" % mp)
        r, rc = request({"type": T["RESTORE"], "opts": {"images_dir_fd": fd, "log_file": "restore.log",
                                                         "rst_sibling": True, "ext_mnt": [{"key": mp, "val": src2}]}},
                        pass_fds=(fd,))
        os.close(fd)
        expect(r and r["success"] and rc == 0, "restore: %r" % r)
        restored = r["restore"]["pid"]
        with open("/proc/%d/root%s/f" % (restored, mp)) as f:
            got = f.read()
        expect(got == "new", "the restored mount at %s shows %r, not the ext_mnt source's 'new'" % (mp, got))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        if restored:
            try:
                os.kill(restored, signal.SIGKILL)
                os.waitpid(restored, 0)
            except OSError:
                pass


def t_freeze_cgroup_bad():
    bad_dump({"freeze_cgroup": "/sys/fs/cgroup/freezer"}, "freeze-cgroup /sys/fs/cgroup/freezer",
             "root cgroup can't be")


def t_cg_mode_bad():
    bad_dump({"manage_cgroups_mode": 9}, "manage_cgroups_mode 9")


def t_log_file_path():
    bad_dump({"log_file": "../x.log"}, "plain file name")


def t_empty_ns_bad():
    bad_dump({"empty_ns": 0x20000}, "only CLONE_NEWNET")


def t_inherit_fd_bad():
    d = new_dir("img")
    fd = dir_fd(d)
    r, _ = request({"type": T["RESTORE"], "opts": {"images_dir_fd": fd,
                    "inherit_fd": [{"key": "pipe:[1]", "fd": 913}]}}, pass_fds=(fd,))
    os.close(fd)
    failed_with(r, "fd 913 is not open in criu")


def t_external_bad():
    bad_dump({"external": ["net[not-an-inode]:extRootNetNS"]}, "bad --external")


def t_reply_size():
    r = bad_dump({"log_file": "/" + "x" * 20000}, "log_file", target=False)
    expect(r["_size"] <= 8192, "a reply of %d bytes" % r["_size"])


def t_missing_config_ok():
    t = Target()
    d = new_dir("img")
    fd = dir_fd(d)
    r, rc = request({"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": t.pid, "leave_running": True,
                     "config_file": "/nonexistent/runc.conf"}}, pass_fds=(fd,))
    os.close(fd)
    expect(r and r["success"] and rc == 0, "dump with a missing config file: %r" % r)
    t.kill()


def t_default_config():
    """The default config files are read, by criu swrk as by the command line: ~/.criu/default.conf
    (as /etc/criu/default.conf, not written here: it is the machine's) and $CRIU_CONFIG_FILE; the
    request's fields and the command line override them; --no-default-config skips the default one."""
    home = new_dir("home")
    os.mkdir(os.path.join(home, ".criu"))
    with open(os.path.join(home, ".criu", "default.conf"), "w") as f:
        f.write("# the user's defaults\nleave-running\n")
    env = dict(os.environ, HOME=home)
    t = Target()
    d = new_dir("img")
    fd = dir_fd(d)
    s = Swrk(CRIU, pass_fds=(fd,), env=env, stderr=subprocess.DEVNULL)
    r = s.call({"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": t.pid}})
    rc = s.close()
    os.close(fd)
    expect(r and r["success"] and rc == 0, "dump: %r rc %r" % (r, rc))
    expect(t.alive() and t.counting(), "~/.criu/default.conf's leave-running was not read: the tree was killed")
    d = new_dir("img")
    r = subprocess.run([CRIU, "dump", "-t", str(t.pid), "-D", d, "-o", "d.log"], env=env, capture_output=True)
    expect(r.returncode == 0 and t.alive() and t.counting(), "criu dump: rc %d, the tree %s: %s" %
           (r.returncode, "runs" if t.alive() else "killed", r.stderr[-300:]))
    bad = os.path.join(home, "bad.conf")
    with open(bad, "w") as f:
        f.write("no-such-option\n")
    r = subprocess.run([CRIU, "check"], env=dict(env, CRIU_CONFIG_FILE=bad), capture_output=True)
    expect(r.returncode != 0 and b"no-such-option" in r.stderr, "CRIU_CONFIG_FILE not read: rc %d %r" %
           (r.returncode, r.stderr[-300:]))
    with open(os.path.join(home, ".criu", "default.conf"), "w") as f:
        f.write("no-such-option\n")
    r = subprocess.run([CRIU, "check"], env=env, capture_output=True)
    expect(r.returncode != 0 and b"no-such-option" in r.stderr, "a bad default.conf line was not said: rc %d %r" %
           (r.returncode, r.stderr[-300:]))
    r = subprocess.run([CRIU, "--no-default-config", "check"], env=env, capture_output=True)
    expect(r.returncode == 0, "--no-default-config still read default.conf: %r" % r.stderr[-300:])
    t.kill()


def t_config_file():
    t = Target()
    d = new_dir("img")
    fd = dir_fd(d)
    conf = os.path.join(d, "c.conf")
    hooks = os.path.join(d, "hooks")
    with open(conf, "w") as f:
        f.write("# options\nleave-running\nlog-file conf.log\n"
                "action-script echo \"$CRTOOLS_SCRIPT_ACTION $CRTOOLS_IMAGE_DIR\" >> %s\n" % hooks)
    r, rc = request({"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": t.pid, "config_file": conf}},
                    pass_fds=(fd,))
    os.close(fd)
    expect(r and r["success"] and rc == 0, "dump: %r" % r)
    expect(t.alive() and os.path.exists(os.path.join(d, "conf.log")), "config file options not applied")
    # the scripts run under swrk too, and see the images dir by its real path
    with open(hooks) as f:
        got = f.read().split("\n")
    want = ["%s %s" % (a, os.path.realpath(d)) for a in DUMP_ORDER + ["network-unlock"]]
    expect(got[:-1] == want, "hooks %r, not %r" % (got, want))
    t.kill()


# ---- a client without the rights to what it asks

def keep_caps(bits):
    """After setuid: only the capabilities @bits, effective and permitted."""
    libc = ctypes.CDLL(None, use_errno=True)
    hdr = (ctypes.c_uint32 * 2)(0x20080522, 0)
    data = (ctypes.c_uint32 * 6)()
    for b in bits:
        data[(b // 32) * 3] |= 1 << (b % 32)
        data[(b // 32) * 3 + 1] |= 1 << (b % 32)
    if libc.capset(hdr, data):
        raise OSError(ctypes.get_errno(), "capset")


def as_nobody_client(build_req, dirs_owner=NOBODY, caps=()):
    """A client running as nobody (with capabilities @caps), connected to a
    root criu swrk (as a root service would be); returns its reply."""
    path = "\0criu-rpc-test-%d" % os.getpid()
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ls.bind(path)
    ls.listen(1)
    rpipe, wpipe = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            ls.close()
            os.close(rpipe)
            os.setgroups([])
            os.setgid(NOBODY)
            if caps:
                ctypes.CDLL(None).prctl(8, 1, 0, 0, 0)     # PR_SET_KEEPCAPS
            os.setuid(NOBODY)
            if caps:
                keep_caps(caps)
            c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            c.connect(path)
            req, keep = build_req()
            s = Swrk.__new__(Swrk)
            s.sk = c
            r = s.call(req)
            os.write(wpipe, repr(r).encode())
        finally:
            os._exit(0)
    os.close(wpipe)
    conn, _ = ls.accept()
    ls.close()
    p = subprocess.Popen([CRIU, "swrk", str(conn.fileno())], pass_fds=(conn.fileno(),),
                         stderr=subprocess.DEVNULL)
    conn.close()
    out = b""
    while True:
        b = os.read(rpipe, 65536)
        if not b:
            break
        out += b
    os.close(rpipe)
    os.waitpid(child, 0)
    p.wait(timeout=60)
    return eval(out.decode()) if out else None


def t_unpriv_dump_foreign():
    t = Target()        # root's
    d = new_dir("img", NOBODY)

    def req():
        fd = dir_fd(d)
        return {"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": t.pid}}, fd
    r = as_nobody_client(req)
    failed_with(r, "may not dump")
    expect(r.get("cr_errno") == 1, "cr_errno %r, not EPERM" % r.get("cr_errno"))
    expect(t.alive() and t.counting(), "the tree was harmed")
    # only the log saying why (criu.log: the request names none)
    expect(not [f for f in os.listdir(d) if not f.endswith(".log")], "images written: %r" % os.listdir(d))
    t.kill()


def t_unpriv_dump_into_foreign_dir():
    t = Target(NOBODY)
    d = new_dir("img")      # root's, 0700: nobody can't write there

    os.chmod(d, 0o755)

    def req():
        fd = dir_fd(d)
        return {"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": t.pid}}, fd
    r = as_nobody_client(req)
    failed_with(r, "may not write")
    expect(not os.listdir(d), "images written into a dir the client can't write: %r" % os.listdir(d))
    expect(t.alive() and t.counting(), "the tree was harmed")
    t.kill()


def t_unpriv_dump_own():
    t = Target(NOBODY)
    d = new_dir("img", NOBODY)

    def req():
        fd = dir_fd(d)
        return {"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": t.pid, "leave_running": True,
                                                  "log_level": 4}}, fd
    r = as_nobody_client(req)
    expect(r and r.get("success"), "a client dumping its own task: %r" % r)
    expect(t.alive() and t.counting(), "the tree does not run on")
    t.kill()


def t_unpriv_restore():
    d = new_dir("img", NOBODY)

    def req():
        fd = dir_fd(d)
        return {"type": T["RESTORE"], "opts": {"images_dir_fd": fd}}, fd
    r = as_nobody_client(req)
    failed_with(r, "may not restore")


def t_unpriv_config_file():
    """A config file's options run with criu's rights (action-script, log-file) and its bad
    lines are quoted in the reply: a client with fewer rights gives none."""
    t = Target(NOBODY)
    d = new_dir("img", NOBODY)
    mark = os.path.join(TMP, "config-file-ran.%d" % os.getpid())
    conf = os.path.join(d, "evil.conf")
    with open(conf, "w") as f:
        f.write("action-script id > %s\n" % mark)
    os.chown(conf, NOBODY, NOBODY)
    for path in (conf, "/etc/shadow"):
        def req():
            fd = dir_fd(d)
            return {"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": t.pid, "leave_running": True,
                                                "config_file": path}}, fd
        r = as_nobody_client(req)
        failed_with(r, "config_file %s" % path, "fewer rights than criu")
        expect(r.get("cr_errno") == 1, "cr_errno %r, not EPERM" % r.get("cr_errno"))
        expect(not os.path.exists(mark), "the config file's action-script ran as root")
    expect(t.alive() and t.counting(), "the tree was harmed")
    t.kill()


def t_log_symlink():
    """The log in the client's dir is a link to a file of root's: criu (root) neither truncates
    nor writes it, but replaces the link with a log of its own."""
    t = Target(NOBODY)
    d = new_dir("img", NOBODY)
    victim = os.path.join(TMP, "victim")
    with open(victim, "w") as f:
        f.write("root's\n")
    os.chmod(victim, 0o600)
    os.symlink(victim, os.path.join(d, "dump.log"))
    os.lchown(os.path.join(d, "dump.log"), NOBODY, NOBODY)

    def req():
        fd = dir_fd(d)
        return {"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": t.pid, "leave_running": True,
                                            "log_file": "dump.log", "log_level": 4}}, fd
    r = as_nobody_client(req)
    expect(r and r.get("success"), "dump: %r" % r)
    with open(victim) as f:
        expect(f.read() == "root's\n", "the file the log links to was written")
    log = os.path.join(d, "dump.log")
    expect(not os.path.islink(log) and os.path.getsize(log) > 0, "the log is not in a file of its own")
    # a hard link (where fs.protected_hardlinks does not stop it)
    os.unlink(log)
    os.link(victim, log)
    r = as_nobody_client(req)
    expect(r and r.get("success"), "dump over a hard link: %r" % r)
    with open(victim) as f:
        expect(f.read() == "root's\n", "the file the log is a hard link of was written")
    expect(t.alive() and t.counting(), "the tree was harmed")
    t.kill()


def t_unpriv_parent_img():
    """parent_img is read, and with auto_dedup written: a client may only name a dir it could
    read (and write) itself, not root's pre-dump of its own task."""
    t = Target(NOBODY)
    pre = new_dir("pre")        # root's, 0700
    fd = dir_fd(pre)
    r, rc = request({"type": T["PRE_DUMP"], "opts": {"images_dir_fd": fd, "pid": t.pid}}, pass_fds=(fd,))
    os.close(fd)
    expect(r and r["success"], "root's pre-dump: %r" % r)
    before = {f: os.stat(os.path.join(pre, f)).st_blocks for f in os.listdir(pre)}
    d = new_dir("img", NOBODY)

    def req():
        fd = dir_fd(d)
        return {"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": t.pid, "leave_running": True,
                                            "track_mem": True, "auto_dedup": True,
                                            "parent_img": "../" + os.path.basename(pre)}}, fd
    r = as_nobody_client(req)
    failed_with(r, "parent_img")
    after = {f: os.stat(os.path.join(pre, f)).st_blocks for f in os.listdir(pre)}
    expect(after == before, "root's images changed: %r -> %r" % (before, after))
    expect(t.alive() and t.counting(), "the tree was harmed")
    t.kill()


def t_status_fd_readonly():
    """status_fd is reopened through /proc with criu's rights: a client's read-only fd of a file
    of root's must not get a root criu to write in it."""
    victim = os.path.join(TMP, "status-victim")
    with open(victim, "w") as f:
        f.write("root's, world-readable\n")
    os.chmod(victim, 0o644)
    d = new_dir("srv", NOBODY)
    port = 28300 + os.getpid() % 90

    def req():
        fd = dir_fd(d)
        vfd = os.open(victim, os.O_RDONLY)
        return {"type": T["PAGE_SERVER"], "opts": {"images_dir_fd": fd, "ps": {"port": port},
                                                   "status_fd": vfd}}, fd
    r = as_nobody_client(req)
    pid = r and r.get("ps", {}).get("pid")
    if pid:
        os.kill(pid, signal.SIGKILL)
    failed_with(r, "status_fd", "not open for writing")
    with open(victim) as f:
        expect(f.read() == "root's, world-readable\n", "criu wrote in the file")


def t_unpriv_ps_port():
    """A root criu's page server listens for a client with fewer rights only where it could itself."""
    d = new_dir("srv", NOBODY)

    def req():
        fd = dir_fd(d)
        return {"type": T["PAGE_SERVER"], "opts": {"images_dir_fd": fd, "ps": {"port": 81}}}, fd
    r = as_nobody_client(req)
    pid = r and r.get("ps", {}).get("pid")
    if pid:
        os.kill(pid, signal.SIGKILL)
    failed_with(r, "ps.port 81", "may not listen")
    expect(r.get("cr_errno") == 1, "cr_errno %r, not EPERM" % r.get("cr_errno"))


def t_unpriv_ps_auto_dedup():
    """A page server's auto_dedup frees pages in the previous images its dump names, next to its
    dir: not for a client with fewer rights than criu (root's dirs are next to its own in /tmp)."""
    d = new_dir("srv", NOBODY)
    port = 28400 + os.getpid() % 90

    def req():
        fd = dir_fd(d)
        return {"type": T["PAGE_SERVER"], "opts": {"images_dir_fd": fd, "ps": {"port": port},
                                                   "auto_dedup": True}}, fd
    r = as_nobody_client(req)
    pid = r and r.get("ps", {}).get("pid")
    if pid:
        os.kill(pid, signal.SIGKILL)
    failed_with(r, "auto_dedup", "fewer rights")


def t_unpriv_freeze_cgroup():
    """Freezing a cgroup stops all its tasks: a client may only name one it could freeze itself."""
    fz = os.path.join("/sys/fs/cgroup/freezer", "criu-rpc-fz.%d" % os.getpid())
    t = Target(NOBODY)
    other = Target()        # root's, in the same cgroup
    try:
        os.makedirs(fz)
        for x in (t, other):
            with open(os.path.join(fz, "cgroup.procs"), "w") as f:
                f.write(str(x.pid))
        d = new_dir("img", NOBODY)

        def req():
            fd = dir_fd(d)
            return {"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": t.pid, "leave_running": True,
                                                "freeze_cgroup": fz}}, fd
        r = as_nobody_client(req)
        failed_with(r, "freeze_cgroup")
        expect(r.get("cr_errno") == 1, "cr_errno %r, not EPERM" % r.get("cr_errno"))
        with open(os.path.join(fz, "freezer.state")) as f:
            expect(f.read().strip() == "THAWED", "the cgroup is left frozen")
        expect(t.alive() and t.counting() and other.counting(), "a task was harmed")
    finally:
        t.kill()
        other.kill()
        try:
            os.rmdir(fz)
        except OSError:
            pass


def t_unpriv_restore_cr_cap():
    """CAP_CHECKPOINT_RESTORE alone does not let a task of uid nobody make tasks of other uids: a
    root criu would make whatever creds the images say, so it refuses such a client, even for
    images it trusts (root's dump, readable by the client)."""
    t = Target()
    d = new_dir("img")
    os.chmod(d, 0o755)
    fd = dir_fd(d)
    r, rc = request({"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": t.pid}}, pass_fds=(fd,))
    os.close(fd)
    expect(r and r["success"], "root's dump: %r" % r)
    t.kill()

    def req():
        fd = dir_fd(d)
        return {"type": T["RESTORE"], "opts": {"images_dir_fd": fd}}, fd
    r = as_nobody_client(req, caps=(40,))
    if r and r.get("restore", {}).get("pid"):
        os.kill(r["restore"]["pid"], signal.SIGKILL)
    failed_with(r, "CAP_CHECKPOINT_RESTORE but not CAP_SYS_ADMIN", "may not restore")
    expect(r.get("cr_errno") == 1, "cr_errno %r, not EPERM" % r.get("cr_errno"))
    expect(not t.alive(), "root's tree was restored")


# ---- the command line's side of the same hooks

def t_action_script():
    t = Target()
    d = new_dir("img")
    log = os.path.join(d, "hooks")
    script = os.path.join(d, "hook.sh")
    with open(script, "w") as f:
        f.write('#!/bin/sh\necho "$CRTOOLS_SCRIPT_ACTION ${CRTOOLS_INIT_PID:-}" >> %s\n' % log)
    os.chmod(script, 0o755)
    r = subprocess.run([CRIU, "dump", "-t", str(t.pid), "-D", d, "--action-script", script],
                       capture_output=True, timeout=60)
    expect(r.returncode == 0, "dump: %r" % r.stderr)
    try:
        os.waitpid(t.pid, 0)
    except ChildProcessError:
        pass
    # -S: the root becomes our child (LXC finds it among its children)
    r = subprocess.run([CRIU, "restore", "-D", d, "-d", "-S", "--action-script", script],
                       capture_output=True, timeout=60)
    expect(r.returncode == 0, "restore: %r" % r.stderr)
    with open(log) as f:
        got = [l.split() for l in f.read().splitlines()]
    want = [[a] for a in DUMP_ORDER] + [[a] for a in RESTORE_ORDER]
    for w in want:
        if w[0] in ("setup-namespaces", "post-restore"):
            w.append(str(t.pid))
    expect(got == want, "hooks ran as %r" % got)
    expect(t.alive() and t.counting(), "not restored")
    t.kill()
    expect(not t.alive(), "the -S restored root is not our child")


def t_action_script_netns():
    """A tree in a network namespace of its own: the dump's scripts still run in criu's."""
    t = Target(netns=True)
    d = new_dir("img")
    log = os.path.join(d, "hooks")
    r = subprocess.run([CRIU, "dump", "-t", str(t.pid), "-D", d, "-R", "--action-script",
                        'echo "$CRTOOLS_SCRIPT_ACTION $(readlink /proc/self/ns/net)" >> %s' % log],
                       capture_output=True, timeout=60)
    expect(r.returncode == 0, "dump: %r" % r.stderr)
    ours = os.readlink("/proc/self/ns/net")
    expect(os.readlink("/proc/%d/ns/net" % t.pid) != ours, "the target has our network namespace")
    with open(log) as f:
        got = [l.split() for l in f.read().splitlines()]
    expect(got and all(g[1] == ours for g in got), "scripts ran in %r, criu's is %s" % (got, ours))
    expect(t.alive() and t.counting(), "not left running")
    t.kill()


def t_action_script_fails():
    t = Target()
    d = new_dir("img")
    r = subprocess.run([CRIU, "dump", "-t", str(t.pid), "-D", d, "--action-script",
                        '[ "$CRTOOLS_SCRIPT_ACTION" != post-dump ]'], capture_output=True, timeout=60)
    expect(r.returncode != 0 and b"post-dump" in r.stderr, "dump: rc %d %r" % (r.returncode, r.stderr))
    expect(t.alive() and t.counting(), "the tree was harmed")
    t.kill()


# ---- the options of a mature tool's clients: timeout, pre_dump_mode, weak_sysctls, exec_cmd, cpu_cap, ...

def slowstop(secs):
    """A tree whose root can't be stopped for @secs seconds (in a vfork for its sleeping child)."""
    # test/others/helpers.c's vfork mode: a parent that can't stop for ptrace while its child sleeps
    exe = os.path.join(TMP, "helpers")
    if not os.path.exists(exe):
        subprocess.run(["cc", "-O1", "-pthread", "-o", exe, os.path.join(HERE, "..", "helpers.c")], check=True)
    p = subprocess.Popen([exe, "vfork", str(secs)], start_new_session=True, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True)
    deadline = time.time() + 5
    while proc_state(p.pid) != "D":
        expect(time.time() < deadline, "slowstop did not get into its vfork")
        time.sleep(0.01)
    return p


def t_timeout():
    """timeout: the tree must be frozen within that many seconds. 1 s for a root that can't stop for
    30: refused in about 1 s naming the timeout, the tree as it was; 10 s for one that stops after 4:
    the dump is made (the default, 3 s a task, refuses it)."""
    p = slowstop(30)
    try:
        d = new_dir("img")
        fd = dir_fd(d)
        t0 = time.time()
        r, rc = request({"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": p.pid, "timeout": 1,
                                                     "log_file": "dump.log"}}, pass_fds=(fd,))
        took = time.time() - t0
        os.close(fd)
        failed_with(r, "--timeout 1 s")
        expect(took < 2.9, "the dump took %.1f s to give up" % took)
        st = open("/proc/%d/status" % p.pid).read()
        expect("TracerPid:\t0\n" in st and proc_state(p.pid) == "D", "the tree was harmed: %s" % st)
    finally:
        os.killpg(p.pid, signal.SIGKILL)     # its vfork child too
        p.wait()
    p = slowstop(4)
    try:
        d = new_dir("img")
        fd = dir_fd(d)
        r, rc = request({"type": T["DUMP"], "opts": {"images_dir_fd": fd, "pid": p.pid, "timeout": 10,
                                                     "leave_running": True, "log_file": "dump.log"}},
                        pass_fds=(fd,))
        os.close(fd)
        expect(r and r["success"] and rc == 0, "DUMP with timeout 10 of a tree that stops after 4 s: %r" % r)
        expect(proc_state(p.pid) in ("S", "R"), "not left running")
    finally:
        os.killpg(p.pid, signal.SIGKILL)     # its vfork child too
        p.wait()


def t_pre_dump_mode():
    """pre_dump_mode SPLICE copies the pages with the tree frozen (as the log says), VM_READ once it runs
    again; both make a parent the dump uses; a mode that is neither is refused by name."""
    t = Target()
    for mode, frozen in ((1, True), (2, False)):
        pre, d = new_dir("pre"), new_dir("img")
        fd = dir_fd(pre)
        r, rc = request({"type": T["PRE_DUMP"], "opts": {"images_dir_fd": fd, "pid": t.pid, "track_mem": True,
                                                         "pre_dump_mode": mode, "log_level": 4,
                                                         "log_file": "pre.log"}}, pass_fds=(fd,))
        os.close(fd)
        expect(r and r["success"] and rc == 0, "PRE_DUMP mode %d: %r" % (mode, r))
        log = open(os.path.join(pre, "pre.log")).read()
        expect(("copied with the tree frozen" in log) == frozen, "mode %d: the log says %s" %
               (mode, "frozen" if not frozen else "nothing of a frozen copy"))
        expect(t.alive() and t.counting(), "the pre-dump harmed the tree")
        fd = dir_fd(d)
        r, rc = request({"type": T["DUMP"], "opts": dump_opts(fd, t.pid, parent_img="../" + os.path.basename(pre),
                                                             track_mem=True, leave_running=True,
                                                             notify_scripts=False)}, pass_fds=(fd,))
        os.close(fd)
        expect(r and r["success"] and rc == 0, "dump after the pre-dump: %r" % r)
        log = open(os.path.join(d, "dump.log")).read()
        expect("unchanged since the previous dump" in log, "the dump did not use the pre-dump of mode %d" % mode)
    pre = new_dir("pre")
    fd = dir_fd(pre)
    r, rc = request({"type": T["PRE_DUMP"], "opts": {"images_dir_fd": fd, "pid": t.pid, "pre_dump_mode": 3}},
                    pass_fds=(fd,))
    os.close(fd)
    failed_with(r, "pre_dump_mode 3")
    expect(t.alive() and t.counting(), "the tree was harmed")
    t.kill()


IMGTOOL = os.path.join(os.path.dirname(os.path.dirname(CRIU)), "test", "others", "imgtool")


def t_weak_sysctls():
    """weak_sysctls: a sysctl of the images this kernel lacks is a warning, not the end of the restore.
    The images of a tree in a network namespace of its own get a sysctl renamed to one that does not
    exist: refused without the field, restored with it."""
    t = Target(netns=True)
    d = new_dir("img")
    fd = dir_fd(d)
    r, rc = request({"type": T["DUMP"], "opts": dump_opts(fd, t.pid, notify_scripts=False)}, pass_fds=(fd,))
    expect(r and r["success"], "dump: %r" % r)
    t.kill()
    path = os.path.join(d, "netns.img")
    b = open(path, "rb").read()
    name = b"ipv4/conf/lo/forwarding"
    expect(b.count(name) == 1, "netns.img has no %r" % name)
    with open(path, "wb") as f:
        f.write(b.replace(name, b"ipv4/conf/lo/forwardinX"))
    expect(subprocess.run([IMGTOOL, "seal", path], capture_output=True).returncode == 0, "imgtool seal failed")
    ro = {"images_dir_fd": fd, "rst_sibling": True, "log_level": 4, "log_file": "restore.log"}
    r, rc = request({"type": T["RESTORE"], "opts": ro}, pass_fds=(fd,))
    failed_with(r, "net.ipv4.conf.lo.forwardinX")
    expect(not t.alive(), "a failed restore left the tree")
    ro["weak_sysctls"] = True
    r, rc = request({"type": T["RESTORE"], "opts": ro}, pass_fds=(fd,))
    os.close(fd)
    expect(r and r["success"] and r.get("restore", {}).get("pid") == t.pid, "restore with weak_sysctls: %r" % r)
    expect(t.alive() and t.counting(), "the restored counter does not count")
    log = open(os.path.join(d, "restore.log")).read()
    expect("forwardinX is not set" in log, "no warning in the log")
    t.kill()


def t_exec_cmd():
    """exec_cmd: once the RESTORE reply is sent criu becomes the command, whose child the restored root
    is (no rst_sibling) and whose exit status the client gets. Also taken on the way: cpu_cap fpu (dump)
    and none (restore), irmap_scan_paths (dump), mntns_compat_mode (restore)."""
    t = Target()
    d = new_dir("img")
    fd = dir_fd(d)
    r, rc = request({"type": T["DUMP"], "opts": dump_opts(fd, t.pid, notify_scripts=False, cpu_cap=1,
                                                         irmap_scan_paths=["/tmp", "/"])}, pass_fds=(fd,))
    expect(r and r["success"] and rc == 0, "dump: %r" % r)
    try:
        os.waitpid(t.pid, 0)
    except ChildProcessError:
        pass
    out = os.path.join(d, "children")
    r, rc = request({"type": T["RESTORE"], "opts": {
        "images_dir_fd": fd, "log_file": "restore.log", "cpu_cap": 0, "mntns_compat_mode": True,
        "exec_cmd": ["sh", "-c", 'cat /proc/$$/task/$$/children > %s; exit 7' % out]}}, pass_fds=(fd,))
    os.close(fd)
    expect(r and r["success"] and r.get("restore", {}).get("pid") == t.pid, "restore: %r" % r)
    expect(rc == 7, "criu exited %r, not as the command (7)" % rc)
    kids = open(out).read().split() if os.path.exists(out) else None
    expect(kids is not None and str(t.pid) in kids, "the command's children: %r" % kids)
    expect(t.alive() and t.counting(), "the restored counter does not count")
    t.kill()


def t_refused_by_name():
    """What is not done is refused by name, the tree unharmed."""
    bad_dump({"skip_mnt": ["/proc"]}, "--skip-mnt /proc is not supported yet")
    bad_dump({"cgroup_props": "cpu: [cpu.shares]"}, "--cgroup-props is not supported yet")
    bad_dump({"cgroup_props_file": "/etc/props.yaml"}, "--cgroup-props-file is not supported yet")
    bad_dump({"cpu_cap": 0xffffffff}, "--cpu-cap all", "'cpu' is not supported yet")
    bad_dump({"cpu_cap": 5}, "--cpu-cap fpu,ins", "'ins' is not supported yet")
    bad_dump({"cpu_cap": 0x10}, "cpu_cap 0x10")
    bad_dump({"ps": {"address": "127.0.0.1", "port": 0}, "leave_running": True}, "--port 0", "only for page-server")
    bad_dump({"exec_cmd": ["true"]}, "criu_opts.exec_cmd", "means nothing for dump")
    bad_dump({"weak_sysctls": True}, "criu_opts.weak_sysctls", "means nothing for dump")


# ---- crun's calls through libcriu.so.2

CRUN_CLIENT = os.path.join(REPO, "build", "test", "others", "libcriu", "crun_client")


def crun(*args):
    """crun_client with libcriu.so.2 and criu found the way crun finds them."""
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.path.join(REPO, "build", "lib", "c")
    env["PATH"] = os.path.dirname(CRIU) + ":" + env.get("PATH", "/usr/bin:/bin")
    return subprocess.run([CRUN_CLIENT] + list(args), capture_output=True, text=True, env=env, timeout=120)


def t_crun_checkpoint_restore(leave_running):
    t = Target()
    d = new_dir("img")
    w = new_dir("work")
    args = ["checkpoint", "--image-path", d, "--work-path", w, "--pid", str(t.pid)]
    if leave_running:
        args.append("--leave-running")
    r = crun(*args)
    expect(r.returncode == 0, "checkpoint: %s" % r.stderr)
    expect(os.path.exists(os.path.join(w, "dump.log")) and os.path.exists(os.path.join(w, "stats-dump")),
           "no dump.log or stats-dump in the work path")
    with open(os.path.join(d, "descriptors.json")) as f:
        expect(f.read() == '["/dev/null","/dev/null","/dev/null"]', "descriptors.json")
    if leave_running:
        expect(t.alive() and t.counting(), "not left running")
        t.kill()
        # it wrote on after the dump: its file no longer matches, and the restore says so
        r = crun("restore", "--image-path", d, "--work-path", w)
        # crun quotes the Error lines of restore.log
        log = open(os.path.join(w, "restore.log")).read()
        errs = [l for l in log.splitlines() if "Error" in l]
        expect(r.returncode != 0 and errs and "changed" in errs[0], "restore of a changed file: %s" % errs)
        expect(not t.alive(), "a failed restore left the tree")
        return
    else:
        expect(not t.alive(), "still running after the checkpoint")
        try:
            os.waitpid(t.pid, 0)
        except ChildProcessError:
            pass
    r = crun("restore", "--image-path", d, "--work-path", w)
    expect(r.returncode == 0, "restore: %s" % r.stderr)
    expect(r.stdout.strip() == str(t.pid), "restore printed %r, not %d" % (r.stdout, t.pid))
    expect(os.path.exists(os.path.join(w, "restore.log")), "no restore.log in the work path")
    expect(t.alive() and t.counting(), "the restored tree does not count")
    t.kill()


def t_crun_restore_wait():
    t = Target()
    d = new_dir("img")
    r = crun("checkpoint", "--image-path", d, "--pid", str(t.pid))
    expect(r.returncode == 0, "checkpoint: %s" % r.stderr)
    try:
        os.waitpid(t.pid, 0)
    except ChildProcessError:
        pass
    killer = subprocess.Popen(["sh", "-c", "sleep 0.5; kill -TERM %d" % t.pid])
    r = crun("restore", "--image-path", d, "--wait")
    killer.wait()
    # the restored root was crun_client's own child: it saw it die of SIGTERM
    expect(r.returncode == 128 + signal.SIGTERM, "restore --wait: rc %d %s" % (r.returncode, r.stderr))


def t_crun_pre_dump():
    """crun's pre-dump, then a checkpoint with --parent-path and a restore through the chain."""
    t = Target()
    pre, d = new_dir("pre"), new_dir("img")
    r = crun("checkpoint", "--image-path", pre, "--pid", str(t.pid), "--pre-dump")
    expect(r.returncode == 0, "pre-dump: rc %d %s" % (r.returncode, r.stderr))
    expect(t.alive() and t.counting(), "the pre-dump harmed the tree")
    r = crun("checkpoint", "--image-path", d, "--pid", str(t.pid), "--parent-path", "../" + os.path.basename(pre))
    expect(r.returncode == 0, "checkpoint after the pre-dump: rc %d %s" % (r.returncode, r.stderr))
    expect(os.readlink(os.path.join(d, "parent")) == "../" + os.path.basename(pre), "no parent link")
    try:
        os.waitpid(t.pid, 0)
    except ChildProcessError:
        pass
    before = t.count()
    r = crun("restore", "--image-path", d)
    expect(r.returncode == 0, "restore: rc %d %s" % (r.returncode, r.stderr))
    expect(t.alive() and t.counting() and t.count() > before, "the restored counter does not count on")
    t.kill()


def t_page_server(any_port=False):
    """PAGE_SERVER: a page server starts and answers with its pid and port; a dump sends it the pages.
    any_port: ps.port 0, the server binds a port the kernel picks and the reply says which."""
    t = Target()
    srv, d = new_dir("srv"), new_dir("img")
    fd = dir_fd(srv)
    port = 0 if any_port else 27600 + os.getpid() % 300
    r, rc = request({"type": T["PAGE_SERVER"], "opts": {"images_dir_fd": fd, "ps": {"port": port},
                                                        "log_file": "ps.log", "log_level": 4}}, pass_fds=(fd,))
    os.close(fd)
    expect(r and r["success"] and rc == 0, "PAGE_SERVER: %r rc %r" % (r, rc))
    ps = r.get("ps", {})
    try:
        page_server_dump(t, srv, d, ps, port, any_port)
    except Fail:
        if ps.get("pid", 0) > 0:     # not left listening for a dump that won't come
            os.kill(ps["pid"], signal.SIGKILL)
        raise


def page_server_dump(t, srv, d, ps, port, any_port):
    if any_port:
        expect(ps.get("port", 0) > 0 and ps.get("port") != 27027 and ps.get("pid", 0) > 0,
               "page server info %r: not the port bound" % ps)
        port = ps["port"]
    expect(ps.get("port") == port and ps.get("pid", 0) > 0, "page server info %r" % ps)
    fd = dir_fd(d)
    r, rc = request({"type": T["DUMP"], "opts": dump_opts(fd, t.pid, ps={"address": "127.0.0.1", "port": port},
                                                         notify_scripts=False)}, pass_fds=(fd,))
    os.close(fd)
    expect(r and r["success"] and rc == 0, "DUMP to the page server: %r rc %r" % (r, rc))
    expect(any(f.startswith("pages-") for f in os.listdir(srv)), "the page server wrote no pages")
    gone = False
    for _ in range(100):
        try:     # we are a subreaper: it comes to us once swrk is gone
            gone = os.waitpid(ps["pid"], os.WNOHANG)[0] == ps["pid"]
        except ChildProcessError:
            gone = not os.path.exists("/proc/%d" % ps["pid"])
        if gone:
            break
        time.sleep(0.05)
    expect(gone, "the page server did not go once the dump was whole")


def t_page_server_status_fd():
    """PAGE_SERVER's status_fd (an fd of the client's) gets its byte once the server listens."""
    srv = new_dir("srv")
    fd = dir_fd(srv)
    rd, wr = os.pipe()
    port = 27900 + os.getpid() % 90
    r, rc = request({"type": T["PAGE_SERVER"], "opts": {"images_dir_fd": fd, "ps": {"port": port},
                                                        "status_fd": wr}}, pass_fds=(fd,))
    os.close(fd)
    os.close(wr)
    os.set_blocking(rd, False)
    try:
        got = os.read(rd, 16)
    except BlockingIOError:
        got = None
    os.close(rd)
    pid = r and r.get("ps", {}).get("pid")
    if pid:
        os.kill(pid, signal.SIGKILL)
    expect(r and r["success"] and rc == 0, "PAGE_SERVER: %r rc %r" % (r, rc))
    expect(got == b"\0", "status_fd got %r, not one zero byte" % got)


def t_page_server_fd():
    """ps.fd (a connected socket in place of address and port) is refused by name, not listened past."""
    srv = new_dir("srv")
    fd = dir_fd(srv)
    r, rc = request({"type": T["PAGE_SERVER"], "opts": {"images_dir_fd": fd, "ps": {"port": 27599, "fd": 0}}},
                    pass_fds=(fd,))
    os.close(fd)
    if r and r.get("ps", {}).get("pid"):
        os.kill(r["ps"]["pid"], signal.SIGKILL)
    failed_with(r, "criu_opts.ps.fd")
    expect(rc not in (0, None), "criu exited %r" % rc)
    bad_dump({"ps": {"address": "127.0.0.1", "port": 27599, "fd": 0}, "leave_running": True}, "criu_opts.ps.fd")


def t_pre_dump(typ):
    """PRE_DUMP (and SINGLE_PRE_DUMP), then DUMP with parent_img and track_mem, then RESTORE."""
    t = Target()
    pre, d = new_dir("pre"), new_dir("img")
    fd = dir_fd(pre)
    r, rc = request({"type": T[typ], "opts": {"images_dir_fd": fd, "pid": t.pid, "track_mem": True,
                                               "log_level": 4, "log_file": "pre.log"}}, pass_fds=(fd,))
    os.close(fd)
    expect(r and r["success"] and r["type"] == T[typ] and rc == 0, "%s: %r rc %r" % (typ, r, rc))
    expect(t.alive() and t.counting(), "the pre-dump harmed the tree")
    fd = dir_fd(d)
    r, rc = request({"type": T["DUMP"], "opts": dump_opts(fd, t.pid, parent_img="../" + os.path.basename(pre),
                                                         track_mem=True, notify_scripts=False)}, pass_fds=(fd,))
    expect(r and r["success"] and rc == 0, "dump after the pre-dump: %r rc %r" % (r, rc))
    log = open(os.path.join(d, "dump.log")).read()
    expect("unchanged since the previous dump" in log, "the dump did not use the pre-dump")
    try:
        os.waitpid(t.pid, 0)
    except ChildProcessError:
        pass
    before = t.count()
    r, rc = request({"type": T["RESTORE"], "opts": {"images_dir_fd": fd, "rst_sibling": True}}, pass_fds=(fd,))
    os.close(fd)
    expect(r and r["success"] and r.get("restore", {}).get("pid") == t.pid, "restore: %r" % r)
    expect(t.alive() and t.counting() and t.count() > before, "the restored counter does not count on")
    t.kill()


def t_crun_container():
    """crun's container calls (root, external mounts, orphan pty master, cgroups) on a plain tree: both ways."""
    t = Target()
    d = new_dir("img")
    w = new_dir("work")
    r = crun("checkpoint", "--image-path", d, "--work-path", w, "--pid", str(t.pid), "--container", "/")
    expect(r.returncode == 0, "container checkpoint: %s" % r.stderr)
    expect(not t.alive(), "still running after the checkpoint")
    try:
        os.waitpid(t.pid, 0)
    except ChildProcessError:
        pass
    r = crun("restore", "--image-path", d, "--work-path", w, "--container", "/")
    expect(r.returncode == 0, "container restore: %s" % r.stderr)
    expect(t.alive() and t.counting(), "the restored tree does not count")
    t.kill()


def main():
    global TMP, COUNTER
    if os.geteuid() != 0:
        print("rpc: must run as root")
        return 1
    TMP = tempfile.mkdtemp(prefix="criu-rpc.")
    os.chmod(TMP, 0o755)
    COUNTER = os.path.join(TMP, "counter")
    src = COUNTER + ".c"
    with open(src, "w") as f:
        f.write(COUNTER_C)
    subprocess.run(["cc", "-O2", "-o", COUNTER, src], check=True)
    # a restored root that is not our child comes back to us
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)
    start = time.time()
    try:
        check("version", t_version)
        check("feature_check", t_feature_check)
        check("check", t_check)
        check("check_opts", t_check_opts)
        check("keep_open", t_keep_open)
        check("unknown_type", t_unknown_type)
        check("page_server", t_page_server)
        check("page_server_fd", t_page_server_fd)
        check("page_server_status_fd", t_page_server_status_fd)
        check("page_server_any_port", t_page_server, True)
        check("timeout", t_timeout)
        check("pre_dump_mode", t_pre_dump_mode)
        check("weak_sysctls", t_weak_sysctls)
        check("exec_cmd", t_exec_cmd)
        check("refused_by_name", t_refused_by_name)
        for typ, words in (("CPUINFO_DUMP", ["not implemented"]),
                           ("NOTIFY", ["no notification pending"])):
            check("not_yet_" + typ.lower(), t_not_yet, typ, words)
        check("pre_dump", t_pre_dump, "PRE_DUMP")
        check("single_pre_dump", t_pre_dump, "SINGLE_PRE_DUMP")
        check("malformed", t_malformed)
        check("empty_packet", t_empty_packet)
        check("unknown_field_req", t_unknown_field, "req")
        check("unknown_field_opts", t_unknown_field, "opts")
        check("no_client", t_no_client)
        check("fuzz", t_fuzz)
        check("not_a_socket", t_not_a_socket)
        check("dump_restore", t_dump_restore)
        check("images_fd_in_foreign_dir", t_images_fd_in_foreign_dir)
        check("dump_leave_running_work_dir", t_dump_leave_running_no_notify)
        for at in DUMP_ORDER:
            check("notify_refused_" + at, t_notify_refused, at)
            check("client_vanishes_" + at, t_client_vanishes, at)
        check("vanish_without_notify", t_vanish_without_notify)
        check("restore_no_sibling", t_restore_no_sibling_pid)
        check("wait_pid", t_wait_pid)
        check("second_dump_in_session", t_second_dump_in_session)
        check("default_log_file", t_default_log_file)
        check("cr_errno", t_cr_errno)
        check("errmsg_log_level_0", t_errmsg_log_level_0)
        check("socket_on_stdio", t_socket_on_stdio)
        check("self_dump", t_self_dump)
        check("dump_zombie", t_dump_zombie)
        check("wrong_images_fd", t_wrong_images_fd)
        check("images_fd_not_dir", t_images_fd_not_dir)
        check("no_images_fd", t_no_images_fd)
        check("option_wrong_action", t_option_wrong_action)
        check("lazy_dump", t_lazy_dump)
        check("lazy_dump_no_dest_close", t_lazy_dump_no_dest, "close")
        check("lazy_dump_no_dest_kill", t_lazy_dump_no_dest, "kill")
        check("lazy_dump_leave_running", bad_dump, {"lazy_pages": True, "leave_running": True},
              "can't go with --leave-running")
        check("lazy_dump_bad_status_fd", bad_dump, {"lazy_pages": True, "status_fd": 987}, "status_fd 987",
              "no fd 987")
        check("lsm_profile_refused", t_lsm_profile_refused)
        check("log_file_path", t_log_file_path)
        check("empty_ns_not_net", t_empty_ns_bad)
        check("inherit_fd_bad", t_inherit_fd_bad)
        check("external_bad", t_external_bad)
        check("reply_size", t_reply_size)
        check("missing_config_file", t_missing_config_ok)
        check("config_file", t_config_file)
        check("default_config", t_default_config)
        check("unpriv_dump_foreign", t_unpriv_dump_foreign)
        check("unpriv_dump_into_foreign_dir", t_unpriv_dump_into_foreign_dir)
        check("unpriv_dump_own", t_unpriv_dump_own)
        check("unpriv_restore", t_unpriv_restore)
        check("unpriv_restore_cr_cap", t_unpriv_restore_cr_cap)
        check("unpriv_config_file", t_unpriv_config_file)
        check("log_symlink", t_log_symlink)
        check("unpriv_freeze_cgroup", t_unpriv_freeze_cgroup)
        check("unpriv_parent_img", t_unpriv_parent_img)
        check("status_fd_readonly", t_status_fd_readonly)
        check("unpriv_ps_port", t_unpriv_ps_port)
        check("unpriv_ps_auto_dedup", t_unpriv_ps_auto_dedup)
        check("orphan_pts_master", t_orphan_pts)
        check("orphan_pts_refused_without", t_orphan_pts_refused)
        check("orphan_pts_restore_needs_notify", t_orphan_pts_needs_notify)
        check("cgroups", t_cgroups)
        check("freeze_cgroup_not_a_cgroup", t_freeze_cgroup_bad)
        check("ext_mnt_colon", t_ext_mnt_colon)
        check("manage_cgroups_mode_bad", t_cg_mode_bad)
        check("crun_checkpoint_restore", t_crun_checkpoint_restore, False)
        check("crun_checkpoint_leave_running", t_crun_checkpoint_restore, True)
        check("crun_restore_wait", t_crun_restore_wait)
        check("crun_pre_dump", t_crun_pre_dump)
        check("crun_container", t_crun_container)
        check("action_script", t_action_script)
        check("action_script_fails", t_action_script_fails)
        check("action_script_netns", t_action_script_netns)
    finally:
        for t in targets:
            t.kill()
        for h in hogs:
            h.kill()
        shutil.rmtree(TMP, ignore_errors=True)
    passed = sum(1 for _, w in results if w is None)
    failed = len(results) - passed
    print("rpc: %d passed, %d failed (%.0fs)" % (passed, failed, time.time() - start), flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
