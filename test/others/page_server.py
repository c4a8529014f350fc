#!/usr/bin/env python3
"""
Migration through the page server, between two network namespaces joined
by a veth pair (Documentation/incremental.md):

  migrate        memhog runs in netns A; a page server listens in netns B;
                 a pre-dump and then the final dump (--prev-images-dir,
                 --track-mem) send their pages over the veth to B, the other
                 images are copied over; the restore in B brings memhog back
                 there (in B's network namespace) with every page intact.
  migrate_compress  the same with --compress.
  migrate_dedup  the same with --auto-dedup while memhog writes on: the
                 server frees in the pre-dump's images what the dump replaced.
  migrate_live   memhog writes 64 MiB/s: the dump makes live rounds
                 (pre-dumps while memhog runs) before it freezes it, all
                 over one connection to the page server, which puts each
                 round into final/.live-N (parent links as the dump's) and,
                 with its own --auto-dedup, frees what each replaced; the
                 restore in B goes through pre, the rounds and the dump.
  live_round_broken  the same, a send of the first round's page message
                 failing half-way (fault injection): nothing more may go on
                 that connection, so the dump fails at once (no hang),
                 memhog runs on, the server removes the round.
  round_given_up a client speaking the protocol begins a live round and then
                 the dump's own images without finishing it (what a dump
                 does when a round fails but the connection is whole): the
                 server removes the round and serves the dump.
  parent_refused a client speaking the protocol names as the previous images
                 ../../outside, /etc, ../victim/../../b/victim: the server
                 refuses each (exits 1, no parent link); and ../victim (a
                 real pre-dump next to -D) with --auto-dedup but an
                 inventory naming no parent dump id: nothing freed there.
                 The victim's images are unchanged byte for byte.
  stalled        a client begins a pages message and never finishes it, its
                 connection open: the server fails after CRIU_PS_STALL_S (2 s
                 here, 60 by default), saying so (its images left unsealed).
  migrate_snapshot  memhog writes on; a pre-dump to the page server, then
                 `dump -R --snapshot --prev-images-dir --page-server
                 --auto-dedup`: frozen only for the snapshot, the pages
                 written since the pre-dump go to the server while memhog
                 runs on, the server frees what they replace; memhog (left running)
                 is killed in A and restored in B from the chain at the server.
  server_dies    the page server is killed while a dump sends it pages: the
                 dump fails saying so, memhog runs on untouched.
  snapshot_server_dies  the same during a `dump -R --snapshot` copy (memhog
                 runs and writes meanwhile): the dump fails, memhog runs on
                 with no write lost, untraced, no userfaultfd fd or
                 registered area ('uw') left in it.
  no_server      nobody listens: the dump fails at once, memhog untouched.

Run as root: python3 test/others/page_server.py [CASE...]. Output: PASS/FAIL lines and
"page_server: N passed, M failed".
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(TOP, "build")
CRIU = os.environ.get("CRIU", os.path.join(BUILD, "criu", "criu"))
MEMHOG = os.path.join(BUILD, "test", "bench", "memhog")
TAG = "cps%d" % (os.getpid() % 100000)
NS_A, NS_B = TAG + "a", TAG + "b"
IP_A, IP_B = "10.199.%d.1" % (os.getpid() % 200), "10.199.%d.2" % (os.getpid() % 200)
PORT = 27200 + os.getpid() % 1000
TMP = None
procs = []


class Fail(Exception):
    pass


def sh(*cmd, check=True):
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if check and p.returncode:
        raise Fail("%s: rc %d %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
    return p


def in_ns(ns):
    return ["nsenter", "--net=/run/netns/%s" % ns]


def setup_net():
    sh("ip", "netns", "add", NS_A)
    sh("ip", "netns", "add", NS_B)
    sh("ip", "link", "add", TAG + "va", "netns", NS_A, "type", "veth", "peer", "name", TAG + "vb", "netns", NS_B)
    for ns, dev, ip in ((NS_A, TAG + "va", IP_A), (NS_B, TAG + "vb", IP_B)):
        sh("ip", "-n", ns, "addr", "add", ip + "/24", "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")


def cleanup():
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                p.kill()
            p.wait()
    for ns in (NS_A, NS_B):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def start_memhog(ns, mode, mib, d, write_mibps=0):
    pidfile = os.path.join(d, "memhog.pid")
    out = open(os.path.join(d, "memhog.out"), "w")
    env = dict(os.environ, MEMHOG_WRITE_MIBPS=str(write_mibps)) if write_mibps else None
    p = subprocess.Popen(in_ns(ns) + [MEMHOG, mode, str(mib), pidfile], stdin=subprocess.DEVNULL, stdout=out,
                         stderr=subprocess.STDOUT, start_new_session=True, close_fds=True, cwd="/", env=env)
    procs.append(p)
    deadline = time.monotonic() + 60
    while not os.path.exists(pidfile):
        if p.poll() is not None or time.monotonic() > deadline:
            raise Fail("memhog did not start")
        time.sleep(0.02)
    return int(open(pidfile).read())


def page_server(ns, d, port=PORT, extra=(), env=None):
    os.makedirs(d, exist_ok=True)
    p = subprocess.Popen(["ip", "netns", "exec", ns, CRIU, "page-server", "-D", d, "--address", IP_B, "--port",
                          str(port), "-v4", "-o", "ps.log"] + list(extra), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, env=dict(os.environ, **env) if env else None,
                         stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    procs.append(p)
    deadline = time.monotonic() + 10
    while True:     # listening once its log says so
        try:
            if "listening" in open(os.path.join(d, "ps.log")).read():
                return p
        except OSError:
            pass
        if p.poll() is not None or time.monotonic() > deadline:
            raise Fail("the page server did not start: %s" % (p.stdout.read() if p.poll() is not None else ""))
        time.sleep(0.02)


def criu_in(ns, *args):
    return subprocess.run(in_ns(ns) + [CRIU] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=300)


def memhog_ok(pid, d, wait_parent=None):
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    out = os.path.join(d, "memhog.out")
    while time.monotonic() < deadline:
        text = open(out).read()
        if "memhog: OK" in text:
            return
        if "memhog: BAD" in text:
            raise Fail("memory differs: %s" % text.strip().splitlines()[-1])
        time.sleep(0.05)
    try:
        st = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0]
        wchan = open("/proc/%d/wchan" % pid).read()
        fate = "state %s, wchan %s" % (st, wchan)
    except OSError:
        fate = "gone"
    raise Fail("memhog %d gave no verdict (%s; its output: %r)" % (pid, fate, open(out).read()[-300:]))


def net_ns_of(pid):
    return os.stat("/proc/%d/ns/net" % pid).st_ino


def reaped(pid, timeout=10):
    deadline = time.monotonic() + timeout
    while os.path.exists("/proc/%d" % pid) and time.monotonic() < deadline:
        try:
            os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.02)
    return not os.path.exists("/proc/%d" % pid)


def t_migrate(extra):
    d = tempfile.mkdtemp(dir=TMP)
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    os.makedirs(a)
    dedup = "--auto-dedup" in extra
    # with --auto-dedup it writes on, so the dump replaces pages of the pre-dump
    pid = start_memhog(NS_A, "text", 64, d, 32 if dedup else 0)
    srv = page_server(NS_B, os.path.join(b, "pre"))
    r = criu_in(NS_A, "pre-dump", "-t", str(pid), "-D", os.path.join(a, "pre"), "--page-server", "--address", IP_B,
                "--port", str(PORT), "--track-mem", "-v4", "-o", "pre.log", *extra)
    if r.returncode or srv.wait(timeout=30):
        raise Fail("pre-dump through the page server: rc %d %s" % (r.returncode, r.stderr.strip()))
    srv = page_server(NS_B, os.path.join(b, "final"))
    r = criu_in(NS_A, "dump", "-t", str(pid), "-D", os.path.join(a, "final"), "--page-server", "--address", IP_B,
                "--port", str(PORT), "--prev-images-dir", "../pre", "--track-mem", "-v4", "-o", "dump.log", *extra)
    if r.returncode or srv.wait(timeout=30):
        raise Fail("dump through the page server: rc %d %s" % (r.returncode, r.stderr.strip()))
    log = open(os.path.join(a, "final", "dump.log")).read()
    # pages left out as unchanged: the server's pre-dump dir is a whole parent (its inventory came too)
    if not re.search(r" [1-9][0-9]* pages unchanged since the previous dump", log):
        raise Fail("the dump did not use the pre-dump the page server has")
    if not os.path.exists(os.path.join(b, "pre", "inventory.img")):
        raise Fail("the page server did not write the pre-dump's inventory.img")
    if dedup:
        # the server holds the previous images: it frees what the dump replaced
        m = re.search(r"--auto-dedup: ([0-9]+) pages freed", open(os.path.join(b, "final", "ps.log")).read())
        if not m or not int(m.group(1)):
            raise Fail("the page server freed nothing in the pre-dump's images (--auto-dedup)")
    if any(f.startswith("pages-") for f in os.listdir(os.path.join(a, "final"))):
        raise Fail("pages written locally although they went to the page server")
    if not reaped(pid):
        raise Fail("the dumped memhog is still there")
    for f in os.listdir(os.path.join(a, "final")):
        if f.endswith(".img") and not os.path.exists(os.path.join(b, "final", f)):
            shutil.copy(os.path.join(a, "final", f), os.path.join(b, "final", f))
    pidfile = os.path.join(d, "restored.pid")
    r = criu_in(NS_B, "restore", "-D", os.path.join(b, "final"), "-d", "--pidfile", pidfile, "-v4", "-o", "rst.log")
    if r.returncode:
        raise Fail("restore in B: rc %d %s" % (r.returncode, r.stderr.strip()))
    rpid = int(open(pidfile).read())
    if rpid != pid or net_ns_of(rpid) != os.stat("/run/netns/%s" % NS_B).st_ino:
        raise Fail("memhog did not come back as %d in netns B" % pid)
    memhog_ok(rpid, d)


def harmless(pid):
    """Nothing of a dump left in @pid: not traced, no userfaultfd, no area registered with one."""
    st = open("/proc/%d/status" % pid).read()
    if re.search(r"^TracerPid:\s+[1-9]", st, re.M):
        raise Fail("memhog is still traced after the failed dump")
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if "userfaultfd" in os.readlink("/proc/%d/fd/%s" % (pid, fd)):
                raise Fail("a userfaultfd (fd %s) was left in memhog" % fd)
        except OSError:
            pass
    if re.search(r"^VmFlags:.* uw", open("/proc/%d/smaps" % pid).read(), re.M):
        raise Fail("an area of memhog is still registered with a userfaultfd ('uw')")


def t_migrate_live(broken=False):
    d = tempfile.mkdtemp(dir=TMP)
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    os.makedirs(a)
    pid = start_memhog(NS_A, "random", 128, d, 64)
    srv = page_server(NS_B, os.path.join(b, "pre"))
    r = criu_in(NS_A, "pre-dump", "-t", str(pid), "-D", os.path.join(a, "pre"), "--page-server", "--address", IP_B,
                "--port", str(PORT), "--track-mem", "-v4", "-o", "pre.log")
    if r.returncode or srv.wait(timeout=30):
        raise Fail("pre-dump through the page server: rc %d %s" % (r.returncode, r.stderr.strip()))
    time.sleep(0.5)     # some 8,000 pages written since: more than a frozen dump should take
    srv = page_server(NS_B, os.path.join(b, "final"), extra=["--auto-dedup"])
    # broken: the 8th send fails: the first round's hello and parent (header, payload each), the cover
    # asked, the open, then its first pages message (header, checksums: this one, half-way)
    env = dict(os.environ, CRIU_FAULT_CALLS="send", CRIU_FAULT="8") if broken else None
    r = subprocess.run(in_ns(NS_A) + [CRIU, "dump", "-t", str(pid), "-D", os.path.join(a, "final"), "--page-server",
                                      "--address", IP_B, "--port", str(PORT), "--prev-images-dir", "../pre",
                                      "--track-mem", "-v4", "-o", "dump.log"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=300, env=env)
    if broken:
        if r.returncode == 0 or "broke during a live round" not in r.stderr or "left running" not in r.stderr:
            raise Fail("the dump did not fail on its broken connection: rc %d %s" % (r.returncode, r.stderr))
        if srv.wait(timeout=30) != 1:
            raise Fail("the page server did not fail")
        if "live round .live-1 was given up" not in open(os.path.join(b, "final", "ps.log")).read() or \
                os.path.exists(os.path.join(b, "final", ".live-1")):
            raise Fail("the page server kept the broken round")
        memhog_ok(pid, d)
        return
    if r.returncode or srv.wait(timeout=60):
        raise Fail("dump through the page server: rc %d %s" % (r.returncode, r.stderr.strip()))
    log = open(os.path.join(a, "final", "dump.log")).read()
    rounds = re.findall(r"a live round into (\.live-[0-9]+) first", log)
    if not rounds:
        raise Fail("the dump made no live round")
    psl = open(os.path.join(b, "final", "ps.log")).read()
    up = "../../pre"
    for rd in rounds:
        at = os.path.join(b, "final", rd)
        if not os.path.exists(os.path.join(at, "inventory.img")) or os.readlink(os.path.join(at, "parent")) != up:
            raise Fail("the page server has no whole %s linked to %s" % (rd, up))
        if any(f.startswith("pages-") for f in os.listdir(os.path.join(a, "final", rd))):
            raise Fail("pages of %s written locally although they went to the page server" % rd)
        up = "../" + rd
    if os.readlink(os.path.join(b, "final", "parent")) != rounds[-1]:
        raise Fail("the dump's images at the page server are not linked to the last round")
    freed = [int(n) for n in re.findall(r"--auto-dedup: ([0-9]+) pages freed", psl)]
    if len(freed) != len(rounds) + 1 or not all(freed):
        raise Fail("the page server did not free pages after each round and the dump: %s" % freed)
    if not reaped(pid):
        raise Fail("the dumped memhog is still there")
    for f in os.listdir(os.path.join(a, "final")):
        if f.endswith(".img") and not os.path.exists(os.path.join(b, "final", f)):
            shutil.copy(os.path.join(a, "final", f), os.path.join(b, "final", f))
    pidfile = os.path.join(d, "restored.pid")
    r = criu_in(NS_B, "restore", "-D", os.path.join(b, "final"), "-d", "--pidfile", pidfile, "-v4", "-o", "rst.log")
    if r.returncode:
        raise Fail("restore in B: rc %d %s" % (r.returncode, r.stderr.strip()))
    rpid = int(open(pidfile).read())
    if rpid != pid or net_ns_of(rpid) != os.stat("/run/netns/%s" % NS_B).st_ino:
        raise Fail("memhog did not come back as %d in netns B" % pid)
    memhog_ok(rpid, d)


ROUND_CLIENT = r"""
import os, socket, struct, sys, time
d, ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
MAGIC, HELLO, PARENT, OPEN, FINISH, REPLY = 0x53504352, 1, 2, 3, 8, 9


