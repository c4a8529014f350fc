#!/usr/bin/env python3
"""Bad input to criu must give a clear error, never a crash, and leave
nothing behind.

Each check prints "PASS name" or "FAIL name: why"; the last line is
"cli: N passed, M failed".  Exit status 0 only if nothing failed.

Must run as root.  CLI_ONLY=REGEX runs only the checks whose names it
matches (and the final one for leftovers).  The criu binary is taken from $CRIU, or else
<repo>/build/criu/criu.  Target processes are built from helpers.c
(next to this file) into a temporary directory.
"""

import ctypes
import os
import random
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CRIU = os.environ.get("CRIU", os.path.join(REPO, "build", "criu", "criu"))
IMGTOOL = os.path.join(os.path.dirname(CRIU), "..", "test", "others", "imgtool")
NOBODY = 65534
CRIU_TIMEOUT = 20
VERBOSE = os.environ.get("CLI_VERBOSE") == "1"    # show every criu command and its output
ONLY = os.environ.get("CLI_ONLY")                 # a regex: run only the checks it finds in their names

PR_SET_CHILD_SUBREAPER = 36

# --------------------------------------------------------------------------
# bookkeeping and cleanup

results = []            # (name, None | reason)
live_targets = []       # Target objects still to be ended
mounts = []             # mount points to undo
TMP = None              # scratch dir
HELPER = None           # compiled helper binary


class Fail(Exception):
    pass


def report(name, why):
    results.append((name, why))
    if why is None:
        print("PASS %s" % name, flush=True)
    else:
        why = " ".join(str(why).split())
        if len(why) > 600:
            why = why[:600] + "..."
        print("FAIL %s: %s" % (name, why), flush=True)


def check(name, fn, *args):
    if ONLY and not re.search(ONLY, name) and name != "nothing_left_behind":
        return
    try:
        fn(*args)
    except Fail as e:
        report(name, str(e))
    except Exception as e:  # a bug in the test itself: still report it
        report(name, "test error: %s: %s" % (type(e).__name__, e))
    else:
        report(name, None)


def umount_all():
    while mounts:
        mp = mounts.pop()
        r = subprocess.run(["umount", mp], capture_output=True)
        if r.returncode:
            subprocess.run(["umount", "-l", mp], capture_output=True)


def cleanup():
    for t in list(live_targets):
        t.kill()
    umount_all()
    reap_orphans()
    if TMP and os.path.isdir(TMP):
        # an immutable flag or a mount would stop rmtree: be thorough
        shutil.rmtree(TMP, ignore_errors=True)


def on_signal(signum, frame):
    cleanup()
    print("cli: interrupted by signal %d" % signum, flush=True)
    os._exit(2)


# --------------------------------------------------------------------------
# /proc helpers

def proc_exists(pid):
    return os.path.exists("/proc/%d" % pid)


def proc_status(pid):
    d = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                d[k] = v.strip()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return d


