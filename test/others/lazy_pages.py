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

Remote lazy pages (dump --lazy-pages serving criu lazy-pages --page-server);
memhog runs as the init of a pid namespace of its own, so the restore on
this same host (in a new one) does not meet the frozen original's pid:
  remote_loopback  256 MiB over 127.0.0.1: the dump serves, the restore
                  returns, the daemon takes every page (most from the dump),
                  the dump kills its tree, every byte verifies.
  remote_veth     the same between two network namespaces joined by a veth
                  pair (the dump in A, the daemon and the restore in B).
  remote_source_killed  the dumping criu is SIGKILLed while the daemon still
                  fetches 512 MiB: the daemon says the dumping host went away
                  and exits 1, its watchdog kills the restored memhog.
  remote_dest_killed  the daemon is SIGKILLed while it fetches: its watchdog
                  kills the restored memhog, the dump says the destination
                  went away, fails, and the original memhog runs on with
                  every byte as it was.
  remote_no_hello a FINISH, then a GET, sent to dump --lazy-pages before any
                  hello (by anyone who reaches the port): each fails the
                  dump, memhog resumes and verifies.
  remote_chain    a pre-dump (--track-mem) copied to the destination ahead,
                  then dump --lazy-pages --prev-images-dir while memhog
                  writes 64 MiB/s: the pages written since come from the
                  dump, the rest from the copied parent images; every byte
                  verifies.
  remote_late_signals  600 real-time signals sent to the frozen original
                  once its images are whole (the destination may already
                  run the copy): the dump still ends as asked, the original
                  killed (they went into no image: the destination has its
                  images already), and no second copy runs on.
  remote_refused  dump --lazy-pages with --leave-running is refused by name;
                  the images of a lazy dump restored without --lazy-pages, or
                  with a daemon not given --page-server, fail saying why.

Lazy pages from the images of a plain dump (criu page-server --lazy-pages
serving criu lazy-pages --page-server into an empty dir: the images come
over the connection, less the lazy pages, which come as the tree needs them):
  images_loopback 256 MiB (two pages files) dumped plainly, served over
                  127.0.0.1; the destination dir starts empty; most pages come
                  from the server; every byte verifies.
  images_chain    a pre-dump (--track-mem), then a --compress dump of its
                  chain while memhog writes: served from the chain and the
                  compressed frames; every byte verifies.
  images_server_killed  the page server SIGKILLed while 512 MiB still come:
                  the daemon says the server went away, its watchdog kills
                  the restored memhog.
  images_damaged  a byte flipped in a lazy page of the pages file: the server
                  refuses it naming file and offset, the daemon fails saying
                  the server can't give it, the restored memhog is killed.
  images_refused  a wrong port, a missing or damaged images dir, the images
                  of a dump --lazy-pages: each fails saying why.