def msg(cmd, a=0, b=0, data=b""):
    return struct.pack("=IIQQQQ", cmd, 0, a, b, 0, len(data)) + data


def reply(sk):
    buf = b""
    while len(buf) < 40:
        got = sk.recv(40 - len(buf))
        if not got:
            sys.exit("the page server closed the connection")
        buf += got
    cmd, _, a = struct.unpack("=IIQ", buf[:16])
    if cmd != REPLY or a:
        sys.exit("the page server answered %d (%d)" % (cmd, a))


sk = socket.create_connection((ip, port), timeout=10)
sk.sendall(msg(HELLO, MAGIC, 1234, b".live-1"))
reply(sk)
sk.sendall(msg(PARENT, data=b"../../pre") + msg(OPEN, 4321, 1))
deadline = time.monotonic() + 5
while not os.path.exists(os.path.join(d, ".live-1", "pagemap-4321.img")):
    if time.monotonic() > deadline:
        sys.exit("the page server did not begin the round in .live-1")
    time.sleep(0.02)
sk.sendall(msg(HELLO, MAGIC, 5678))
reply(sk)
sk.sendall(msg(FINISH))
reply(sk)
"""


def t_round_given_up():
    """The protocol by hand (include/page-server.h): a round begun, never finished, then the dump's hello."""
    d = tempfile.mkdtemp(dir=TMP)
    srv = page_server(NS_B, d)
    r = subprocess.run(in_ns(NS_A) + [sys.executable, "-c", ROUND_CLIENT, d, IP_B, str(PORT)],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    if r.returncode:
        raise Fail("the client: %s" % r.stderr.strip())
    if srv.wait(timeout=30):
        raise Fail("the page server failed after the dump's finish")
    if os.path.exists(os.path.join(d, ".live-1")):
        raise Fail("the round given up is still at the page server: %s" % os.listdir(os.path.join(d, ".live-1")))
    if "live round .live-1 was given up" not in open(os.path.join(d, "ps.log")).read():
        raise Fail("the page server's log does not say it removed the round")


PARENT_CLIENT = r"""
import socket, struct, sys
ip, port, parent, inv, pid = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode(), sys.argv[4], int(sys.argv[5])
MAGIC, HELLO, PARENT, OPEN, CLOSE, FINISH, REPLY, INVENTORY = 0x53504352, 1, 2, 3, 6, 8, 9, 10


def msg(cmd, flags=0, a=0, b=0, data=b""):
    return struct.pack("=IIQQQQ", cmd, flags, a, b, 0, len(data)) + data


def reply(sk):
    buf = b""
    while len(buf) < 40:
        got = sk.recv(40 - len(buf))
        if not got:
            sys.exit("closed")
        buf += got
    return struct.unpack("=IIQ", buf[:16])


# the victim's own inventory entry (no parent dump id: the first of its chain), its dump id in the hello
img = open(inv, "rb").read()
(n,) = struct.unpack_from("<I", img, 8)
entry = img[12:12 + n]
trailer_id = struct.unpack_from("<Q", img, len(img) - 32 + 8)[0]
sk = socket.create_connection((ip, port), timeout=10)
sk.sendall(msg(HELLO, a=MAGIC, b=trailer_id))
reply(sk)
# a pagemap for the victim's pid with no entry: --auto-dedup would free every page of it up the chain
sk.sendall(msg(PARENT, data=parent) + msg(INVENTORY, data=entry) + msg(OPEN, a=pid, b=99) + msg(CLOSE) +
           msg(FINISH, flags=1))
print("finish %d %d" % reply(sk)[::2])
"""


def t_parent_refused():
    """A client speaking the protocol names previous images outside the server's dir (and next to it, without
    proving by their dump id that it was made on them, with --auto-dedup): refused, and nothing outside -D
    changes; the victim, a real pre-dump next to -D, keeps every page."""
    d = tempfile.mkdtemp(dir=TMP)
    b = os.path.join(d, "b")
    pid = start_memhog(NS_A, "random", 8, d)
    srv = page_server(NS_B, os.path.join(b, "victim"))
    r = criu_in(NS_A, "pre-dump", "-t", str(pid), "-D", os.path.join(d, "a"), "--page-server", "--address", IP_B,
                "--port", str(PORT), "-v4", "-o", "pre.log")
    if r.returncode or srv.wait(timeout=30):
        raise Fail("pre-dump through the page server: rc %d %s" % (r.returncode, r.stderr.strip()))
    victim = os.path.join(b, "victim")
    inv = os.path.join(victim, "inventory.img")

    def sums():
        return {f: open(os.path.join(victim, f), "rb").read() for f in os.listdir(victim) if f.endswith(".img")}

    before = sums()
    for n, (parent, refused) in enumerate((("../../outside", True), ("/etc", True), ("../victim/../../b/victim", True),
                                           ("../victim", False))):
        at = os.path.join(b, "d%d" % n)
        srv = page_server(NS_B, at, extra=["--auto-dedup"])
        r = subprocess.run(in_ns(NS_A) + [sys.executable, "-c", PARENT_CLIENT, IP_B, str(PORT), parent, inv,
                                          str(pid)], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60)
        rc = srv.wait(timeout=30)
        log = open(os.path.join(at, "ps.log")).read()
        if refused:
            if rc != 1 or os.path.lexists(os.path.join(at, "parent")) or "are not in the images dir" not in log:
                raise Fail("the page server took %s as the parent: rc %d, %s" % (parent, rc, r.stdout + r.stderr))
        elif "names no parent dump id: nothing freed" not in log:
            raise Fail("--auto-dedup on a parent not proven by its dump id: %s" % log[-500:])
        if sums() != before:
            raise Fail("the images next to the server's dir changed (parent %s)" % parent)
    memhog_ok(pid, d)


STALL_CLIENT = r"""
import socket, struct, sys, time
ip, port = sys.argv[1], int(sys.argv[2])
sk = socket.create_connection((ip, port), timeout=30)
sk.sendall(struct.pack("=IIQQQQ", 1, 0, 0x53504352, 1234, 0, 0))
sk.recv(40)
# a pages message (an OPEN first) whose checksums and data never come whole; the connection stays open
sk.sendall(struct.pack("=IIQQQQ", 3, 0, 4321, 1, 0, 0) + struct.pack("=IIQQQQ", 4, 0, 0x10000, 1, 0, 4104) + b"x" * 10)
t = time.monotonic()
sk.settimeout(30)
print("closed after %.1f s" % (time.monotonic() - t) if not sk.recv(1) else "answered")
"""


def t_stalled():
    """A message begun and never finished, the connection kept open: the server gives up (here after 2 s,
    CRIU_PS_STALL_S; 60 s by default) instead of waiting for ever."""
    d = tempfile.mkdtemp(dir=TMP)
    srv = page_server(NS_B, d, env={"CRIU_PS_STALL_S": "2"})
    r = subprocess.run(in_ns(NS_A) + [sys.executable, "-c", STALL_CLIENT, IP_B, str(PORT)],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    try:
        rc = srv.wait(timeout=20)
    except subprocess.TimeoutExpired:
        raise Fail("the page server still waits for the rest of the message")
    if rc != 1 or "closed after" not in r.stdout:
        raise Fail("the page server did not fail on the stalled message: rc %d, client %s" % (rc, r.stdout + r.stderr))
    if "stalled half-way for 2 s" not in open(os.path.join(d, "ps.log")).read():
        raise Fail("the page server's log does not say the message stalled")


def t_migrate_snapshot():
    d = tempfile.mkdtemp(dir=TMP)
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    os.makedirs(a)
    pid = start_memhog(NS_A, "random", 64, d, 32)
    srv = page_server(NS_B, os.path.join(b, "pre"))
    r = criu_in(NS_A, "pre-dump", "-t", str(pid), "-D", os.path.join(a, "pre"), "--page-server", "--address", IP_B,
                "--port", str(PORT), "--track-mem", "-v4", "-o", "pre.log")
    if r.returncode or srv.wait(timeout=30):
        raise Fail("pre-dump through the page server: rc %d %s" % (r.returncode, r.stderr.strip()))
    time.sleep(0.3)     # pages written since the pre-dump
    srv = page_server(NS_B, os.path.join(b, "final"))
    r = criu_in(NS_A, "dump", "-t", str(pid), "-D", os.path.join(a, "final"), "--page-server", "--address", IP_B,
                "--port", str(PORT), "--prev-images-dir", "../pre", "-R", "--snapshot", "--auto-dedup", "-v4", "-o",
                "dump.log")
    if r.returncode or srv.wait(timeout=30):
        raise Fail("dump -R --snapshot through the page server: rc %d %s" % (r.returncode, r.stderr.strip()))
    m = re.search(r"--auto-dedup: ([0-9]+) pages freed", open(os.path.join(b, "final", "ps.log")).read())
    if not m or not int(m.group(1)):
        raise Fail("the page server freed nothing in the pre-dump's images after the snapshot dump (--auto-dedup)")
    log = open(os.path.join(a, "final", "dump.log")).read()
    if not re.search(r" [1-9][0-9]* pages unchanged since the previous dump", log):
        raise Fail("the snapshot dump did not use the pre-dump the page server has")
    if not re.search(r"snapshot: %d: copied" % pid, log):
        raise Fail("the dump was no snapshot dump")
    if any(f.startswith("pages-") for f in os.listdir(os.path.join(a, "final"))):
        raise Fail("pages written locally although they went to the page server")
    if not os.path.exists(os.path.join(b, "final", "inventory.img")):
        raise Fail("the page server has no inventory.img of the snapshot dump")
    # left running: it goes here, and comes back in B as it was at the snapshot
    os.kill(pid, signal.SIGKILL)
    if not reaped(pid):
        raise Fail("the original memhog does not go")
    for f in os.listdir(os.path.join(a, "final")):
        if f.endswith(".img") and not os.path.exists(os.path.join(b, "final", f)):
            shutil.copy(os.path.join(a, "final", f), os.path.join(b, "final", f))
    pidfile = os.path.join(d, "restored.pid")
    r = criu_in(NS_B, "restore", "-D", os.path.join(b, "final"), "-d", "--pidfile", pidfile, "-v4", "-o", "rst.log")
    if r.returncode:
        raise Fail("restore in B: rc %d %s" % (r.returncode, r.stderr.strip()))
    rpid = int(open(pidfile).read())
    if rpid != pid or net_ns_of(rpid) != os.stat("/run/netns/%s" % NS_B).st_ino:
        raise Fail("memhog did not come back as %d in netns B" % pid)
    memhog_ok(rpid, d)


def t_snapshot_server_dies():
    d = tempfile.mkdtemp(dir=TMP)
    pid = start_memhog(NS_A, "random", 512, d, 16)
    srv = page_server(NS_B, os.path.join(d, "b"))
    dump = subprocess.Popen(in_ns(NS_A) + [CRIU, "dump", "-t", str(pid), "-D", os.path.join(d, "a"), "-R",
                                          "--snapshot", "--page-server", "--address", IP_B, "--port", str(PORT),
                                          "-v4", "-o", "dump.log"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pages = os.path.join(d, "b", "pages-1.img")
    deadline = time.monotonic() + 30
    while not (os.path.exists(pages) and os.path.getsize(pages) > (8 << 20)):
        if dump.poll() is not None or time.monotonic() > deadline:
            raise Fail("the dump ended before the server got 8 MiB: %s" % dump.stdout.read())
        time.sleep(0.005)
    os.killpg(srv.pid, signal.SIGKILL)
    out, _ = dump.communicate(timeout=60)
    if dump.returncode == 0:
        raise Fail("the snapshot dump succeeded without its page server")
    if "page server" not in out or "left running" not in out:
        raise Fail("the failed dump does not say why: %s" % out.strip())
    if "snapshot" not in open(os.path.join(d, "a", "dump.log")).read():
        raise Fail("the dump was no snapshot dump")
    if not os.path.exists("/proc/%d" % pid):
        raise Fail("memhog is gone after the failed dump")
    harmless(pid)
    memhog_ok(pid, d)


def t_server_dies():
    d = tempfile.mkdtemp(dir=TMP)
    pid = start_memhog(NS_A, "random", 512, d)
    srv = page_server(NS_B, os.path.join(d, "b"))
    dump = subprocess.Popen(in_ns(NS_A) + [CRIU, "dump", "-t", str(pid), "-D", os.path.join(d, "a"),
                                          "--page-server", "--address", IP_B, "--port", str(PORT), "-v4", "-o",
                                          "dump.log"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    pages = os.path.join(d, "b", "pages-1.img")
    deadline = time.monotonic() + 30
    while not (os.path.exists(pages) and os.path.getsize(pages) > (8 << 20)):
        if dump.poll() is not None or time.monotonic() > deadline:
            raise Fail("the dump ended before the server got 8 MiB: %s" % dump.stdout.read())
        time.sleep(0.005)
    os.killpg(srv.pid, signal.SIGKILL)
    out, _ = dump.communicate(timeout=60)
    if dump.returncode == 0:
        raise Fail("the dump succeeded without its page server")
    if "page server" not in out or "left running" not in out:
        raise Fail("the failed dump does not say why: %s" % out.strip())
    if not os.path.exists("/proc/%d" % pid):
        raise Fail("memhog is gone after the failed dump")
    memhog_ok(pid, d)


def t_no_server():
    d = tempfile.mkdtemp(dir=TMP)
    pid = start_memhog(NS_A, "random", 16, d)
    r = criu_in(NS_A, "dump", "-t", str(pid), "-D", os.path.join(d, "a"), "--page-server", "--address", IP_B,
                "--port", str(PORT + 1))
    if r.returncode == 0 or "can't reach the page server" not in r.stderr:
        raise Fail("dump without a page server: rc %d %s" % (r.returncode, r.stderr.strip()))
    memhog_ok(pid, d)


def t_daemon():
    """page-server --daemon returns once listening (its output detached), its pid in a --pidfile
    relative to the images dir; -d the same for lazy-pages failing before it listens."""
    d = tempfile.mkdtemp(dir=TMP)
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    os.makedirs(b)
    pid = start_memhog(NS_A, "random", 16, d)
    r = subprocess.run(in_ns(NS_B) + [CRIU, "page-server", "-D", b, "--address", IP_B, "--port", str(PORT),
                                      "--daemon", "--pidfile", "ps.pid", "-v4"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    if r.returncode:
        raise Fail("page-server --daemon: rc %d %s" % (r.returncode, r.stderr.strip()))
    spid = int(open(os.path.join(b, "ps.pid")).read())
    try:
        if b"page-server" not in open("/proc/%d/cmdline" % spid, "rb").read():
            raise Fail("the pid in ps.pid (%d) is not the page server" % spid)
        # it listens already: the dump connects at once
        r = criu_in(NS_A, "dump", "-t", str(pid), "-D", a, "--page-server", "--address", IP_B, "--port",
                    str(PORT), "-v4", "-o", "dump.log")
        if r.returncode:
            raise Fail("dump to the page server daemon: rc %d %s" % (r.returncode, r.stderr.strip()))
        if not reaped(spid):
            raise Fail("the page server daemon did not end after the dump")
    finally:
        try:
            os.kill(spid, signal.SIGKILL)
        except OSError:
            pass
    if "page server: done" not in open(os.path.join(b, "page-server.log")).read():
        raise Fail("the daemon's log (page-server.log by default) does not say it was done")
    if not reaped(pid):
        raise Fail("the dumped memhog is still there")
    for f in os.listdir(a):
        if f.endswith(".img") and not os.path.exists(os.path.join(b, f)):
            shutil.copy(os.path.join(a, f), os.path.join(b, f))
    r = criu_in(NS_B, "restore", "-D", b, "-d", "--pidfile", "restored.pid", "-v4", "-o", "rst.log")
    if r.returncode:
        raise Fail("restore in B: rc %d %s" % (r.returncode, r.stderr.strip()))
    memhog_ok(int(open(os.path.join(b, "restored.pid")).read()), d)
    os.makedirs(os.path.join(d, "none"))
    r = criu_in(NS_B, "lazy-pages", "-D", os.path.join(d, "none"), "-d")
    if r.returncode == 0 or "failed before it was listening" not in r.stderr:
        raise Fail("lazy-pages -d failing at once: rc %d %s" % (r.returncode, r.stderr.strip()))


def main():
    global TMP
    if os.geteuid() != 0:
        print("page_server: must run as root")
        return 1
    for exe in (CRIU, MEMHOG):
        if not os.access(exe, os.X_OK):
            print("page_server: %s is not built" % exe)
            return 1
    TMP = tempfile.mkdtemp(prefix="criu-ps.")
    passed = failed = 0
    try:
        setup_net()
        for name, fn, args in (("migrate", t_migrate, ([],)), ("migrate_compress", t_migrate, (["--compress"],)),
                               ("migrate_dedup", t_migrate, (["--auto-dedup"],)),
                               ("migrate_live", t_migrate_live, ()),
                               ("live_round_broken", t_migrate_live, (True,)),
                               ("round_given_up", t_round_given_up, ()),
                               ("parent_refused", t_parent_refused, ()),
                               ("stalled", t_stalled, ()),
                               ("migrate_snapshot", t_migrate_snapshot, ()),
                               ("server_dies", t_server_dies, ()),
                               ("snapshot_server_dies", t_snapshot_server_dies, ()),
                               ("no_server", t_no_server, ()),
                               ("daemon", t_daemon, ())):
            if sys.argv[1:] and name not in sys.argv[1:]:
                continue
            try:
                fn(*args)
                print("PASS %s" % name, flush=True)
                passed += 1
            except (Fail, OSError, subprocess.SubprocessError) as e:
                print("FAIL %s: %s" % (name, e), flush=True)
                failed += 1
    except Fail as e:
        print("FAIL setup: %s" % e)
        failed += 1
    finally:
        cleanup()
    print("page_server: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