def proc_stat_fields(pid):
    """Fields of /proc/PID/stat after the comm, so index 0 is the state."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return s[s.rindex(")") + 2:].split()


def proc_state(pid):
    f = proc_stat_fields(pid)
    return f[0] if f else None


def proc_starttime(pid):
    f = proc_stat_fields(pid)
    return f[19] if f else None


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def fd_table(pid):
    d = "/proc/%d/fd" % pid
    out = {}
    try:
        for n in os.listdir(d):
            try:
                out[int(n)] = os.readlink(os.path.join(d, n))
            except OSError:
                pass
    except OSError:
        return None
    return out


def reap_orphans():
    """We are a child subreaper: collect whatever criu left to us."""
    reaped = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        reaped.append((pid, status))
    return reaped


def our_children():
    me = os.getpid()
    kids = []
    for n in os.listdir("/proc"):
        if not n.isdigit():
            continue
        f = proc_stat_fields(int(n))
        if f and int(f[1]) == me:
            kids.append(int(n))
    return kids


def ensure_no_pid(pid, what="the dumped pid"):
    """After a failed restore nothing may run with PID.  A zombie that was
    handed to us (we are a subreaper) is reaped and not counted."""
    deadline = time.time() + 2
    while True:
        st = proc_state(pid)
        if st is None:
            return
        if st == "Z":
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        if time.time() > deadline:
            break
        time.sleep(0.02)
    st = proc_state(pid)
    if st is None:
        return
    comm = (read_text("/proc/%d/comm" % pid) or "?").strip()
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    time.sleep(0.05)
    reap_orphans()
    raise Fail("a process (%s, state %s) was left running with %s %d" % (comm, st, what, pid))


# --------------------------------------------------------------------------
# running criu

class Res:
    def __init__(self, argv, rc, out, err):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err

    def brief(self):
        return "rc=%s stderr=%r stdout=%r" % (self.rc, self.err.strip()[-400:], self.out.strip()[-200:])


def criu_for(user):
    """criu as @user can run it: a copy in our temp dir when the build is out of reach
    (a clone in a 0700 directory)."""
    if user is None:
        return CRIU
    copy = os.path.join(TMP, "criu-copy")
    if not os.path.exists(copy):
        shutil.copy2(CRIU, copy)
        os.chmod(copy, 0o755)
    return copy


def criu(*args, user=None, cwd=None, argv0=None):
    argv = [criu_for(user)] + [str(a) for a in args]
    rundir = cwd or new_dir("cwd", mode=0o777)
    kw = {}
    if user is not None:
        kw = dict(user=user, group=user, extra_groups=[])
    try:
        p = subprocess.run(argv if argv0 is None else argv0, cwd=rundir, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=CRIU_TIMEOUT, **kw)
    except subprocess.TimeoutExpired as e:
        raise Fail("criu hung for %ds: %s" % (CRIU_TIMEOUT, " ".join(argv)))
    r = Res(argv, p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))
    if VERBOSE:
        print("  $ %s%s -> rc %d\n%s" % ("(uid %d) " % user if user is not None else "",
              " ".join(argv if argv0 is None else argv0), r.rc,
              "".join("    | " + l + "\n" for l in (r.err + r.out).splitlines())), end="", flush=True)
    if cwd is None:
        cores = [f for f in os.listdir(rundir) if f.startswith("core")]
        if cores:
            raise Fail("criu left core files %s; %s" % (cores, r.brief()))
        shutil.rmtree(rundir, ignore_errors=True)
    return r


def expect_error(r, *keywords):
    """R must be a clean failure whose stderr matches every keyword regex."""
    if r.rc < 0:
        raise Fail("criu was killed by signal %d; %s" % (-r.rc, r.brief()))
    if r.rc == 0:
        raise Fail("criu succeeded (exit 0) on bad input; %s" % r.brief())
    for bad in ("Segmentation fault", "core dumped", "AddressSanitizer", "Aborted", "stack smashing"):
        if bad in r.err or bad in r.out:
            raise Fail("criu crashed (%s); %s" % (bad, r.brief()))
    if not r.err.strip():
        raise Fail("no message on stderr; %s" % r.brief())
    for kw in keywords:
        if not re.search(kw, r.err, re.I):
            raise Fail("stderr does not match /%s/; %s" % (kw, r.brief()))


# --------------------------------------------------------------------------
# scratch space

_ndirs = [0]


def new_dir(tag, create=True, mode=0o755):
    _ndirs[0] += 1
    d = os.path.join(TMP, "%s-%d" % (tag, _ndirs[0]))
    if create:
        os.mkdir(d)
        os.chmod(d, mode)
    return d


def images_in(d):
    try:
        return sorted(f for f in os.listdir(d) if f.endswith(".img"))
    except OSError:
        return []


def expect_no_images(d):
    imgs = images_in(d)
    if imgs:
        raise Fail("the failed dump left images behind in %s: %s" % (d, imgs))


# --------------------------------------------------------------------------
# target processes

class Target:
    def __init__(self, mode):
        self.mode = mode
        _ndirs[0] += 1
        self.outpath = os.path.join(TMP, "target-%s-%d.out" % (mode, _ndirs[0]))
        out = open(self.outpath, "w")
        err = open(self.outpath + ".err", "w")
        try:
            self.p = subprocess.Popen([HELPER, mode], stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                      close_fds=True, start_new_session=True, cwd=TMP)
        finally:
            out.close()
            err.close()
        live_targets.append(self)
        self.pid = self.p.pid
        deadline = time.time() + 5
        while True:
            m = re.search(r"ready pid=(\d+) extra=(-?\d+)", read_text(self.outpath) or "")
            if m:
                break
            if self.p.poll() is not None:
                raise Fail("helper %s died at start (rc %s): %s" %
                           (mode, self.p.returncode, read_text(self.outpath + ".err")))
            if time.time() > deadline:
                raise Fail("helper %s did not get ready" % mode)
            time.sleep(0.005)
        self.extra = int(m.group(2))
        self.maps = read_text("/proc/%d/maps" % self.pid)
        self.fds = fd_table(self.pid)
        self.start = proc_starttime(self.pid)

    def unharmed(self, compare_maps=True):
        """Raise Fail unless the target still runs, untraced, as before."""
        if self.p.poll() is not None:
            raise Fail("target %d (%s) is gone (exit %s)" % (self.pid, self.mode, self.p.returncode))
        st = proc_status(self.pid)
        if st is None:
            raise Fail("target %d vanished" % self.pid)
        if proc_starttime(self.pid) != self.start:
            raise Fail("pid %d is now a different process" % self.pid)
        if st.get("TracerPid", "0") != "0":
            raise Fail("target %d is still traced by %s" % (self.pid, st.get("TracerPid")))
        state = st.get("State", "?")
        if state[:1] in ("T", "t", "Z", "X"):
            raise Fail("target %d was left in state %s" % (self.pid, state))
        if compare_maps:
            maps = read_text("/proc/%d/maps" % self.pid)
            if maps != self.maps:
                raise Fail("memory map of target %d changed (parasite left behind?)" % self.pid)
        fds = fd_table(self.pid)
        if fds != self.fds:
            raise Fail("fd table of target %d changed: %s -> %s" % (self.pid, self.fds, fds))

    def finish(self):
        """SIGTERM: the helper checks itself and must say ok."""
        try:
            self.p.send_signal(signal.SIGTERM)
            rc = self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Fail("target %d did not answer SIGTERM" % self.pid)
        if self in live_targets:
            live_targets.remove(self)
        out = read_text(self.outpath) or ""
        if rc != 0 or "\nok\n" not in out:
            raise Fail("target self-check failed after the refused dump (rc %s): %r" % (rc, out[-200:]))

    def kill(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.p.kill()
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self in live_targets:
            live_targets.remove(self)


def with_target(mode, body):
    t = Target(mode)
    try:
        body(t)
        t.unharmed()
        t.finish()
    finally:
        t.kill()


def refused_dump(mode, keywords, tree_pid=None):
    """Dump a target criu cannot handle: clean refusal, target unchanged."""
    def body(t):
        d = new_dir("dump", create=False)
        pid = t.pid if tree_pid is None else tree_pid(t)
        r = criu("dump", "-t", pid, "-D", d)
        expect_error(r, *[k.format(pid=t.pid, extra=t.extra) for k in keywords])
        expect_no_images(d)
    return lambda: with_target(mode, body)


def t_dump_child_killed():
    """A child SIGKILLed while criu holds the tree (from the post-dump hook): the dump fails naming it, no
    whole image set is left (the images would have it alive), the parent runs on untraced."""
    t = Target("child")
    try:
        d = new_dir("dump", create=False)
        hook = os.path.join(TMP, "kill-child-%d.sh" % t.extra)
        with open(hook, "w") as f:
            f.write('#!/bin/sh\n[ "$CRTOOLS_SCRIPT_ACTION" != post-dump ] || kill -9 %d\n' % t.extra)
        os.chmod(hook, 0o755)
        r = criu("dump", "-t", t.pid, "-D", d, "--action-script", hook)
        expect_error(r, r"\b%d\b.*died while it was held" % t.extra)
        if os.path.exists(os.path.join(d, "inventory.img")):
            raise Fail("the failed dump left a whole image set in %s" % d)
        t.unharmed()
    finally:
        t.kill()


# --------------------------------------------------------------------------
# dump: bad arguments

def t_dump_no_pid():
    d = new_dir("dump", create=False)
    r = criu("dump", "-D", d)
    expect_error(r, r"-t|--tree|pid")
    if os.path.exists(d):
        raise Fail("a dump without -t created the images dir %s" % d)


def t_dump_bad_pid(arg):
    d = new_dir("dump", create=False)
    r = criu("dump", "-t", arg, "-D", d)
    expect_error(r, r"pid", re.escape(arg))
    if os.path.exists(d):
        raise Fail("a dump with an invalid -t created the images dir %s" % d)


def free_pid():
    pid_max = int(read_text("/proc/sys/kernel/pid_max") or "32768")
    for pid in range(pid_max - 3, pid_max // 2, -97):
        if not proc_exists(pid):
            return pid
    raise Fail("no free pid found")


def t_dump_no_such_pid():
    pid = free_pid()
    d = new_dir("dump", create=False)
    r = criu("dump", "-t", pid, "-D", d)
    expect_error(r, r"no (such )?process|does not exist|not exist|no task", str(pid))
    expect_no_images(d)


def t_dump_self():
    # sh execs criu in place, so $$ is criu's own pid
    d = new_dir("dump", create=False)
    r = criu(argv0=["sh", "-c", 'exec "$0" dump -t $$ -D "$1"', CRIU, d])
    expect_error(r, r"itself|own|self")
    expect_no_images(d)


# --------------------------------------------------------------------------
# dump: unwritable images dir

def t_dump_dir_is_file():
    def body(t):
        f = os.path.join(TMP, "not-a-dir")
        with open(f, "w") as fh:
            fh.write("precious\n")
        r = criu("dump", "-t", t.pid, "-D", f)
        expect_error(r, r"director|ENOTDIR", re.escape(f))
        if read_text(f) != "precious\n":
            raise Fail("criu modified the file given as -D")
        os.unlink(f)
    with_target("plain", body)


def ro_mount():
    src = new_dir("rosrc")
    dst = new_dir("ro")
    r = subprocess.run(["mount", "--bind", src, dst], capture_output=True, text=True)
    if r.returncode:
        raise Fail("setup: bind mount failed: %s" % r.stderr.strip())
    mounts.append(dst)
    r = subprocess.run(["mount", "-o", "remount,bind,ro", dst], capture_output=True, text=True)
    if r.returncode:
        raise Fail("setup: remount ro failed: %s" % r.stderr.strip())
    try:
        open(os.path.join(dst, "probe"), "w").close()
    except OSError:
        pass
    else:
        raise Fail("setup: the read-only mount is writable")
    return src, dst


def t_dump_ro_dir(subdir):
    def body(t):
        src, dst = ro_mount()
        try:
            d = os.path.join(dst, "imgs") if subdir else dst
            r = criu("dump", "-t", t.pid, "-D", d)
            expect_error(r, r"read-only|not writable|EROFS|writ", re.escape(d))
        finally:
            umount_all()
        if os.listdir(src):
            raise Fail("something was written under the read-only mount: %s" % os.listdir(src))
    with_target("plain", body)


# --------------------------------------------------------------------------
# non-root

def t_nonroot_dump():
    def body(t):
        d = new_dir("nobody-dump", mode=0o777)
        r = criu("dump", "-t", t.pid, "-D", d, user=NOBODY)
        expect_error(r, r"root|capabilit|CAP_|privilege|permitted")
        if os.listdir(d):
            raise Fail("the refused dump left files: %s" % os.listdir(d))
    with_target("plain", body)


def t_nonroot_restore(good):
    if not good:
        raise Fail("setup: no good dump to restore from")
    d = copy_dump(good)
    for root, dirs, files in os.walk(d):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    r = criu("restore", "-D", d, "-d", user=NOBODY)
    expect_error(r, r"root|capabilit|CAP_|privilege|permitted")
    ensure_no_pid(good_pid[0])


# --------------------------------------------------------------------------
# restore from bad images

good_pid = [None]


def make_good_dump():
    """Dump a plain helper (it is killed by the dump).  Returns the dir."""
    t = Target("plain")
    try:
        d = new_dir("good", create=False)
        r = criu("dump", "-t", t.pid, "-D", d)
        if r.rc != 0:
            raise Fail("setup: dump of a plain helper failed; %s" % r.brief())
        try:
            t.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            raise Fail("setup: the dumped helper %d kept running" % t.pid)
        if not os.path.exists(os.path.join(d, "inventory.img")):
            raise Fail("setup: the dump wrote no inventory.img")
        good_pid[0] = t.pid
        return d
    finally:
        t.kill()


def copy_dump(good):
    d = new_dir("case", create=False)
    shutil.copytree(good, d)
    return d


def img(d, fmt):
    return os.path.join(d, fmt.format(pid=good_pid[0]))


def pb_entries(path):
    """(offset, length) of each protobuf entry after the 8-byte header
    (each is a length word, the message and a check word; a trailer ends
    the file)."""
    r = subprocess.run([IMGTOOL, "entries", path], capture_output=True, text=True)
    lines = r.stdout.split("\n")
    if r.returncode or not any(l.startswith("trailer ") for l in lines):
        raise Fail("setup: cannot parse %s as entries: %s" % (path, r.stderr))
    return [tuple(int(x) for x in l.split()) for l in lines if l and l[0].isdigit()]


def pb_varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7f) << shift
        shift += 7
        if c < 0x80:
            return v, i


def pb_drop_field(body, number):
    """The protobuf message @body without field @number."""
    out, i = b"", 0
    while i < len(body):
        start = i
        key, i = pb_varint(body, i)
        wt = key & 7
        if wt == 0:
            _, i = pb_varint(body, i)
        elif wt == 1:
            i += 8
        elif wt == 2:
            n, i = pb_varint(body, i)
            i += n
        elif wt == 5:
            i += 4
        else:
            raise Fail("setup: wire type %d in a message" % wt)
        if key >> 3 != number:
            out += body[start:i]
    return out


def reseal(path):
    """Make a changed image whole again (check words, trailer), as if criu had written it."""
    r = subprocess.run([IMGTOOL, "seal", path], capture_output=True, text=True)
    if r.returncode:
        raise Fail("setup: cannot reseal %s: %s" % (path, r.stderr))


def truncate_mid_entry(path):
    ents = pb_entries(path)
    if not ents:
        raise Fail("setup: %s has no entries" % path)
    off, n = ents[-1]
    os.truncate(path, off + 4 + n // 2)


def restore_fails(good, mangle, *keywords):
    if not good:
        raise Fail("setup: no good dump to restore from")
    d = copy_dump(good)
    mangle(d)
    pidfile = os.path.join(TMP, "pidfile-%d" % _ndirs[0])
    r = criu("restore", "-D", d, "-d", "--pidfile", pidfile)
    try:
        expect_error(r, *keywords)
    finally:
        ensure_no_pid(good_pid[0])
    if os.path.exists(pidfile):
        raise Fail("a failed restore wrote a pidfile")


def m_remove(name):
    return lambda d: os.unlink(img(d, name))


def m_truncate(name):
    return lambda d: truncate_mid_entry(img(d, name))


def m_empty(d):
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))


def m_version(d):
    p = img(d, "inventory.img")
    data = bytearray(open(p, "rb").read())
    if data[12] != 0x08 or data[13] >= 0x7f:
        raise Fail("setup: inventory does not start with a one-byte img_version (%s)" % data[12:14].hex())
    data[13] = 0x7f
    open(p, "wb").write(data)
    reseal(p)


def m_garbage(d):
    rnd = random.Random(1234)
    open(img(d, "inventory.img"), "wb").write(bytes(rnd.randrange(256) for _ in range(256)))


def m_magic(name, word):
    def f(d):
        p = img(d, name)
        data = bytearray(open(p, "rb").read())
        struct.pack_into("<I", data, 4 * word, 0x0badf00d)
        open(p, "wb").write(data)
    return f


def m_pages_short(d):
    p = img(d, "pages-1.img")
    size = os.path.getsize(p)
    if size < 4096:
        raise Fail("setup: pages-1.img is too small (%d)" % size)
    os.truncate(p, size - 4096)


def m_in_parent_root(d):
    """The root gets an in_parent pagemap entry (a copy of its first one,
    with field 10 set): a root has no parent to share pages with."""
    p = img(d, "pagemap-{pid}.img")
    ents = pb_entries(p)
    if len(ents) < 2:
        raise Fail("setup: pagemap has no page entry")
    data = open(p, "rb").read()
    off, n = ents[1]
    end = ents[-1][0] + 4 + ents[-1][1] + 4
    body = pb_drop_field(data[off + 4:off + 4 + n], 11) + b"\x50\x01"    # no page checksums, in_parent
    open(p, "wb").write(data[:end] + struct.pack("<I", len(body)) + body + b"\0" * 4)
    reseal(p)


def t_restore_nonexistent_dir():
    d = new_dir("absent", create=False)
    r = criu("restore", "-D", d, "-d")
    expect_error(r, re.escape(d), r"no such|not exist|ENOENT")
    if os.path.exists(d):
        raise Fail("restore created the images dir %s" % d)


def restore_refused(d, *keywords):
    """A restore of D must fail naming KEYWORDS, leaving nothing running."""
    pidfile = os.path.join(TMP, "pidfile-untrusted-%d" % _ndirs[0])
    r = criu("restore", "-D", d, "-d", "--pidfile", pidfile)
    try:
        expect_error(r, *keywords)
    finally:
        ensure_no_pid(good_pid[0])
    if os.path.exists(pidfile):
        raise Fail("a refused restore wrote a pidfile")


def dump_as_uid(uid, setuid_copy):
    """Dump a helper that uid @uid runs (from a setuid-root copy if asked);
    returns (images dir, pid)."""
    pub = tempfile.mkdtemp(prefix="cli-pub-", dir="/tmp")
    try:
        os.chmod(pub, 0o755)
        exe = os.path.join(pub, "helper-suid" if setuid_copy else "helper")
        shutil.copy(HELPER, exe)
        os.chmod(exe, 0o4755 if setuid_copy else 0o755)
        out = os.path.join(TMP, "uid-helper-%d.out" % _ndirs[0])
        with open(out, "w") as f:
            p = subprocess.Popen([exe, "plain"], stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.DEVNULL,
                                 close_fds=True, start_new_session=True, cwd="/", user=uid, group=uid,
                                 extra_groups=[])
        deadline = time.time() + 5
        while "ready pid=" not in (read_text(out) or ""):
            if p.poll() is not None or time.time() > deadline:
                p.kill()
                raise Fail("setup: helper as uid %d did not start" % uid)
            time.sleep(0.005)
        d = new_dir("uid%d" % uid, create=False)
        r = criu("dump", "-t", p.pid, "-D", d)
        if r.rc != 0:
            p.kill()
            raise Fail("setup: dump of uid %d's helper failed; %s" % (uid, r.brief()))
        p.wait(timeout=5)
        return d, p.pid
    finally:
        shutil.rmtree(pub, ignore_errors=True)


def give_to(d, uid):
    """As if user @uid had written the images: theirs, dir and files."""
    for root, dirs, files in os.walk(d):
        for n in dirs + files:
            os.chown(os.path.join(root, n), uid, uid)
    os.chown(d, uid, uid)


def t_untrusted_images(good):
    """Restore believes only images that no one but root (or the caller)
    can have written: Documentation/security.md."""
    if not good:
        raise Fail("setup: no good dump to restore from")
    pid = good_pid[0]
    d = copy_dump(good)
    os.chmod(d, 0o777)
    restore_refused(d, r"refusing", re.escape(d), r"writable by anyone")
    d = copy_dump(good)
    core = img(d, "core-{pid}.img")
    os.chmod(core, 0o666)
    restore_refused(d, r"refusing", re.escape(os.path.basename(core)), r"writable")
    d = copy_dump(good)
    os.chown(os.path.join(d, "pages-1.img"), NOBODY, NOBODY)
    restore_refused(d, r"refusing", r"pages-1\.img", r"belongs to uid %d" % NOBODY)
    # an images dir below a directory anyone may write, without the sticky bit
    parent = new_dir("opendir")
    os.chmod(parent, 0o777)
    d = os.path.join(parent, "img")
    shutil.copytree(good, d)
    restore_refused(d, r"refusing", re.escape(parent), r"writable by others")

    # a setuid-root program run by uid 1: a real dump, with euid 0 and a setuid
    # executable, handed over as uid 1's files
    d, upid = dump_as_uid(1, True)
    give_to(d, 1)
    pid_was = good_pid[0]
    good_pid[0] = upid
    try:
        restore_refused(d, r"refusing", r"belongs to uid 1")
        # uid 1's own process, its creds changed to root's in the core image
        d, upid = dump_as_uid(1, False)
        good_pid[0] = upid
        core = os.path.join(d, "core-%d.img" % upid)
        data = open(core, "rb").read()
        ones = bytes.fromhex("0801100118012001280130013801")
        if ones not in data:
            raise Fail("setup: uid 1's creds not found in %s" % core)
        open(core, "wb").write(data.replace(ones, bytes.fromhex("0800100118002001280030013800")))
        give_to(d, 1)
        restore_refused(d, r"refusing", r"belongs to uid 1")
    finally:
        good_pid[0] = pid_was


def t_restore_good(good):
    """Control: the unmangled images do restore, so the failures above are
    due to the damage."""
    if not good:
        raise Fail("setup: no good dump to restore from")
    d = copy_dump(good)
    pidfile = os.path.join(TMP, "pidfile-good")
    r = criu("restore", "-D", d, "-d", "--pidfile", pidfile)
    pid = good_pid[0]
    try:
        if r.rc != 0:
            raise Fail("restore of intact images failed; %s" % r.brief())
        if (read_text(pidfile) or "").strip() != str(pid):
            raise Fail("pidfile says %r, expected %d" % (read_text(pidfile), pid))
        if proc_state(pid) in (None, "Z"):
            raise Fail("restored task %d is not running" % pid)
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 5
        status = None
        while time.time() < deadline:
            try:
                wp, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                # not ours: wait for it to disappear
                if not proc_exists(pid):
                    break
                wp = 0
            if wp == pid:
                break
            time.sleep(0.01)
        else:
            raise Fail("restored task did not exit on SIGTERM")
        if status is not None and not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            raise Fail("restored task's self-check failed (wait status 0x%x)" % status)
    finally:
        if proc_state(pid) not in (None, "Z"):
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
        reap_orphans()


def t_restore_wait(sig, want_rc):
    """Without -d criu waits for the restored task and exits with its status."""
    saved = good_pid[0]
    good = make_good_dump()
    pid = good_pid[0]
    good_pid[0] = saved
    p = subprocess.Popen([CRIU, "restore", "-D", good, "-o", "restore.log"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 10
        while proc_state(pid) in (None, "Z") or proc_status(pid).get("TracerPid", "0") != "0":
            if p.poll() is not None:
                raise Fail("criu restore exited (%s) before the task ran: %s" % (p.returncode, p.stderr.read()))
            if time.time() > deadline:
                raise Fail("restored task %d did not appear" % pid)
            time.sleep(0.01)
        time.sleep(0.1)
        os.kill(pid, sig)
        try:
            rc = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise Fail("criu restore did not exit after its task did")
        if rc != want_rc:
            raise Fail("criu restore exited with %d, expected %d" % (rc, want_rc))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        if proc_state(pid) not in (None, "Z"):
            os.kill(pid, signal.SIGKILL)
        reap_orphans()


def t_dump_threads_leave_running():
    """A multi-threaded task dumped with -R goes on untouched, every thread."""
    def body(t):
        d = new_dir("threads", create=False)
        r = criu("dump", "-R", "-t", t.pid, "-D", d)
        if r.rc != 0:
            raise Fail("dump -R of a multi-threaded task failed; %s" % r.brief())
        cores = [f for f in os.listdir(d) if f.startswith("core-")]
        if len(cores) < 2:
            raise Fail("expected a core image per thread, got %s" % cores)
    with_target("threads", body)


def t_dump_tree_leave_running():
    """A process with a child dumped with -R: both go on untouched."""
    def body(t):
        d = new_dir("tree", create=False)
        r = criu("dump", "-R", "-t", t.pid, "-D", d)
        if r.rc != 0:
            raise Fail("dump -R of a process tree failed; %s" % r.brief())
        cores = [f for f in os.listdir(d) if f.startswith("core-")]
        if len(cores) < 2:
            raise Fail("expected a core image per process, got %s" % cores)
    with_target("child", body)


def grow_file(path):
    with open(path, "a") as f:       # the task's stdout grows behind its back
        f.write("appended after the dump\n")


def touch_file(path):
    st = os.stat(path)               # same size, another mtime
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - 5 * 10**9 + 1))


def seconds_only(path):
    st = os.stat(path)               # what a tar without sub-second times puts back
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns // 10**9 * 10**9))


def t_restore_mtime_whole_seconds():
    """A file put back by an archiver that keeps whole seconds of its mtime
    (podman's devshm-checkpoint.tar) is the file dumped; another whole
    second is not."""
    t = Target("plain")
    try:
        d = new_dir("mtime-secs", create=False)
        r = criu("dump", "-t", t.pid, "-D", d)
        if r.rc != 0:
            raise Fail("setup: dump failed; %s" % r.brief())
        t.p.wait(timeout=5)
        st = os.stat(t.outpath)
        if st.st_mtime_ns % 10**9 == 0:
            raise Fail("setup: the file's mtime has no nanoseconds to lose")
        seconds_only(t.outpath)
        pidfile = os.path.join(TMP, "pidfile-mtime-secs")
        r = criu("restore", "-D", d, "-d", "--pidfile", pidfile)
        if r.rc != 0:
            raise Fail("restore of a file whose mtime lost its nanoseconds failed; %s" % r.brief())
        os.kill(t.pid, signal.SIGKILL)
        time.sleep(0.05)
        reap_orphans()
        ensure_no_pid(t.pid)
        os.utime(t.outpath, ns=(st.st_atime_ns, (st.st_mtime_ns // 10**9 - 2) * 10**9))
        r = criu("restore", "-D", d, "-d")
        expect_error(r, r"modified since the dump")
        ensure_no_pid(t.pid)
    finally:
        t.kill()


def t_restore_file_copied():
    """A new inode with the dump's size and mtime is a copy of the file
    dumped (podman --import puts a container's rootfs changes back from a
    tarball in a new overlay): restored; with another mtime it is not."""
    t = Target("plain")
    try:
        d = new_dir("copied", create=False)
        r = criu("dump", "-t", t.pid, "-D", d)
        if r.rc != 0:
            raise Fail("setup: dump failed; %s" % r.brief())
        t.p.wait(timeout=5)
        st = os.stat(t.outpath)
        copy = t.outpath + ".copy"
        shutil.copyfile(t.outpath, copy)
        os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns - 3 * 10**9))
        os.rename(copy, t.outpath)
        r = criu("restore", "-D", d, "-d")
        expect_error(r, r"changed since the dump \(inode")
        ensure_no_pid(t.pid)
        os.utime(t.outpath, ns=(st.st_atime_ns, st.st_mtime_ns))
        pidfile = os.path.join(TMP, "pidfile-copied")
        r = criu("restore", "-D", d, "-d", "--pidfile", pidfile)
        if r.rc != 0:
            raise Fail("restore of a copy with the dump's size and mtime failed; %s" % r.brief())
        os.kill(t.pid, signal.SIGKILL)
        time.sleep(0.05)
        reap_orphans()
    finally:
        t.kill()


def t_restore_changed_file(change, name, pattern):
    """A file that changed since the dump stops the restore, unless told to go on."""
    t = Target("plain")
    try:
        d = new_dir(name, create=False)
        r = criu("dump", "-t", t.pid, "-D", d)
        if r.rc != 0:
            raise Fail("setup: dump failed; %s" % r.brief())
        t.p.wait(timeout=5)
        change(t.outpath)
        r = criu("restore", "-D", d, "-d")
        expect_error(r, pattern, r"allow-changed-files")
        ensure_no_pid(t.pid)
        pidfile = os.path.join(TMP, "pidfile-" + name)
        r = criu("restore", "-D", d, "-d", "--allow-changed-files", "--pidfile", pidfile)
        if r.rc != 0:
            raise Fail("restore with --allow-changed-files failed; %s" % r.brief())
        os.kill(t.pid, signal.SIGKILL)
        time.sleep(0.05)
        reap_orphans()
    finally:
        t.kill()


def t_restore_file_now_fifo():
    """A file the task has open (its stdout, for writing) that is a FIFO now:
    refused by name. The restore's open of it must not wait for a reader
    that never comes (it hung)."""
    t = Target("plain")
    try:
        d = new_dir("fifo", create=False)
        r = criu("dump", "-t", t.pid, "-D", d)
        if r.rc != 0:
            raise Fail("setup: dump failed; %s" % r.brief())
        t.p.wait(timeout=5)
        os.unlink(t.outpath)
        os.mkfifo(t.outpath)
        r = criu("restore", "-D", d, "-d")
        expect_error(r, r"not the kind of file it was", re.escape(t.outpath))
        ensure_no_pid(t.pid)
    finally:
        t.kill()


def t_restore_pid_in_use():
    t = Target("plain")
    try:
        d = new_dir("inuse", create=False)
        r = criu("dump", "-R", "-t", t.pid, "-D", d)
        if r.rc != 0:
            raise Fail("setup: dump -R failed; %s" % r.brief())
        t.unharmed()
        r = criu("restore", "-D", d, "-d")
        expect_error(r, r"in use|already|exists|taken|busy", str(t.pid))
        t.unharmed()
        t.finish()
    finally:
        t.kill()


def t_restore_pid_cursor_near():
    """The kernel's pid cursor just below the dumped pid at restore (pid_max
    came round again): what criu forks before the tree (its reaper) took the
    pid, and the restore failed "in use by another process" (zdtm
    posix_timer_dump_fired, once in a full run). The cursor is moved past
    the tree's pids now."""
    for attempt in range(5):
        t = Target("plain")
        try:
            d = new_dir("cursor", create=False)
            r = criu("dump", "-t", t.pid, "-D", d)
            if r.rc != 0:
                raise Fail("setup: dump failed; %s" % r.brief())
            t.p.wait(timeout=5)
            ensure_no_pid(t.pid)
            pidfile = os.path.join(TMP, "pidfile-cursor-%d" % attempt)
            # criu itself, then its reaper, forked twice, the last just at the pid
            selfpid = os.path.join(TMP, "criupid-cursor-%d" % attempt)
            with open("/proc/sys/kernel/ns_last_pid", "w") as f:
                f.write(str(t.pid - 4))
            # through sh, which execs criu: its pid is criu's
            r = criu("restore", "-D", d, "-d", "--pidfile", pidfile, argv0=[
                "sh", "-c", 'echo $$ > "$0"; exec "$@"', selfpid, CRIU, "restore", "-D", d, "-d",
                "--pidfile", pidfile])
            m = re.search(r"in use by another process \((.*)\)", r.err)
            if r.rc != 0 and m and (m.group(1) != "criu" or read_text(selfpid).strip() != str(t.pid - 3)):
                continue        # something else on the machine forked meanwhile: try again
            if r.rc != 0:
                raise Fail("restore with the pid cursor just below the tree's pid failed; %s" % r.brief())
            if read_text(pidfile).strip() != str(t.pid):
                raise Fail("restored as pid %s, not %d" % (read_text(pidfile).strip(), t.pid))
            os.kill(t.pid, signal.SIGKILL)
            time.sleep(0.05)
            reap_orphans()
            return
        finally:
            t.kill()
    print("note: restore_pid_cursor_near: other processes took the pid in 5 tries", file=sys.stderr)