Run as root: python3 test/others/lazy_pages.py. Output: PASS/FAIL lines and
"lazy_pages: N passed, M failed".
"""
import os
import shutil
import signal
import socket
import struct
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
hogs = []      # memhogs in pid namespaces of their own (setsid: not in any Popen's group)


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


# ---- remote ----

TAG = "clz%d" % (os.getpid() % 100000)
NS_A, NS_B = TAG + "a", TAG + "b"
IP_A, IP_B = "10.198.%d.1" % (os.getpid() % 200), "10.198.%d.2" % (os.getpid() % 200)
PORT = 28200 + os.getpid() % 1000


def sh(*cmd):
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if p.returncode:
        raise Fail("%s: rc %d %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))


def setup_net():
    sh("ip", "netns", "add", NS_A)
    sh("ip", "netns", "add", NS_B)
    sh("ip", "link", "add", TAG + "va", "netns", NS_A, "type", "veth", "peer", "name", TAG + "vb", "netns", NS_B)
    for ns, dev, ip in ((NS_A, TAG + "va", IP_A), (NS_B, TAG + "vb", IP_B)):
        sh("ip", "-n", ns, "addr", "add", ip + "/24", "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")


def cleanup_net():
    for ns in (NS_A, NS_B):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def in_ns(ns):
    return ["nsenter", "--net=/run/netns/%s" % ns] if ns else []


def start_memhog_pidns(d, mib, ns=None, write_mibps=0, own_out=False):
    """memhog as the init of a new pid namespace; its pid here. @own_out: unshare's complaint when memhog is
    killed (a plain dump) goes elsewhere, so that memhog.out is as dumped for the restore."""
    out = open(os.path.join(d, "memhog.out"), "w")
    env = dict(os.environ, MEMHOG_WRITE_MIBPS=str(write_mibps)) if write_mibps else None
    hog = ["sh", "-c", 'exec "$0" "$@" >"$MEMHOG_OUT" 2>&1'] if own_out else []
    if own_out:
        env = dict(env or os.environ, MEMHOG_OUT=os.path.join(d, "memhog.out"))
        out = open(os.path.join(d, "unshare.out"), "w")
    p = subprocess.Popen(in_ns(ns) + ["unshare", "-p", "-f", "setsid"] + hog + [MEMHOG, "random", str(mib),
                                      os.path.join(d, "memhog.pid")], stdin=subprocess.DEVNULL, stdout=out,
                         stderr=subprocess.STDOUT, start_new_session=True, close_fds=True, cwd="/", env=env)
    procs.append(p)
    deadline = time.monotonic() + 60
    while not os.path.exists(os.path.join(d, "memhog.pid")):
        if p.poll() is not None or time.monotonic() > deadline:
            raise Fail("memhog did not start")
        time.sleep(0.02)
    # the unshare (maybe below nsenter) has one child: memhog
    for _ in range(100):
        kids = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split()
        if kids and "unshare" in read("/proc/%s/comm" % kids[0]):
            kids = subprocess.run(["pgrep", "-P", kids[0]], capture_output=True, text=True).stdout.split()
        if kids and "memhog" in read("/proc/%s/comm" % kids[0]):
            hogs.append(int(kids[0]))
            return int(kids[0])
        time.sleep(0.02)
    raise Fail("can't find memhog below unshare %d" % p.pid)


def status_wait(r, what, p, log):
    with os.fdopen(r, "rb") as rf:
        if not rf.read(1):
            p.wait(timeout=60)
            raise Fail("%s did not get ready (rc %s): %s" % (what, p.returncode, read(log)[-400:]))


def lazy_dump(ns, pid, img, extra=()):
    """criu dump --lazy-pages in @ns, returned once the images are whole (its --status-fd)."""
    os.makedirs(img, exist_ok=True)
    r, w = os.pipe()
    p = subprocess.Popen(in_ns(ns) + [CRIU, "dump", "-t", str(pid), "-D", img, "--lazy-pages", "--port", str(PORT),
                                      "--status-fd", str(w), "-v4", "-o", "dump.log"] + list(extra),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         pass_fds=(w,), start_new_session=True)
    procs.append(p)
    os.close(w)
    status_wait(r, "dump --lazy-pages", p, os.path.join(img, "dump.log"))
    return p


def copy_images(src, dst):
    """The images of src into dst: with a chain's parent link and the dump's live rounds (.live-N)."""
    os.makedirs(dst, exist_ok=True)
    for f in os.listdir(src):
        if os.path.islink(os.path.join(src, f)):
            os.symlink(os.readlink(os.path.join(src, f)), os.path.join(dst, f))
        elif f.startswith(".live-") and os.path.isdir(os.path.join(src, f)):
            copy_images(os.path.join(src, f), os.path.join(dst, f))
        elif f.endswith(".img"):
            shutil.copy(os.path.join(src, f), os.path.join(dst, f))


def remote_daemon(ns, img, addr):
    r, w = os.pipe()
    p = subprocess.Popen(in_ns(ns) + [CRIU, "lazy-pages", "-D", img, "--page-server", "--address", addr, "--port",
                                      str(PORT), "-o", "lazy-pages.log", "-v4", "--status-fd", str(w)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         pass_fds=(w,), start_new_session=True)
    procs.append(p)
    os.close(w)
    status_wait(r, "criu lazy-pages --page-server", p, os.path.join(img, "lazy-pages.log"))
    return p


def remote_restore(ns, img):
    pidfile = os.path.join(img, "restored.pid")
    p = subprocess.run(in_ns(ns) + [CRIU, "restore", "-D", img, "-d", "--lazy-pages", "--pidfile", pidfile,
                                    "-o", "restore.log", "-v4"], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=120)
    if p.returncode:
        raise Fail("restore --lazy-pages failed: %s" % p.stderr.strip()[-300:])
    return int(open(pidfile).read())


def memhog_verdict(pid, d):
    os.kill(pid, signal.SIGTERM)
    out = os.path.join(d, "memhog.out")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = read(out)
        if "memhog: OK" in text:
            return
        if "memhog: BAD" in text:
            raise Fail("memory differs: %s" % text.strip().splitlines()[-1])
        time.sleep(0.05)
    try:
        st = {k: v.strip() for k, v in (l.split(":", 1) for l in read("/proc/%d/status" % pid).splitlines())}
        if not st:
            raise ValueError("gone")
        fate = "state %s, blocked %s, pending %s/%s, caught %s, wchan %s, tracer %s" % (
            st.get("State"), st.get("SigBlk"), st.get("SigPnd"), st.get("ShdPnd"), st.get("SigCgt"),
            read("/proc/%d/wchan" % pid), st.get("TracerPid"))
    except (OSError, ValueError):
        fate = "gone"
    raise Fail("memhog %d gave no verdict (%s): %s" % (pid, fate, read(out)[-300:]))


def remote(d, ns_a, ns_b, addr, mib):
    pid = start_memhog_pidns(d, mib, ns_a)
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    dp = lazy_dump(ns_a, pid, a)
    if any(os.path.getsize(os.path.join(a, f)) > (1 << 20) for f in os.listdir(a) if f.startswith("pages-")):
        raise Fail("the lazy dump wrote the memory into its pages file")
    copy_images(a, b)
    lp = remote_daemon(ns_b, b, addr)
    rpid = remote_restore(ns_b, b)
    hogs.append(rpid)
    if lp.wait(timeout=120):
        raise Fail("the daemon failed: %s" % read(os.path.join(b, "lazy-pages.log"))[-400:])
    out, _ = dp.communicate(timeout=60)
    if dp.returncode:
        raise Fail("the dump failed after serving: %s" % out[-300:])
    log = read(os.path.join(b, "lazy-pages.log"))
    m = [l for l in log.splitlines() if "came from the dumping host" in l]
    if not m or int(m[0].split("lazy pages: ")[1].split()[0]) < (mib << 8) // 2:
        raise Fail("the pages did not come from the dump: %s" % (m or log[-300:]))
    if not gone_within(pid, 10):
        raise Fail("the dumped memhog %d is still there" % pid)
    memhog_verdict(rpid, d)


def t_remote_loopback(d):
    remote(d, None, None, "127.0.0.1", 256)


def t_remote_veth(d):
    remote(d, NS_A, NS_B, IP_A, 256)


def remote_half(d, mib):
    """A lazy restore under way: (dump, daemon, original pid, restored pid, dest img). unshare's complaint
    when the dump kills the original goes elsewhere: in memhog.out it could land on the copy's verdict."""
    pid = start_memhog_pidns(d, mib, own_out=True)
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    dp = lazy_dump(None, pid, a)
    copy_images(a, b)
    lp = remote_daemon(None, b, "127.0.0.1")
    rpid = remote_restore(None, b)
    hogs.append(rpid)
    return dp, lp, pid, rpid, b