def t_restore_above_pid_max():
    """kernel.pid_max lowered below the dumped pid since the dump: refused
    naming both (it was clone3's bare EINVAL). In a pid namespace of our
    own, whose pid_max is its own since Linux 6.14: the machine's stays."""
    if tuple(int(x) for x in re.findall(r"\d+", os.uname().release)[:2]) < (6, 14):
        print("note: restore_above_pid_max needs a per-namespace pid_max (Linux 6.14)", file=sys.stderr)
        return
    host_max = read_text("/proc/sys/kernel/pid_max")
    d = new_dir("pidmax", create=False)
    out = os.path.join(TMP, "pidmax.out")
    script = """
        set -u
        echo 4999 > /proc/sys/kernel/ns_last_pid
        setsid "$1" plain > "$3" 2>/dev/null </dev/null &
        P=$!
        for i in $(seq 100); do grep -q ready "$3" && break; sleep 0.05; done
        "$2" dump -t $P -D "$4" || { echo "setup: dump of $P failed"; exit 2; }
        wait $P
        echo 1000 > /proc/sys/kernel/pid_max
        "$2" restore -D "$4" -d 2>&1
        echo "pid=$P rc=$?"
    """
    try:
        p = subprocess.run(["unshare", "-pf", "--mount-proc", "sh", "-c", script, "sh", HELPER, CRIU, out, d],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=CRIU_TIMEOUT * 2, cwd=TMP)
        text = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
        m = re.search(r"pid=(\d+) rc=(\d+)", text)
        if not m:
            raise Fail("setup: %r" % text[-600:])
        if m.group(2) == "0":
            raise Fail("restore of pid %s with pid_max 1000 succeeded: %r" % (m.group(1), text[-600:]))
        if not re.search(r"pid %s is not below kernel\.pid_max \(1000\)" % m.group(1), text):
            raise Fail("the error does not name the pid and pid_max: %r" % text[-600:])
    finally:
        if read_text("/proc/sys/kernel/pid_max") != host_max:
            with open("/proc/sys/kernel/pid_max", "w") as f:
                f.write(host_max)
            raise Fail("the machine's kernel.pid_max changed (put back to %s)" % host_max.strip())


def t_restore_lower_hard_rlimit():
    """A criu whose hard RLIMIT_FSIZE (ulimit -Hf; ulimit -v the same) is
    below the task's, without CAP_SYS_RESOURCE: refused naming the limit and
    both values (it said "hard limit 9 is 18446744073709551615"). Not
    RLIMIT_AS: a criu built with AddressSanitizer can't map its shadow memory
    under it (killed by SIGABRT in the sanitizer run)."""
    caps = int(re.search(r"CapEff:\s*([0-9a-f]+)", read_text("/proc/self/status")).group(1), 16)
    if caps & (1 << 24):
        print("note: restore_lower_hard_rlimit needs a root without CAP_SYS_RESOURCE", file=sys.stderr)
        return
    t = Target("plain")
    try:
        d = new_dir("rlimit-fsize", create=False)
        r = criu("dump", "-t", t.pid, "-D", d)
        if r.rc != 0:
            raise Fail("setup: dump failed; %s" % r.brief())
        t.p.wait(timeout=5)
        lim = 1 << 40
        p = subprocess.run([CRIU, "restore", "-D", d, "-d"], stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=CRIU_TIMEOUT, cwd=TMP,
                           preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (lim, lim)))
        expect_error(Res([], p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")),
                     r"hard RLIMIT_FSIZE is unlimited, above ours \(%d\)" % lim, str(t.pid))
        ensure_no_pid(t.pid)
    finally:
        t.kill()


def t_restore_mqueue_made_again():
    """A POSIX message queue of criu's ipc namespace the task had open,
    removed and made again with the same attributes since the dump: another
    queue, refused by name (it was taken as the dumped one). The queue left
    as it was restores."""
    libc = ctypes.CDLL(None, use_errno=True)

    class MqAttr(ctypes.Structure):
        _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long), ("msgsize", ctypes.c_long),
                    ("curmsgs", ctypes.c_long), ("pad", ctypes.c_long * 4)]

    t = Target("mqueue")
    name = ("/criu-cli-mq-%d" % t.pid).encode()
    try:
        d = new_dir("mqueue", create=False)
        r = criu("dump", "-t", t.pid, "-D", d)
        if r.rc != 0:
            raise Fail("setup: dump failed; %s" % r.brief())
        t.p.wait(timeout=5)
        r = criu("restore", "-D", d, "-d")
        if r.rc != 0:
            raise Fail("restore with the queue as it was failed; %s" % r.brief())
        os.kill(t.pid, signal.SIGKILL)
        time.sleep(0.05)
        reap_orphans()
        ensure_no_pid(t.pid)
        libc.mq_unlink(name)
        q = libc.mq_open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600, ctypes.byref(MqAttr(0, 4, 64, 0)))
        if q < 0:
            raise Fail("setup: can't make the queue again: %s" % os.strerror(ctypes.get_errno()))
        os.close(q)
        r = criu("restore", "-D", d, "-d")
        expect_error(r, r"message queue %s is not the dumped one" % name.decode())
        ensure_no_pid(t.pid)
    finally:
        libc.mq_unlink(name)
        if proc_state(t.pid) not in (None, "Z"):     # a restore that should have failed
            os.kill(t.pid, signal.SIGKILL)
            time.sleep(0.05)
            reap_orphans()
        t.kill()


def t_restore_unix_path_bound():
    """The path of a listening unix socket of the task, bound since the dump
    by another process's live socket: refused naming it, and the other's
    socket keeps its file (the restore removed it, taking the name of a live
    server). A stale socket file left there is removed as before."""
    t = Target("unixsk")
    path = os.path.join(TMP, "sk-%d" % t.pid)
    other = None
    try:
        d = new_dir("unixsk", create=False)
        r = criu("dump", "-t", t.pid, "-D", d)
        if r.rc != 0:
            raise Fail("setup: dump failed; %s" % r.brief())
        t.p.wait(timeout=5)
        os.unlink(path)
        other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        other.bind(path)
        other.listen(4)
        ino = os.stat(path).st_ino
        r = criu("restore", "-D", d, "-d")
        expect_error(r, r"the path is taken by socket \d+ of another process", re.escape(path))
        ensure_no_pid(t.pid)
        if not os.path.exists(path) or os.stat(path).st_ino != ino:
            raise Fail("the other process's socket file %s was removed" % path)
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(path)
        c.close()
        other.close()
        other = None
        r = criu("restore", "-D", d, "-d")
        if r.rc != 0:
            raise Fail("restore over a stale socket file failed; %s" % r.brief())
    finally:
        if other:
            other.close()
        if proc_state(t.pid) not in (None, "Z"):
            os.kill(t.pid, signal.SIGKILL)
            time.sleep(0.05)
            reap_orphans()
        t.kill()