def t_remote_source_killed(d):
    dp, lp, pid, rpid, b = remote_half(d, 512)
    os.killpg(dp.pid, signal.SIGKILL)
    dp.wait()
    if lp.wait(timeout=60) == 0:
        raise Fail("the daemon had every page before the dump was killed: nothing tested")
    log = read(os.path.join(b, "lazy-pages.log"))
    if "the dumping host (127.0.0.1) went away with pages still to come" not in log:
        raise Fail("the daemon does not say the dumping host went away: %s" % log[-400:])
    if not gone_within(rpid, 10):
        raise Fail("the restored memhog %d is alive without its pages" % rpid)
    # the original: its criu died, ptrace let it go; it runs on (not what is tested here)
    os.kill(pid, signal.SIGKILL)


def t_remote_dest_killed(d):
    dp, lp, pid, rpid, b = remote_half(d, 512)
    os.kill(lp.pid, signal.SIGKILL)     # the daemon only: its watchdog acts
    lp.wait()
    out, _ = dp.communicate(timeout=60)
    if "every page is in" in read(os.path.join(b, "lazy-pages.log")):
        raise Fail("the daemon had every page before it was killed: nothing tested")
    if dp.returncode == 0:
        raise Fail("the dump succeeded although the destination went away")
    log = read(os.path.join(d, "a", "dump.log"))
    if "the destination went away before it had every page" not in log or "left running" not in out:
        raise Fail("the dump does not say why it failed: %s" % (out[-400:] + log[-600:]))
    if not gone_within(rpid, 10):
        raise Fail("the restored memhog %d is alive after its daemon died" % rpid)
    if not alive(pid):
        raise Fail("the original memhog %d is gone" % pid)
    memhog_verdict(pid, d)