def t_restore_mapped_file_shrank():
    """--allow-changed-files with the task's executable cut short since the
    dump: its mapped text past the new end would be SIGBUS at the first
    touch (the restore succeeded and the task died at once): refused,
    naming the file and both sizes."""
    global HELPER
    exe = os.path.join(TMP, "helpers-shrunk")
    shutil.copy2(HELPER, exe)
    saved, HELPER = HELPER, exe
    try:
        t = Target("plain")
    finally:
        HELPER = saved
    try:
        d = new_dir("shrank", create=False)
        r = criu("dump", "-t", t.pid, "-D", d)
        if r.rc != 0:
            raise Fail("setup: dump failed; %s" % r.brief())
        t.p.wait(timeout=5)
        size = os.path.getsize(exe)
        os.truncate(exe, 4096)
        r = criu("restore", "-D", d, "-d", "--allow-changed-files")
        expect_error(r, r"%s is 4096 bytes now \(%d at dump time\)" % (re.escape(exe), size), r"SIGBUS")
        ensure_no_pid(t.pid)
    finally:
        if proc_state(t.pid) not in (None, "Z"):
            os.kill(t.pid, signal.SIGKILL)
            time.sleep(0.05)
            reap_orphans()
        t.kill()


def t_restore_lock_taken():
    """A POSIX lock of the task (dumped with --file-locks) that another
    process took since the dump: refused naming the file and the holder
    (it was "taking back the file lock at fd 1 failed: errno 11")."""
    import fcntl
    t = Target("posixlock")
    f = None
    try:
        d = new_dir("lock", create=False)
        r = criu("dump", "-t", t.pid, "-D", d, "--file-locks")
        if r.rc != 0:
            raise Fail("setup: dump failed; %s" % r.brief())
        t.p.wait(timeout=5)
        f = open(t.outpath, "r+")
        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        r = criu("restore", "-D", d, "-d")
        expect_error(r, r"POSIX write lock on fd 1 \(%s\)" % re.escape(t.outpath),
                     r"conflicts with a write lock of pid %d" % os.getpid())
        ensure_no_pid(t.pid)
    finally:
        if f:
            f.close()
        t.kill()


def sysv_shm_of(cpid):
    """ids of the SysV shm segments of our ipc namespace that @cpid made"""
    lines = (read_text("/proc/sysvipc/shm") or "").splitlines()[1:]
    return [int(l.split()[1]) for l in lines if int(l.split()[4]) == cpid]


def t_restore_shm_id_taken():
    """A SysV shm segment of criu's ipc namespace the task held, marked for
    removal, whose id another segment took since the dump: refused naming
    the id, and the segment the restore made under another id is removed
    (it was left behind)."""
    libc = ctypes.CDLL(None, use_errno=True)
    t = Target("shmrm")
    mine = -1
    try:
        d = new_dir("shmid", create=False)
        r = criu("dump", "-t", t.pid, "-D", d)
        if r.rc != 0:
            raise Fail("setup: dump failed; %s" % r.brief())
        t.p.wait(timeout=5)
        with open("/proc/sys/kernel/shm_next_id", "w") as f:
            f.write(str(t.extra))
        mine = libc.shmget(0, 4096, 0o1600)
        if mine != t.extra:
            raise Fail("setup: the segment made to take id %d got %d" % (t.extra, mine))
        r = criu("restore", "-D", d, "-d")
        expect_error(r, r"shm segment %d .*id %d is another's now" % (t.extra, t.extra))
        ensure_no_pid(t.pid)
        left = sysv_shm_of(t.pid)
        if left:
            raise Fail("the failed restore left SysV shm segments %s behind" % left)
    finally:
        # not consumed (-1 can't be written back): by a segment made and removed at once
        if (read_text("/proc/sys/kernel/shm_next_id") or "-1").strip() != "-1":
            libc.shmctl(libc.shmget(0, 4096, 0o1600), 0, None)
        if mine >= 0:
            libc.shmctl(mine, 0, None)      # IPC_RMID
        for i in sysv_shm_of(t.pid):
            libc.shmctl(i, 0, None)
        t.kill()


def t_restore_pidfile_full():
    """--pidfile on a full file system: the restore fails naming it, and
    nothing runs (the tree ran, exit 0 with a warning, and no pidfile told
    the caller which pid it was: written after the commit)."""
    saved = good_pid[0]
    d = make_good_dump()
    pid = good_pid[0]
    good_pid[0] = saved
    full = new_dir("pidfile-full")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "cli-full", full], capture_output=True, text=True)
    if r.returncode:
        raise Fail("setup: tmpfs: %s" % r.stderr.strip())
    mounts.append(full)
    try:
        with open(os.path.join(full, "filler"), "wb") as f:
            try:
                f.write(b"x" * 65536)
            except OSError:
                pass
        pidfile = os.path.join(full, "pid")
        r = criu("restore", "-D", d, "-d", "--pidfile", pidfile)
        if r.rc == 0:
            os.kill(pid, signal.SIGKILL)
            reap_orphans()
            raise Fail("the restore succeeded without its pidfile (%s); %s" %
                       ("there" if os.path.exists(pidfile) else "missing", r.brief()))
        expect_error(r, re.escape(pidfile), r"space")
        ensure_no_pid(pid, "the restored pid")
        left = sorted(os.listdir(full))
        if left != ["filler"]:
            raise Fail("the failed restore left %s; %s" % (left, r.brief()))
    finally:
        umount_all()


def t_restore_twice_at_once():
    """The same images restored by two criu at once: one wins the pid, the
    other fails, and the winner's process must live on (the loser's reaper
    killed it, as made after it: 2 rounds of 2)."""
    t = Target("plain")
    try:
        d = new_dir("twice", create=False)
        r = criu("dump", "-t", t.pid, "-D", d)
        if r.rc != 0:
            raise Fail("setup: dump failed; %s" % r.brief())
        t.p.wait(timeout=5)
        for rnd in range(4):
            ps = [subprocess.Popen([CRIU, "restore", "-D", d, "-d"], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(2)]
            outs = [p.communicate(timeout=CRIU_TIMEOUT)[1].decode(errors="replace") for p in ps]
            rcs = [p.returncode for p in ps]
            if sorted(rcs) != [0, 1]:
                raise Fail("round %d: two restores at once exited %s, not one 0 and one 1: %r" % (rnd, rcs, outs))
            loser = outs[rcs.index(1)]
            if not re.search(r"in use", loser) or str(t.pid) not in loser:
                raise Fail("round %d: the losing restore does not name the pid in use: %r" % (rnd, loser))
            time.sleep(0.3)
            st = proc_state(t.pid)
            if st in (None, "Z"):
                reap_orphans()
                raise Fail("round %d: the restored process %d died (state %s) after the other restore "
                           "failed; %r" % (rnd, t.pid, st, loser))
            os.kill(t.pid, signal.SIGKILL)
            time.sleep(0.05)
            reap_orphans()
            ensure_no_pid(t.pid)
    finally:
        t.kill()


def t_restore_zombie_reaped_late(reap_after):
    """Right after a dump its tasks are zombies until their parent reaps them
    (here: us, after @reap_after s, or never): a restore at once waits for
    that, and names the zombie if it stays."""
    t = Target("plain")
    timer = None
    try:
        d = new_dir("zombie-%s" % reap_after, create=False)
        r = criu("dump", "-t", t.pid, "-D", d)
        if r.rc != 0:
            raise Fail("setup: dump failed; %s" % r.brief())
        if proc_state(t.pid) != "Z":
            raise Fail("setup: the dumped task %d is not our zombie" % t.pid)
        if reap_after is not None:
            timer = threading.Timer(reap_after, t.p.wait)
            timer.start()
        r = criu("restore", "-D", d, "-d")
        if reap_after is None:
            expect_error(r, r"zombie", str(t.pid), r"not reaped")
            t.p.wait(timeout=5)
            ensure_no_pid(t.pid)
            return
        if r.rc != 0:
            raise Fail("restore while the dumped task was a zombie for %s s failed; %s" % (reap_after, r.brief()))
        if proc_state(t.pid) in (None, "Z"):
            raise Fail("restored task %d is not running" % t.pid)
        os.kill(t.pid, signal.SIGKILL)
        time.sleep(0.05)
        reap_orphans()
    finally:
        if timer:
            timer.join()
        t.kill()


# --------------------------------------------------------------------------
# misc CLI

def t_version():
    for opt in ("--version", "-V"):
        r = criu(opt)
        if r.rc != 0:
            raise Fail("%s: %s" % (opt, r.brief()))
        if not re.fullmatch(r"Version: \d+\.\d+(\.\d+)?\n", r.out):
            raise Fail("%s printed %r" % (opt, r.out))


def feature_lines(text):
    return re.findall(r"^\s+([A-Za-z0-9_-]+)\s+(yes|no)\b", text, re.M)


def t_check():
    r = criu("check")
    if r.rc != 0:
        raise Fail("criu check failed; %s" % r.brief())
    feats = feature_lines(r.out + r.err)
    if len(feats) < 3:
        raise Fail("criu check lists no features; %s" % r.brief())


def t_check_feature_known():
    r = criu("check")
    feats = [n for n, yes in feature_lines(r.out + r.err) if yes == "yes"]
    if not feats:
        raise Fail("criu check reports no supported feature; %s" % r.brief())
    r = criu("check", "--feature", feats[0])
    if r.rc != 0:
        raise Fail("check --feature %s: %s" % (feats[0], r.brief()))
    if feats[0] not in r.out + r.err:
        raise Fail("check --feature %s does not name it; %s" % (feats[0], r.brief()))


def t_check_feature_many():
    """--feature given twice (or NAME,NAME): every one is asked, exit 0 only if all are there;
    a feature not there is not hidden behind a later one that is."""
    r = criu("check")
    feats = feature_lines(r.out + r.err)
    yes = [n for n, v in feats if v == "yes"]
    no = [n for n, v in feats if v == "no"]
    if not yes:
        raise Fail("criu check reports no supported feature; %s" % r.brief())
    r = criu("check", "--feature", yes[0], "--feature", yes[-1])
    if r.rc != 0 or yes[0] not in r.out or yes[-1] not in r.out:
        raise Fail("check --feature %s --feature %s: %s" % (yes[0], yes[-1], r.brief()))
    for args in ((["--feature", "no_such_feature_xyz", "--feature", yes[0]], "no_such_feature_xyz"),
                 (["--feature", "%s,no_such_feature_xyz" % yes[0]], "no_such_feature_xyz")) + \
            (((["--feature", no[0], "--feature", yes[0]], no[0]),) if no else ()):
        r = criu("check", *args[0])
        if r.rc == 0 or args[1] not in r.out + r.err:
            raise Fail("check %s: exit 0 or %s not named; %s" % (" ".join(args[0]), args[1], r.brief()))


def t_check_feature_unknown():
    r = criu("check", "--feature", "no_such_feature_xyz")
    expect_error(r, r"unknown|not known|no such|unsupported", "no_such_feature_xyz")


def t_show_garbage():
    p = os.path.join(TMP, "garbage.img")
    rnd = random.Random(99)
    open(p, "wb").write(bytes(rnd.randrange(256) for _ in range(200)))
    r = criu("show", p)
    expect_error(r, re.escape(p), r"magic|not an image|unknown|bad|invalid")


def t_show_short():
    p = os.path.join(TMP, "short.img")
    open(p, "wb").write(b"\x01\x02\x03")
    r = criu("show", p)
    expect_error(r, re.escape(p))


def t_show_missing():
    p = os.path.join(TMP, "missing.img")
    r = criu("show", p)
    expect_error(r, re.escape(p), r"no such|not exist|ENOENT|open")


def t_show_truncated(good):
    if not good:
        raise Fail("setup: no good dump")
    d = copy_dump(good)
    p = img(d, "core-{pid}.img")
    truncate_mid_entry(p)
    r = criu("show", p)
    expect_error(r, re.escape(os.path.basename(p)), r"truncat|short|end of file|only")


def t_unknown_action():
    r = criu("frobnicate")
    expect_error(r, r"unknown|invalid|unsupported", "frobnicate")


def t_no_action():
    r = criu()
    expect_error(r, r"usage|action")


def t_bad_inherit_fd():
    """Malformed --inherit-fd / --external, and an fd criu does not have."""
    d = new_dir("inherit", create=False)
    for arg in ("fd[x]:pipe:[1]", "fd[3]", "fd[3]:", "3:pipe:[1]", "fd[-1]:pipe:[1]"):
        r = criu("restore", "-D", d, "--inherit-fd", arg)
        expect_error(r, r"bad --inherit-fd", re.escape(arg))
    r = criu("restore", "-D", d, "--inherit-fd", "fd[987]:pipe:[1]")
    expect_error(r, r"inherit-fd", r"fd 987 is not open")
    for arg in ("pipe:[x]", "pipe:[1]junk", "tty[zz:1]", "nonsense"):
        r = criu("dump", "-t", "1", "-D", d, "--external", arg)
        expect_error(r, r"bad --external", re.escape(arg))
    if os.path.exists(d):
        raise Fail("a rejected command line created %s" % d)


def t_lsm_options():
    """LSM profiles: what needs nothing on this host is taken, the rest refused by name."""
    d = new_dir("lsm", create=False)
    r = criu("restore", "-D", d, "--lsm-profile", "bogus")
    expect_error(r, r"bad LSM profile 'bogus'")
    for arg in ("apparmor:myprofile", "selinux:system_u:system_r:container_t:s0"):
        for opt in ("--lsm-profile", "--external"):
            r = criu("restore", "-D", d, opt, arg)
            expect_error(r, r"LSM profile", re.escape(arg))
    r = criu("restore", "-D", d, "--lsm-mount-context", "system_u:object_r:container_file_t:s0")
    expect_error(r, r"LSM mount context", r"not supported")
    r = criu("dump", "-t", "1", "-D", d, "--lsm-profile", "apparmor:unconfined")
    expect_error(r, r"--lsm-profile means nothing for dump")
    r = criu("restore", "-D", d, "--force-irmap")
    expect_error(r, r"--force-irmap means nothing for restore")
    # taken: the restore then stops at the missing images, not at the option
    r = criu("restore", "-D", d, "--lsm-profile", "apparmor:unconfined", "--external", "apparmor:unconfined")
    expect_error(r, re.escape(d))
    if os.path.exists(d):
        raise Fail("a rejected command line created %s" % d)


def t_duplicate_keys():
    """A key given twice: the same value twice is one (runc's /dev/null), another value is refused."""
    d = new_dir("dupkeys", create=False)
    r = criu("restore", "-D", d, "-M", "/dev/null:/dev/null", "--external", "mnt[/dev/null]:/dev/null")
    expect_error(r, re.escape(d))
    if "given twice" in r.err:
        raise Fail("the same external mount twice refused: %s" % r.brief())
    r = criu("restore", "-D", d, "-M", "/x:/a", "-M", "/x:/b")
    expect_error(r, r"external mount key /x given twice", r"/a and /b")
    if os.path.exists(d):
        raise Fail("a rejected command line created %s" % d)


def t_inherit_fd_missing():
    """A pipe to the outside: dumped with --external, restored only with --inherit-fd."""
    rfd, wfd = os.pipe()
    try:
        ino = os.fstat(rfd).st_ino
        res = "pipe:[%d]" % ino
        p = subprocess.Popen(["sleep", "1000"], stdin=rfd, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        os.close(rfd)
        rfd = -1
        try:
            d = new_dir("extpipe", create=False)
            r = criu("dump", "-t", p.pid, "-D", d)
            expect_error(r, r"pipe", r"outside|other end|tree")
            r = criu("dump", "-t", p.pid, "-D", d, "--external", res)
            if r.rc != 0:
                raise Fail("dump with --external %s failed; %s" % (res, r.brief()))
            p.wait(timeout=5)
            r = criu("restore", "-D", d, "-d")
            expect_error(r, r"--inherit-fd", re.escape(res))
            ensure_no_pid(p.pid)
            # criu's fd is the write end: the task gets the read end of that same pipe
            pidfile = os.path.join(TMP, "pidfile-extpipe")
            argv = [CRIU, "restore", "-D", d, "-d", "--pidfile", pidfile,
                    "--inherit-fd", "fd[%d]:%s" % (wfd, res)]
            q = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=CRIU_TIMEOUT, pass_fds=(wfd,))
            if q.returncode != 0:
                raise Fail("restore with --inherit-fd failed: %r" % q.stderr.decode(errors="replace")[-400:])
            try:
                link = os.readlink("/proc/%d/fd/0" % p.pid)
                flags = read_text("/proc/%d/fdinfo/0" % p.pid) or ""
                if link != res or not re.search(r"^flags:\s+0*[0-7]*0$", flags, re.M):
                    raise Fail("restored fd 0 is %s (%r), expected the read end of %s" % (link, flags, res))
            finally:
                os.kill(p.pid, signal.SIGKILL)
                time.sleep(0.05)
                reap_orphans()
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    finally:
        if rfd >= 0:
            os.close(rfd)
        os.close(wfd)


def t_bad_option():
    r = criu("--no-such-option", "check")
    expect_error(r, r"unrecognized|unknown|invalid|usage")


def t_bad_cgroup_options():
    expect_error(criu("--manage-cgroups=sometimes", "check"), r"bad --manage-cgroups mode 'sometimes'",
                 r"none, props, soft, full, strict or ignore")
    expect_error(criu("--cgroup-root", "cpu:relative/path", "check"), r"bad --cgroup-root 'cpu:relative/path'")


def t_freeze_cgroup_not_cgroup(path, *keywords):
    def body(t):
        d = new_dir("dump", create=False)
        r = criu("dump", "-t", t.pid, "-D", d, "--freeze-cgroup", path)
        expect_error(r, *keywords)
        expect_no_images(d)
    with_target("plain", body)


def t_pidns_init_dump():
    """The init of a pid namespace (it used to hang the dump) is dumped from
    inside its namespace: with -R it goes on running untouched and no longer
    traced; then dumped for real it is gone, and its namespace with it."""
    p = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", "setsid", "sleep", "1000"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         close_fds=True, start_new_session=True)
    try:
        init = None
        deadline = time.time() + 5
        while init is None and time.time() < deadline:
            kids = (read_text("/proc/%d/task/%d/children" % (p.pid, p.pid)) or "").split()
            if kids and (read_text("/proc/%s/comm" % kids[0]) or "").strip() == "sleep":
                init = int(kids[0])
            time.sleep(0.01)
        if init is None:
            raise Fail("setup: no pid namespace init appeared")
        before = proc_starttime(init)
        d = new_dir("pidns", create=False)
        r = criu("dump", "-t", init, "-D", d, "-R")
        if r.rc != 0:
            raise Fail("dump -R of a pid namespace's init failed; %s" % r.brief())
        if proc_starttime(init) != before or proc_state(init) not in ("S", "R"):
            raise Fail("the namespace's init %d did not go on (state %s)" % (init, proc_state(init)))
        st = proc_status(init)
        if st and st.get("TracerPid") != "0":
            raise Fail("the namespace's init %d is still traced" % init)
        r = criu("dump", "-t", init, "-D", d)
        if r.rc != 0:
            raise Fail("dump of a pid namespace's init failed; %s" % r.brief())
        if p.wait(timeout=10) is None or proc_starttime(init) == before:
            raise Fail("the namespace's init %d is still there after the dump" % init)
    finally:
        p.kill()
        p.wait()


def t_option_misuse():
    """Conflicting options, options that mean nothing for the action (or
    are not implemented), stray arguments and bad values are errors, and
    nothing is created for them."""
    d = new_dir("misuse", create=False)
    cases = [
        (("dump", "-t", "1", "-D", d, "-R", "-s"), (r"leave-running", r"leave-stopped")),
        (("pre-dump", "-t", "1", "-D", d, "-s"), (r"leave-stopped", r"nothing for pre-dump")),
        (("pre-dump", "-t", "1", "-D", d, "--status-fd", "1"), (r"--status-fd", r"pre-dump")),
        (("dump", "-t", "1", "-D", d, "stray"), (r"unexpected argument", r"stray")),
        (("restore", "-D", d, "stray"), (r"unexpected argument", r"stray")),
        (("check", "stray"), (r"unexpected argument", r"stray")),
        (("show", "a", "b"), (r"unexpected argument", r"'b'")),
        (("restore", "-D", d, "-R"), (r"leave-running", r"nothing for restore")),
        (("restore", "-D", d, "-t", "1"), (r"--tree", r"nothing for restore")),
        (("dump", "-t", "1", "-D", d, "-d"), (r"restore-detached", r"nothing for dump")),
        (("dump", "-t", "1", "-D", d, "--pidfile", "x"), (r"--pidfile", r"nothing for dump")),
        (("dump", "-t", "1", "-D", d, "--inherit-fd", "fd[0]:x"), (r"--inherit-fd", r"nothing for dump")),
        (("restore", "-D", d, "--ghost-limit", "1M"), (r"--ghost-limit", r"nothing for restore")),
        (("check", "-t", "1"), (r"--tree", r"nothing for check")),
        (("check", "--empty-ns", "net"), (r"--empty-ns", r"nothing for check")),
        (("dump", "-t", "1", "-D", d, "--feature", "x"), (r"--feature", r"nothing for dump")),
        (("dump", "-t", "1", "-D", d, "--skip-in-flight", "x"), (r"unexpected argument", r"'x'")),
        (("restore", "-D", d, "--skip-in-flight"), (r"--skip-in-flight", r"nothing for restore")),
        (("dump", "-t", "1", "-D", d, "-vx"), (r"verbosity", r"'x'")),
        (("dump", "-t", "1", "-D", d, "--external", "veth[eth0]:v0"), (r"veth/macvlan", r"nothing for dump")),
        (("dump", "-t", "1", "-D", d, "--veth-pair", "eth0=v0"), (r"--veth-pair", r"nothing for dump")),
        (("dump", "-t", "1", "-D", d, "--join-ns", "net:/proc/1/ns/net"), (r"--join-ns", r"nothing for dump")),
        (("restore", "-D", d, "--external", "pipe:[1]"), (r"--external RES", r"nothing for restore")),
        (("restore", "-D", d, "--external", "veth[eth0]"), (r"veth\[eth0\]",)),
        (("restore", "-D", d, "--veth-pair", "eth0"), (r"bad --veth-pair", r"IN=OUT")),
        # what a page server takes as the previous images (page-server.c, ps_parent_ok())
        (("dump", "-t", "1", "-D", d, "--page-server", "--address", "127.0.0.1", "--prev-images-dir", "/srv/pre"),
         (r"--prev-images-dir /srv/pre", r"in it or next to it")),
        (("pre-dump", "-t", "1", "-D", d, "--page-server", "--address", "127.0.0.1", "--prev-images-dir",
          "../../pre"), (r"--prev-images-dir \.\./\.\./pre", r"in it or next to it")),
        # the options of a mature tool's clients: taken where they mean something, refused by name otherwise
        (("dump", "-t", "1", "-D", d, "--timeout", "0"), (r"bad --timeout '0'",)),
        (("dump", "-t", "1", "-D", d, "--timeout", "5s"), (r"bad --timeout '5s'",)),
        (("restore", "-D", d, "--timeout", "5"), (r"--timeout", r"nothing for restore")),
        (("pre-dump", "-t", "1", "-D", d, "--pre-dump-mode", "copy"), (r"bad --pre-dump-mode 'copy'", r"read or splice")),
        (("restore", "-D", d, "--pre-dump-mode", "read"), (r"--pre-dump-mode", r"nothing for restore")),
        (("dump", "-t", "1", "-D", d, "--weak-sysctls"), (r"--weak-sysctls", r"nothing for dump")),
        (("restore", "-D", d, "--cpu-cap"), (r"--cpu-cap all", r"'cpu' is not supported yet")),
        (("restore", "-D", d, "--cpu-cap=fpu,ins"), (r"'ins' is not supported yet", r"CPUID")),
        (("restore", "-D", d, "--cpu-cap=fast"), (r"bad --cpu-cap 'fast'",)),
        (("restore", "-D", d, "--exec-cmd"), (r"--exec-cmd needs the command",)),
        (("dump", "-t", "1", "-D", d, "--exec-cmd", "--", "true"), (r"--exec-cmd", r"nothing for dump")),
        (("dump", "-t", "1", "-D", d, "--irmap-scan-path", "tmp"), (r"bad --irmap-scan-path 'tmp'",)),
        (("restore", "-D", d, "--irmap-scan-path", "/tmp"), (r"--irmap-scan-path", r"nothing for restore")),
        (("dump", "-t", "1", "-D", d, "--mntns-compat-mode"), (r"--mntns-compat-mode", r"nothing for dump")),
        (("dump", "-t", "1", "-D", d, "--skip-mnt", "/proc"), (r"--skip-mnt /proc is not supported yet",)),
        (("dump", "-t", "1", "-D", d, "--cgroup-props", "x"), (r"--cgroup-props is not supported yet",)),
        (("dump", "-t", "1", "-D", d, "--cgroup-props-file", "x"), (r"--cgroup-props-file is not supported yet",)),
        (("dump", "-t", "1", "-D", d, "--page-server", "--port", "0"), (r"--port 0", r"only for page-server")),
        (("lazy-pages", "-D", d, "--page-server", "--port", "0"), (r"--port 0", r"only for page-server")),
    ]
    for args, keys in cases:
        r = criu(*args)
        expect_error(r, *keys)
    if os.path.exists(d):
        raise Fail("a rejected command line created %s" % d)


# --------------------------------------------------------------------------

# --------------------------------------------------------------------------
# the options of a mature tool's clients

def vfork_target(secs):
    """A task that can't be stopped for @secs seconds (it waits in a vfork for its sleeping child)."""
    p = subprocess.Popen([HELPER, "vfork", str(secs)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, close_fds=True, start_new_session=True, cwd=TMP)
    deadline = time.time() + 5
    while proc_state(p.pid) != "D":
        if time.time() > deadline:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            raise Fail("setup: the vfork helper did not get into its vfork")
        time.sleep(0.01)
    return p


def t_timeout():
    """--timeout N: the tree must stop within N s. 1 s for a task that can't stop for 30: refused in
    about 1 s naming it, no images, the task as it was; 10 s for one that stops after 4 s: dumped
    (the default, 3 s a task, refuses that one)."""
    p = vfork_target(30)
    try:
        d = new_dir("timeout", create=False)
        t0 = time.time()
        r = criu("dump", "-t", p.pid, "-D", d, "--timeout", "1")
        took = time.time() - t0
        expect_error(r, r"did not stop within --timeout 1 s", r"vfork")
        expect_no_images(d)
        if took > 2.9:
            raise Fail("the dump took %.1f s to give up" % took)
        st = proc_status(p.pid)
        if proc_state(p.pid) != "D" or st.get("TracerPid") != "0":
            raise Fail("the task was harmed: state %s, tracer %s" % (proc_state(p.pid), st.get("TracerPid")))
    finally:
        os.killpg(p.pid, signal.SIGKILL)     # its vfork child too
        p.wait()
    p = vfork_target(4)
    try:
        d = new_dir("timeout", create=False)
        r = criu("dump", "-t", p.pid, "-D", d, "-R", "--timeout", "10")
        if r.rc != 0:
            raise Fail("dump --timeout 10 of a task that stops after 4 s failed; %s" % r.brief())
        if proc_state(p.pid) not in ("S", "R") or proc_status(p.pid).get("TracerPid") != "0":
            raise Fail("the task was not left running")
    finally:
        os.killpg(p.pid, signal.SIGKILL)     # its vfork child too
        p.wait()


def t_exec_cmd():
    """restore --exec-cmd -- CMD: once the tree runs criu becomes CMD, whose child the restored task
    is, and whose exit status criu's is."""
    good = make_good_dump()
    pid = good_pid[0]
    out = os.path.join(TMP, "exec-cmd-children")
    try:
        r = criu("restore", "-D", good, "-o", "restore.log", "--exec-cmd", "--", "sh", "-c",
                 "cat /proc/$$/task/$$/children > %s; exit 7" % out)
        if r.rc != 7:
            raise Fail("criu restore --exec-cmd exited %d, not as the command (7); %s" % (r.rc, r.brief()))
        kids = (read_text(out) or "").split()
        if str(pid) not in kids:
            raise Fail("the restored task %d is not the command's child (children: %r)" % (pid, kids))
        if proc_state(pid) in (None, "Z"):
            raise Fail("the restored task %d does not run" % pid)
    finally:
        if proc_state(pid) not in (None, "Z"):
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
        reap_orphans()


def t_page_server_any_port():
    """page-server --port 0: it listens on a port the kernel picks, said in its log; a dump sends it
    its pages there."""
    srv = new_dir("ps-any")
    r = criu("page-server", "-D", srv, "--port", "0", "-d", "-o", "ps.log", "--pidfile", "ps.pid")
    if r.rc != 0:
        raise Fail("page-server --port 0 -d failed; %s" % r.brief())
    pspid = int((read_text(os.path.join(srv, "ps.pid")) or "0").strip() or 0)
    try:
        m = re.search(r"listening on port (\d+)", read_text(os.path.join(srv, "ps.log")) or "")
        if not m or int(m.group(1)) in (0, 27027):
            raise Fail("the log does not say the port bound: %r" % (m and m.group(0)))
        def body(t):
            d = new_dir("dump-any", create=False)
            r = criu("dump", "-t", t.pid, "-D", d, "-R", "--page-server", "--address", "127.0.0.1",
                     "--port", m.group(1))
            if r.rc != 0:
                raise Fail("dump to the page server's port %s failed; %s" % (m.group(1), r.brief()))
            if not any(f.startswith("pages-") for f in os.listdir(srv)):
                raise Fail("the page server wrote no pages")
        with_target("plain", body)
    finally:
        if pspid > 0 and proc_state(pspid) not in (None, "Z"):
            os.kill(pspid, signal.SIGKILL)
        time.sleep(0.02)
        reap_orphans()


def t_pre_dump_mode():
    """--pre-dump-mode splice copies the pages with the tree frozen (the log says so), read once it runs."""
    def body(t):
        for mode, frozen in (("splice", True), ("read", False)):
            d = new_dir("pre-" + mode, create=False)
            r = criu("pre-dump", "-t", t.pid, "-D", d, "-v4", "-o", "pre.log", "--pre-dump-mode", mode)
            if r.rc != 0:
                raise Fail("pre-dump --pre-dump-mode %s failed; %s" % (mode, r.brief()))
            said = "copied with the tree frozen" in (read_text(os.path.join(d, "pre.log")) or "")
            if said != frozen:
                raise Fail("--pre-dump-mode %s: the log %s a frozen copy" % (mode, "says" if said else "has no"))
    with_target("plain", body)


def t_weak_sysctls():
    """restore --weak-sysctls: a sysctl of the images this kernel lacks is a warning. A task in a
    network namespace of its own, its images' sysctl renamed to one that does not exist: refused
    without the option, restored with it."""
    p = subprocess.Popen(["unshare", "-n", HELPER, "vfork", "0"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True,
                         start_new_session=True, cwd=TMP)
    pid = p.pid
    try:
        deadline = time.time() + 5
        while proc_state(pid) != "S" or os.readlink("/proc/%d/ns/net" % pid) == os.readlink("/proc/self/ns/net"):
            if time.time() > deadline:
                raise Fail("setup: the task did not start in a network namespace of its own")
            time.sleep(0.01)
        d = new_dir("weak", create=False)
        r = criu("dump", "-t", pid, "-D", d)
        if r.rc != 0:
            raise Fail("setup: dump failed; %s" % r.brief())
        p.wait()
        path = os.path.join(d, "netns.img")
        b = open(path, "rb").read()
        name = b"ipv4/conf/lo/forwarding"
        if b.count(name) != 1:
            raise Fail("setup: netns.img has no %r" % name)
        with open(path, "wb") as f:
            f.write(b.replace(name, b"ipv4/conf/lo/forwardinX"))
        reseal(path)
        r = criu("restore", "-D", d, "-d")
        expect_error(r, r"can't set sysctl net\.ipv4\.conf\.lo\.forwardinX")
        if proc_state(pid) not in (None, "Z"):
            raise Fail("the failed restore left task %d" % pid)
        r = criu("restore", "-D", d, "-d", "--weak-sysctls")
        if r.rc != 0:
            raise Fail("restore --weak-sysctls failed; %s" % r.brief())
        if not re.search(r"--weak-sysctls: sysctl net\.ipv4\.conf\.lo\.forwardinX is not set", r.err):
            raise Fail("no warning naming the sysctl; %s" % r.brief())
        if proc_state(pid) in (None, "Z"):
            raise Fail("the restored task %d does not run" % pid)
    finally:
        if proc_state(pid) not in (None, "Z"):
            os.kill(pid, signal.SIGKILL)
        p.poll()
        time.sleep(0.02)
        reap_orphans()


# --------------------------------------------------------------------------
# pre-dump and chains of images

def t_pre_dump_no_pid():
    d = new_dir("pre", create=False)
    r = criu("pre-dump", "-D", d)
    expect_error(r, r"pre-dump needs -t")


def t_prev_dir_missing(action):
    """--prev-images-dir naming nothing: refused by name, the task untouched, no images."""
    def body(t):
        d = new_dir(action, create=False)
        r = criu(action, "-t", t.pid, "-D", d, "--prev-images-dir", "../nope", "--track-mem")
        expect_error(r, r"--prev-images-dir \.\./nope")
        expect_no_images(d)
    with_target("plain", body)


def t_restore_pre_dump():
    """A pre-dump's images are a parent, not a dump: restore says so."""
    def body(t):
        d = new_dir("pre", create=False)
        r = criu("pre-dump", "-t", t.pid, "-D", d, "--track-mem")
        if r.rc != 0:
            raise Fail("pre-dump failed: %s" % r.brief())
        r = criu("restore", "-D", d)
        expect_error(r, r"pre-dump", r"can't be restored")
    with_target("plain", body)


def t_snapshot_misuse():
    """--snapshot only with dump -R, and not going on tracking or with lazy pages: refused, task untouched."""
    def body(t):
        for args, rx in ((["dump"], r"--snapshot needs -R"),
                         (["dump", "-s"], r"--snapshot needs -R"),
                         (["pre-dump", "-R"], r"--snapshot means nothing for pre-dump"),
                         (["dump", "-R", "--track-mem"], r"--snapshot can't be used with --track-mem"),
                         (["dump", "-R", "--track-mem", "--prev-images-dir", "../x"],
                          r"--snapshot can't be used with --track-mem"),
                         (["dump", "-R", "--lazy-pages"], r"--snapshot can't be used with --lazy-pages")):
            d = new_dir("snap", create=False)
            r = criu(args[0], "-t", t.pid, "-D", d, "--snapshot", *args[1:])
            expect_error(r, rx)
            expect_no_images(d)
    with_target("plain", body)


def t_restore_dedup_lazy():
    """restore --auto-dedup frees the pages images: not with --lazy-pages, whose daemon reads them after."""
    d = new_dir("rdl")
    r = criu("restore", "-D", d, "--auto-dedup", "--lazy-pages")
    expect_error(r, r"restore --auto-dedup can't be used with --lazy-pages")


def build_helper():
    src = os.path.join(HERE, "helpers.c")
    out = os.path.join(TMP, "helpers")
    r = subprocess.run(["gcc", "-O1", "-Wall", "-pthread", "-o", out, src], capture_output=True, text=True)
    if r.returncode:
        raise SystemExit("cannot build helpers.c:\n" + r.stderr)
    return out


def main():
    global TMP, HELPER
    if os.geteuid() != 0:
        print("cli_errors.py must run as root", file=sys.stderr)
        return 2
    if not os.access(CRIU, os.X_OK):
        print("no criu binary at %s" % CRIU, file=sys.stderr)
        return 2
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

    TMP = tempfile.mkdtemp(prefix="criu-cli-")
    os.chmod(TMP, 0o755)    # uid 65534 has to reach its dirs
    start = time.time()
    try:
        HELPER = build_helper()

        # dump: arguments
        check("dump_no_pid", t_dump_no_pid)
        check("dump_pid_not_numeric", t_dump_bad_pid, "abc")
        check("dump_pid_negative", t_dump_bad_pid, "-5")
        check("dump_pid_zero", t_dump_bad_pid, "0")
        check("dump_pid_trailing_junk", t_dump_bad_pid, "12x")
        check("dump_no_such_pid", t_dump_no_such_pid)
        check("dump_self", t_dump_self)

        # dump: targets criu refuses
        check("dump_thread_id", refused_dump("threads", [r"thread", r"{extra}"], lambda t: t.extra))
        check("dump_multithreaded_leave_running", t_dump_threads_leave_running)
        check("dump_tree_leave_running", t_dump_tree_leave_running)
        check("dump_userfaultfd", refused_dump("userfaultfd", [r"userfaultfd", r"\bfd {extra}\b"]))
        check("dump_socket", refused_dump("socket", [r"socket", r"\bfd {extra}\b"]))
        check("dump_child_killed", t_dump_child_killed)

        # dump: where the images can't go
        check("dump_dir_is_file", t_dump_dir_is_file)
        check("dump_readonly_dir", t_dump_ro_dir, False)
        check("dump_readonly_subdir", t_dump_ro_dir, True)

        # non-root
        check("nonroot_dump", t_nonroot_dump)

        # restore
        good = None
        try:
            good = make_good_dump()
        except Fail as e:
            report("setup_good_dump", str(e))
        check("nonroot_restore", t_nonroot_restore, good)
        check("restore_nonexistent_dir", t_restore_nonexistent_dir)
        check("restore_empty_dir", restore_fails, good, m_empty, r"inventory|empty|no images")
        check("restore_no_inventory", restore_fails, good, m_remove("inventory.img"), r"inventory")
        check("restore_future_version", restore_fails, good, m_version, r"version")
        check("restore_truncated_core", restore_fails, good, m_truncate("core-{pid}.img"),
              re.escape("core-%s.img" % good_pid[0]))
        check("restore_truncated_mm", restore_fails, good, m_truncate("mm-{pid}.img"),
              re.escape("mm-%s.img" % good_pid[0]))
        check("restore_truncated_pagemap", restore_fails, good, m_truncate("pagemap-{pid}.img"),
              re.escape("pagemap-%s.img" % good_pid[0]))
        check("restore_short_pages", restore_fails, good, m_pages_short, r"pages")
        check("restore_in_parent_root", restore_fails, good, m_in_parent_root, r"marked as the parent's")
        check("restore_no_core", restore_fails, good, m_remove("core-{pid}.img"),
              re.escape("core-%s.img" % good_pid[0]))
        check("restore_garbage_inventory", restore_fails, good, m_garbage, r"inventory")
        check("restore_bad_magic_inventory", restore_fails, good, m_magic("inventory.img", 0),
              r"magic", r"inventory")
        check("restore_bad_magic_core", restore_fails, good, m_magic("core-{pid}.img", 1),
              r"magic", re.escape("core-%s.img" % good_pid[0]))
        check("untrusted_images", t_untrusted_images, good)
        check("restore_intact_control", t_restore_good, good)
        check("restore_pid_in_use", t_restore_pid_in_use)
        check("restore_pidfile_full", t_restore_pidfile_full)
        check("restore_pid_cursor_near", t_restore_pid_cursor_near)
        check("restore_twice_at_once", t_restore_twice_at_once)
        check("restore_shm_id_taken", t_restore_shm_id_taken)
        check("restore_lock_taken", t_restore_lock_taken)
        check("restore_mapped_file_shrank", t_restore_mapped_file_shrank)
        check("restore_unix_path_bound", t_restore_unix_path_bound)
        check("restore_mqueue_made_again", t_restore_mqueue_made_again)
        check("restore_above_pid_max", t_restore_above_pid_max)
        check("restore_lower_hard_rlimit", t_restore_lower_hard_rlimit)
        check("restore_zombie_reaped_late", t_restore_zombie_reaped_late, 0.7)
        check("restore_zombie_never_reaped", t_restore_zombie_reaped_late, None)
        check("restore_changed_file", t_restore_changed_file, grow_file, "changed",
              r"changed since the dump")
        check("restore_changed_file_mtime", t_restore_changed_file, touch_file, "touched",
              r"modified since the dump \(mtime \d+\.\d{9}; it was \d+\.\d{9}\)")
        check("restore_file_now_fifo", t_restore_file_now_fifo)
        check("restore_mtime_whole_seconds", t_restore_mtime_whole_seconds)
        check("restore_file_copied", t_restore_file_copied)
        check("restore_wait_exit_status", t_restore_wait, signal.SIGTERM, 0)
        check("restore_wait_killed", t_restore_wait, signal.SIGKILL, 128 + signal.SIGKILL)

        # misc
        check("version", t_version)
        check("check", t_check)
        check("check_feature_known", t_check_feature_known)
        check("check_feature_unknown", t_check_feature_unknown)
        check("check_feature_many", t_check_feature_many)
        check("show_garbage", t_show_garbage)
        check("show_short_file", t_show_short)
        check("show_missing_file", t_show_missing)
        check("show_truncated_core", t_show_truncated, good)
        check("unknown_action", t_unknown_action)
        check("no_action", t_no_action)
        check("bad_option", t_bad_option)
        check("bad_cgroup_options", t_bad_cgroup_options)
        check("freeze_cgroup_not_a_cgroup", t_freeze_cgroup_not_cgroup, TMP, r"neither a v1 freezer cgroup",
              re.escape(TMP))
        check("freeze_cgroup_missing", t_freeze_cgroup_not_cgroup, os.path.join(TMP, "nope"),
              r"can't open --freeze-cgroup")
        check("option_misuse", t_option_misuse)
        check("pidns_init_dump", t_pidns_init_dump)
        check("pre_dump_no_pid", t_pre_dump_no_pid)
        check("pre_dump_prev_missing", t_prev_dir_missing, "pre-dump")
        check("dump_prev_missing", t_prev_dir_missing, "dump")
        check("restore_pre_dump", t_restore_pre_dump)
        check("snapshot_misuse", t_snapshot_misuse)
        check("restore_dedup_lazy", t_restore_dedup_lazy)
        check("bad_inherit_fd", t_bad_inherit_fd)
        check("lsm_options", t_lsm_options)
        check("duplicate_keys", t_duplicate_keys)
        check("inherit_fd_missing", t_inherit_fd_missing)
        check("timeout", t_timeout)
        check("exec_cmd", t_exec_cmd)
        check("page_server_any_port", t_page_server_any_port)
        check("pre_dump_mode", t_pre_dump_mode)
        check("weak_sysctls", t_weak_sysctls)

        # nothing may be left: processes, mounts
        def t_leftovers():
            time.sleep(0.05)
            reap_orphans()
            kids = [k for k in our_children() if proc_state(k) != "Z"]
            mine = [t.pid for t in live_targets]
            stray = [k for k in kids if k not in mine]
            for k in stray:
                try:
                    os.kill(k, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if stray:
                raise Fail("processes left behind: %s" % stray)
            left = [l for l in (read_text("/proc/self/mountinfo") or "").splitlines() if TMP in l]
            if left:
                raise Fail("mounts left behind: %s" % left)
        check("nothing_left_behind", t_leftovers)
    finally:
        cleanup()

    passed = sum(1 for _, w in results if w is None)
    failed = len(results) - passed
    elapsed = time.time() - start
    if elapsed > 60:
        print("note: took %.1fs" % elapsed, file=sys.stderr)
    print("cli: %d passed, %d failed" % (passed, failed), flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