def t_remote_chain(d):
    """A pre-dump (--track-mem) copied ahead, then dump --lazy-pages --prev-images-dir: the pages unchanged
    since come from the copied parent images, those written since from the dumping host."""
    pid = start_memhog_pidns(d, 256, write_mibps=64)
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    os.makedirs(os.path.join(a, "pre"))
    p = subprocess.run([CRIU, "pre-dump", "-t", str(pid), "-D", os.path.join(a, "pre"), "--track-mem", "-v4",
                        "-o", "pre-dump.log"], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    if p.returncode:
        raise Fail("pre-dump failed: %s" % p.stderr.strip()[-300:])
    copy_images(os.path.join(a, "pre"), os.path.join(b, "pre"))     # ahead, while the tree runs on
    time.sleep(1)                                                    # memhog writes 64 MiB/s meanwhile
    dp = lazy_dump(None, pid, os.path.join(a, "dump"), ["--prev-images-dir", "../pre", "--track-mem"])
    log = read(os.path.join(a, "dump", "dump.log"))
    if "for dump --lazy-pages to serve" not in log or "unchanged since the previous" not in log:
        raise Fail("the dump has no lazy pages or nothing from the pre-dump: %s" % log[-600:])
    copy_images(os.path.join(a, "dump"), os.path.join(b, "dump"))
    lp = remote_daemon(None, os.path.join(b, "dump"), "127.0.0.1")
    rpid = remote_restore(None, os.path.join(b, "dump"))
    hogs.append(rpid)
    if lp.wait(timeout=120):
        raise Fail("the daemon failed: %s" % read(os.path.join(b, "dump", "lazy-pages.log"))[-400:])
    out, _ = dp.communicate(timeout=60)
    if dp.returncode:
        raise Fail("the dump failed after serving: %s" % out[-300:])
    llog = read(os.path.join(b, "dump", "lazy-pages.log"))
    m = [l for l in llog.splitlines() if "came from the dumping host" in l]
    remote_pages = int(m[0].split("lazy pages: ")[1].split()[0]) if m else 0
    if not remote_pages or remote_pages >= (256 << 8) // 2:
        raise Fail("expected some pages (those written since the pre-dump) from the dump, the rest from the "
                   "parent: %s" % (m or llog[-300:]))
    if not gone_within(pid, 10):
        raise Fail("the dumped memhog %d is still there" % pid)
    memhog_verdict(rpid, d)


def t_remote_late_signals(d):
    dp, lp, pid, rpid, b = remote_half(d, 16)
    for i in range(600):
        try:
            os.kill(pid, signal.SIGRTMIN + 1)
        except ProcessLookupError:
            break       # the destination already had every page: the dump ended the tree
    if lp.wait(timeout=120):
        raise Fail("the daemon failed: %s" % read(os.path.join(b, "lazy-pages.log"))[-400:])
    out, _ = dp.communicate(timeout=60)
    if dp.returncode:
        raise Fail("the dump failed after the destination had every page: %s" % out[-300:])
    if not gone_within(pid, 10):
        raise Fail("the dumped memhog %d is still there beside its restored copy" % pid)
    memhog_verdict(rpid, d)


def t_remote_refused(d):
    pid = start_memhog_pidns(d, 16)
    p = subprocess.run([CRIU, "dump", "-t", str(pid), "-D", d, "--lazy-pages", "-R"], capture_output=True, text=True)
    if p.returncode == 0 or "can't go with --leave-running" not in p.stderr:
        raise Fail("dump --lazy-pages -R: rc %d %s" % (p.returncode, p.stderr.strip()))
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    dp = lazy_dump(None, pid, a)
    copy_images(a, b)
    p = subprocess.run([CRIU, "restore", "-D", b, "-d"], capture_output=True, text=True, timeout=60)
    if p.returncode == 0 or "are with the dumping host" not in p.stderr:
        raise Fail("restore of a lazy dump without --lazy-pages: rc %d %s" % (p.returncode, p.stderr.strip()))
    p = subprocess.run([CRIU, "lazy-pages", "-D", b], capture_output=True, text=True, timeout=60)
    if p.returncode == 0 or "--page-server --address" not in p.stderr:
        raise Fail("lazy-pages without --page-server: rc %d %s" % (p.returncode, p.stderr.strip()))
    # nobody fetched: ^C to the dump (it waits for a destination), which resumes the tree
    os.killpg(dp.pid, signal.SIGINT)
    out, _ = dp.communicate(timeout=30)
    if dp.returncode == 0 or not alive(pid):
        raise Fail("the interrupted lazy dump: rc %d, memhog %s" % (dp.returncode, alive(pid)))
    memhog_verdict(pid, d)


def t_remote_no_hello(d):
    """Anyone can reach dump --lazy-pages's port: a FINISH, or a GET, before the daemon's hello (which names the
    dump's id) fails the dump and the tree resumes (the old dump took the FINISH and killed the tree)."""
    pid = start_memhog_pidns(d, 16)
    for n, (cmd, what) in enumerate(((8, "FINISH"), (11, "GET"))):
        a = os.path.join(d, "a%d" % n)
        dp = lazy_dump(None, pid, a)
        sk = socket.create_connection(("127.0.0.1", PORT), timeout=10)
        sk.sendall(struct.pack("=IIQQQQ", cmd, 0, pid, 0x10000, 1, 0))
        out, _ = dp.communicate(timeout=30)
        sk.close()
        if dp.returncode == 0 or "before a hello from the destination" not in out:
            raise Fail("dump --lazy-pages took a %s before any hello: rc %d %s" % (what, dp.returncode, out[-300:]))
        if not alive(pid):
            raise Fail("memhog is gone after a %s from nobody" % what)
    memhog_verdict(pid, d)


# ---- criu page-server --lazy-pages: from the images of a plain dump ----

def plain_dump(pid, img, extra=(), action="dump"):
    os.makedirs(img, exist_ok=True)
    p = subprocess.run([CRIU, action, "-t", str(pid), "-D", img, "-v4", "-o", action + ".log"] + list(extra),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    if p.returncode:
        raise Fail("%s failed: %s" % (action, p.stderr.strip()[-300:]))


def image_server(img, port=None):
    r, w = os.pipe()
    p = subprocess.Popen([CRIU, "page-server", "--lazy-pages", "-D", img, "--port", str(port or PORT), "-o",
                          "page-server.log", "-v4", "--status-fd", str(w)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, pass_fds=(w,),
                         start_new_session=True)
    procs.append(p)
    os.close(w)
    status_wait(r, "page-server --lazy-pages", p, os.path.join(img, "page-server.log"))
    return p


def served(b):
    log = read(os.path.join(b, "lazy-pages.log"))
    m = [l for l in log.splitlines() if "came from the dumping host" in l]
    return int(m[0].split("lazy pages: ")[1].split()[0]) if m else 0


def images_restore(d, a, mib):
    """Serve @a, restore into an empty dir; (server, daemon, restored pid, dest dir)."""
    b = os.path.join(d, "b")
    os.makedirs(b)
    sp = image_server(a)
    lp = remote_daemon(None, b, "127.0.0.1")
    big = [f for f in os.listdir(b) if f.startswith("pages-") and os.path.getsize(os.path.join(b, f)) > (1 << 20)]
    if big:
        raise Fail("the server sent the lazy pages with the images: %s" % big)
    rpid = remote_restore(None, b)
    hogs.append(rpid)
    return sp, lp, rpid, b


def images_whole(d, a, mib, min_served):
    sp, lp, rpid, b = images_restore(d, a, mib)
    if lp.wait(timeout=120):
        raise Fail("the daemon failed: %s" % read(os.path.join(b, "lazy-pages.log"))[-400:])
    out, _ = sp.communicate(timeout=60)
    if sp.returncode:
        raise Fail("the page server failed: %s" % read(os.path.join(a, "page-server.log"))[-400:])
    if served(b) < min_served:
        raise Fail("%d pages came from the page server, expected at least %d" % (served(b), min_served))
    if [f for f in os.listdir(a) if f.startswith(".lazy-serve")]:
        raise Fail("the page server left its temporary dir in %s" % a)
    memhog_verdict(rpid, d)


def t_images_loopback(d):
    pid = start_memhog_pidns(d, 256, own_out=True)
    a = os.path.join(d, "a")
    plain_dump(pid, a)
    if not any(f.endswith(".1.img") for f in os.listdir(a)):
        raise Fail("the dump of 256 MiB made one pages file: the second is not tested")
    images_whole(d, a, 256, (256 << 8) // 2)


def t_images_chain(d):
    pid = start_memhog_pidns(d, 128, own_out=True, write_mibps=64)
    a = os.path.join(d, "a")
    plain_dump(pid, os.path.join(a, "pre"), ["--track-mem"], action="pre-dump")
    time.sleep(0.5)
    plain_dump(pid, os.path.join(a, "dump"), ["--prev-images-dir", "../pre", "--track-mem", "--compress"])
    log = read(os.path.join(a, "dump", "dump.log"))
    if "unchanged since the previous" not in log:
        raise Fail("the dump took nothing from the pre-dump: %s" % log[-400:])
    images_whole(d, os.path.join(a, "dump"), 128, (128 << 8) // 2)


def t_images_server_killed(d):
    pid = start_memhog_pidns(d, 512, own_out=True)
    a = os.path.join(d, "a")
    plain_dump(pid, a)
    sp, lp, rpid, b = images_restore(d, a, 512)
    os.killpg(sp.pid, signal.SIGKILL)
    sp.wait()
    if lp.wait(timeout=60) == 0:
        raise Fail("the daemon had every page before the server was killed: nothing tested")
    log = read(os.path.join(b, "lazy-pages.log"))
    if "went away with pages still to come" not in log:
        raise Fail("the daemon does not say the server went away: %s" % log[-400:])
    if not gone_within(rpid, 10):
        raise Fail("the restored memhog %d is alive without its pages" % rpid)
    # the killed server's temporary dir: the next server on these images removes it
    left = ".lazy-serve.%d" % sp.pid
    if left not in os.listdir(a):
        raise Fail("the killed server left no %s: nothing tested" % left)
    sp2 = image_server(a)
    if left in os.listdir(a):
        raise Fail("the next server did not remove %s" % left)
    os.killpg(sp2.pid, signal.SIGTERM)
    sp2.wait(timeout=30)
    if [f for f in os.listdir(a) if f.startswith(".lazy-serve")]:
        raise Fail("a server stopped by SIGTERM left its temporary dir: %s" % os.listdir(a))


def flip_lazy_byte(a):
    """Flip a byte in the middle of the biggest pages file (memhog's heap: lazy)."""
    f = max((x for x in os.listdir(a) if x.startswith("pages-")), key=lambda x: os.path.getsize(os.path.join(a, x)))
    path = os.path.join(a, f)
    off = os.path.getsize(path) // 2 + 100
    with open(path, "r+b") as fh:
        fh.seek(off)
        c = fh.read(1)
        fh.seek(off)
        fh.write(bytes([c[0] ^ 0x5a]))
    return f, off & ~4095


def t_images_damaged(d):
    pid = start_memhog_pidns(d, 64, own_out=True)
    a = os.path.join(d, "a")
    plain_dump(pid, a)
    f, off = flip_lazy_byte(a)
    sp, lp, rpid, b = images_restore(d, a, 64)
    if lp.wait(timeout=60) == 0:
        raise Fail("the daemon took a damaged page")
    sp.communicate(timeout=30)
    slog = read(os.path.join(a, "page-server.log"))
    want = "%s: the page at offset %d " % (f, off)
    if want not in slog or "damaged" not in slog:
        raise Fail("the server does not name the damaged page (%s): %s" % (want, slog[-400:]))
    log = read(os.path.join(b, "lazy-pages.log"))
    if "can't give the pages" not in log:
        raise Fail("the daemon does not say the server refused the pages: %s" % log[-400:])
    if not gone_within(rpid, 10):
        raise Fail("the restored memhog %d is alive with a damaged page" % rpid)


def t_images_refused(d):
    pid = start_memhog_pidns(d, 16, own_out=True)
    a = os.path.join(d, "a")
    plain_dump(pid, a)
    # the daemon at a port nobody serves
    b = os.path.join(d, "b")
    os.makedirs(b)
    p = subprocess.run([CRIU, "lazy-pages", "-D", b, "--page-server", "--address", "127.0.0.1", "--port",
                        str(PORT + 1)], capture_output=True, text=True, timeout=60)
    if p.returncode == 0 or "can't reach the page server" not in p.stderr or "refused" not in p.stderr:
        raise Fail("lazy-pages to a wrong port: rc %d %s" % (p.returncode, p.stderr.strip()[-300:]))
    # no images, no images dir (not made either)
    p = subprocess.run([CRIU, "page-server", "--lazy-pages", "-D", b, "--port", str(PORT)], capture_output=True,
                       text=True, timeout=60)
    if p.returncode == 0 or "inventory" not in p.stderr:
        raise Fail("page-server --lazy-pages without images: rc %d %s" % (p.returncode, p.stderr.strip()[-300:]))
    nod = os.path.join(d, "nodir")
    p = subprocess.run([CRIU, "page-server", "--lazy-pages", "-D", nod, "--port", str(PORT)], capture_output=True,
                       text=True, timeout=60)
    if p.returncode == 0 or "can't open images dir" not in p.stderr or os.path.exists(nod):
        raise Fail("page-server --lazy-pages of no dir: rc %d %s" % (p.returncode, p.stderr.strip()[-300:]))
    p = subprocess.run([CRIU, "page-server", "--lazy-pages", "-D", a, "--port", str(PORT), "--auto-dedup"],
                       capture_output=True, text=True, timeout=60)
    if p.returncode == 0 or "--auto-dedup means nothing" not in p.stderr:
        raise Fail("page-server --lazy-pages --auto-dedup: rc %d %s" % (p.returncode, p.stderr.strip()[-300:]))
    # a destination dir where an image is in the way: the daemon fails, and removes what came
    with open(os.path.join(b, "pstree.img"), "w") as f:
        f.write("mine")
    sp = image_server(a)
    p = subprocess.run([CRIU, "lazy-pages", "-D", b, "--page-server", "--address", "127.0.0.1", "--port",
                        str(PORT)], capture_output=True, text=True, timeout=60)
    if p.returncode == 0 or "pstree.img" not in p.stderr or os.listdir(b) != ["pstree.img"]:
        raise Fail("lazy-pages into a dir with an image in the way: rc %d %s, left %s" % (
            p.returncode, p.stderr.strip()[-300:], os.listdir(b)))
    sp.communicate(timeout=30)
    if sp.returncode == 0:
        raise Fail("the page server ended well although the destination went away")
    # a damaged pagemap: said before it serves
    pm = [f for f in os.listdir(a) if f.startswith("pagemap-")][0]
    shutil.copy(os.path.join(a, pm), os.path.join(d, pm))
    with open(os.path.join(a, pm), "r+b") as fh:
        fh.seek(40)
        c = fh.read(1)
        fh.seek(40)
        fh.write(bytes([c[0] ^ 1]))
    p = subprocess.run([CRIU, "page-server", "--lazy-pages", "-D", a, "--port", str(PORT)], capture_output=True,
                       text=True, timeout=60)
    if p.returncode == 0 or pm not in p.stderr:
        raise Fail("page-server --lazy-pages of a damaged pagemap: rc %d %s" % (p.returncode, p.stderr.strip()[-300:]))
    if any(f.startswith(".lazy-serve") for f in os.listdir(a)):
        raise Fail("the failed server left its temporary dir in %s: %s" % (a, read(os.path.join(a, "page-server.log"))[-800:]))
    # the images of a dump --lazy-pages have no lazy pages to serve
    os.unlink(os.path.join(d, "memhog.pid"))
    pid = start_memhog_pidns(d, 16)
    c = os.path.join(d, "c")
    dp = lazy_dump(None, pid, c)
    p = subprocess.run([CRIU, "page-server", "--lazy-pages", "-D", c, "--port", str(PORT + 2)],
                       capture_output=True, text=True, timeout=60)
    if p.returncode == 0 or "nothing here to serve" not in p.stderr:
        raise Fail("page-server --lazy-pages of a lazy dump: rc %d %s" % (p.returncode, p.stderr.strip()[-300:]))
    os.killpg(dp.pid, signal.SIGINT)
    dp.communicate(timeout=30)


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
    tests = (("check", t_check), ("no_daemon", t_no_daemon),
             ("daemon_killed_in_restore", t_daemon_killed_in_restore), ("daemon_killed", t_daemon_killed),
             ("remote_loopback", t_remote_loopback), ("remote_veth", t_remote_veth),
             ("remote_source_killed", t_remote_source_killed), ("remote_dest_killed", t_remote_dest_killed),
             ("remote_late_signals", t_remote_late_signals), ("remote_refused", t_remote_refused), ("remote_no_hello", t_remote_no_hello),
             ("remote_chain", t_remote_chain), ("images_loopback", t_images_loopback),
             ("images_chain", t_images_chain), ("images_server_killed", t_images_server_killed),
             ("images_damaged", t_images_damaged), ("images_refused", t_images_refused))
    only = sys.argv[1:]
    try:
        setup_net()
        for name, fn in tests:
            if only and name not in only:
                continue
            d = os.path.join(TMP, name)
            os.makedirs(d)
            try:
                fn(d)
                print("PASS %s" % name)
                passed += 1
            except (Fail, OSError, ValueError, subprocess.TimeoutExpired) as e:
                print("FAIL %s: %s" % (name, e))
                failed += 1
            for p in procs:
                if p.poll() is None:
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except OSError:
                        p.kill()
                    p.wait()
            procs.clear()
            for pid in hogs:
                try:
                    if "memhog" in read("/proc/%d/comm" % pid):     # not a pid taken since
                        os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            hogs.clear()
    except Fail as e:
        print("FAIL setup: %s" % e)
        failed += 1
    finally:
        cleanup_net()
        shutil.rmtree(TMP, ignore_errors=True)
    print("lazy_pages: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
