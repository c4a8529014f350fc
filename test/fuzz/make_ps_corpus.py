#!/usr/bin/env python3
"""Seed inputs for fuzz-ps (fuzz_ps.c), recorded from real sessions:

    make_ps_corpus.py OUT        (root; criu and memhog built in build/)

Each session goes through a recording proxy on 127.0.0.1 between the two
criu's. Writes into OUT (test/fuzz/ps-corpus): a pre-dump of `sleep` to
a page server (pre-dump: also the harness's $FUZZ_PS_PRE, the parent
images it makes at start), the dump on top of it (--prev-images-dir ../pre --auto-dedup),
a --compress pre-dump, a live round made by hand, the paths a PARENT
must not take, a lazy-pages daemon's side of `dump --lazy-pages`
(its first asks and their answers), and the daemon's messages to
`dump --lazy-pages` (made by hand: the harness serves its own memory).
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "test", "others"))
CRIU = os.path.join(TOP, "build", "criu", "criu")
HELLO, PARENT, OPEN, PAGES, DATALESS, CLOSE, COVER, FINISH, REPLY, INVENTORY, GET, IMAGE = range(1, 13)
MAGIC = 0x53504352
HDR = struct.Struct("=IIQQQQ")
BASE_PORT = 29300 + os.getpid() % 500


class Proxy:
    """Listens on @port, forwards one connection to @to, records both directions."""

    def __init__(self, port, to):
        self.lsk = socket.create_server(("127.0.0.1", port))
        self.to, self.c2s, self.s2c = to, bytearray(), bytearray()
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def pump(self, a, b, rec):
        while True:
            try:
                d = a.recv(1 << 16)
            except OSError:
                d = b""
            if not d:
                try:
                    b.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            rec += d
            try:
                b.sendall(d)
            except OSError:
                return

    def run(self):
        c, _ = self.lsk.accept()
        s = socket.create_connection(("127.0.0.1", self.to))
        t = threading.Thread(target=self.pump, args=(s, c, self.s2c), daemon=True)
        t.start()
        self.pump(c, s, self.c2s)
        t.join(60)
        c.close()
        s.close()

    def done(self):
        self.th.join(120)
        self.lsk.close()
        return bytes(self.c2s), bytes(self.s2c)


def page_server(d, port):
    os.makedirs(d, exist_ok=True)
    r, w = os.pipe()
    p = subprocess.Popen([CRIU, "page-server", "-D", d, "--address", "127.0.0.1", "--port", str(port), "-v4",
                          "-o", "ps.log", "--status-fd", str(w)], pass_fds=(w,), stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    if not os.read(r, 1):
        raise SystemExit("the page server did not start")
    os.close(r)
    return p


def sleeper():
    return subprocess.Popen(["setsid", "sleep", "1000"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, close_fds=True)


def session(tmp, name, pid, action, extra):
    """@action of @pid to a page server (through the proxy): its dump side's bytes."""
    srv = page_server(os.path.join(tmp, "srv", name), BASE_PORT + 1)
    px = Proxy(BASE_PORT, BASE_PORT + 1)
    os.makedirs(os.path.join(tmp, "local", name), exist_ok=True)
    r = subprocess.run([CRIU, action, "-t", str(pid), "-D", os.path.join(tmp, "local", name), "--page-server",
                        "--address", "127.0.0.1", "--port", str(BASE_PORT), "-v4", "-o", "d.log"] + extra,
                       capture_output=True, text=True, timeout=120)
    c2s, _ = px.done()
    if r.returncode or srv.wait(timeout=60):
        raise SystemExit("%s through the page server failed: %s" % (action, r.stderr))
    return c2s


def messages(stream):
    """(header tuple, payload) of each message of @stream."""
    off = 0
    while off + HDR.size <= len(stream):
        h = HDR.unpack_from(stream, off)
        yield h, stream[off + HDR.size:off + HDR.size + h[5]]
        off += HDR.size + h[5]


def msg(cmd, flags=0, a=0, b=0, c=0, data=b""):
    return HDR.pack(cmd, flags, a, b, c, len(data)) + data


def with_parent(stream, parent):
    """@stream with its PARENT's payload replaced by @parent."""
    out = b""
    for h, p in messages(stream):
        out += msg(h[0], h[1], h[2], h[3], h[4], parent if h[0] == PARENT else p)
    return out


def lazy_session(tmp):
    """The first asks of a remote lazy restore and their answers: byte 1, N, asks, the dump's bytes."""
    import lazy_pages as lp
    d = os.path.join(tmp, "lazy")
    os.makedirs(d)
    lp.TMP = tmp
    try:
        pid = lp.start_memhog_pidns(d, 1)
        a, b = os.path.join(d, "a"), os.path.join(d, "b")
        lp.PORT = BASE_PORT + 1
        dp = lp.lazy_dump(None, pid, a)
        lp.copy_images(a, b)
        px = Proxy(BASE_PORT, BASE_PORT + 1)
        lp.PORT = BASE_PORT
        daemon = lp.remote_daemon(None, b, "127.0.0.1")
        rpid = lp.remote_restore(None, b)
        lp.hogs.append(rpid)
        daemon.wait(timeout=120)
        dp.communicate(timeout=60)
        c2s, s2c = px.done()
    finally:
        for p in lp.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for h in lp.hogs:
            try:
                os.kill(h, signal.SIGKILL)
            except OSError:
                pass
    asks = [(h[3], h[4]) for h, _ in messages(c2s) if h[0] == GET]
    # the dump answers in order: each ask's answer (its parts) cut out of the stream after the hello's reply
    msgs = list(messages(s2c))
    answers, k = [], 1
    for _, n in asks:
        ans = b""
        while n > 0 and k < len(msgs):
            h, pl = msgs[k]
            ans += HDR.pack(*h) + pl
            n = n - h[3] if h[0] == PAGES else 0
            k += 1
        answers.append(ans)
    # a few small asks (faults), to keep the seed small
    pick = [i for i, (_, n) in enumerate(asks) if n <= 8][:4]
    head = bytes([1, len(pick)]) + b"".join(struct.pack("<QH", *asks[i]) for i in pick)
    h0, pl0 = msgs[0]
    return head + HDR.pack(*h0) + pl0 + b"".join(answers[i] for i in pick) + msg(REPLY)


def main():
    corpus = sys.argv[1]
    os.makedirs(corpus, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="ps-corpus.")
    seeds = {}
    try:
        p = sleeper()
        time.sleep(0.2)
        pre = session(tmp, "pre", p.pid, "pre-dump", ["--track-mem"])
        final = session(tmp, "final", p.pid, "dump",
                        ["--prev-images-dir", "../pre", "--track-mem", "--auto-dedup"])
        p.wait()
        seeds["pre-dump"] = b"\0" + pre
        seeds["dump-on-pre-dedup"] = b"\0" + final
        q = sleeper()
        time.sleep(0.2)
        seeds["pre-dump-compress"] = b"\0" + session(tmp, "comp", q.pid, "pre-dump", ["--track-mem", "--compress"])
        q.kill()
        q.wait()
        # a live round by hand (as ROUND_CLIENT in page_server.py): its pages from the dump's session
        body = b"".join(msg(h[0], h[1], h[2], h[3], h[4], pl) for h, pl in messages(final)
                        if h[0] in (OPEN, PAGES, DATALESS, CLOSE, COVER))
        hello = next(h for h, _ in messages(final) if h[0] == HELLO)
        seeds["live-round"] = b"\2" + msg(HELLO, 0, MAGIC, hello[3], 0, b".live-1") + \
            msg(PARENT, data=b"../../pre") + body + msg(FINISH, 2) + msg(HELLO, 0, MAGIC, hello[3] + 1) + \
            msg(PARENT, data=b".live-1") + msg(FINISH)
        small = b"".join(msg(h[0], h[1], h[2], h[3], h[4], pl) for h, pl in messages(final)
                         if h[0] in (OPEN, DATALESS, CLOSE, COVER))
        seeds["live-round-given-up"] = b"\0" + msg(HELLO, 0, MAGIC, 7, 0, b".live-1") + small + \
            msg(HELLO, 0, MAGIC, 8) + msg(FINISH)
        # what a PARENT may not name: the harness's canary (the same images, one level up), absolute paths
        # (the first whole: a page server that took it would free the canary's pages, --auto-dedup)
        for n, path in (("up2", b"../../canary"), ("abs", b"/tmp"), ("dotdot-after", b"../pre/../../canary"),
                        ("dot", b"./../pre")):
            s = with_parent(final, path)
            seeds["parent-" + n] = b"\0" + (s if n == "up2" else s[:s.index(path) + len(path)])
        # a pages message of 2^20 pages: the old server took up to 2^30 and asked for a 4 GiB buffer
        seeds["pages-huge"] = b"\0" + msg(HELLO, 0, MAGIC, 7) + msg(OPEN, 0, 1, 1) + \
            msg(PAGES, 0, 0x10000, 1 << 20, 0, b"")[:-8] + struct.pack("=Q", (1 << 20) * 4104) + b"\0" * 4104
        seeds["lazy"] = lazy_session(tmp)
        # the server of dump --lazy-pages (fuzz_ps.c: LAZY_ID, LAZY_AREA, 64 pages; pid 1 taken as the harness's)
        lazy_id, area = 0x6c617a79, 0x200000000000
        hello = msg(HELLO, 4, MAGIC, lazy_id)
        seeds["lazy-dump"] = b"\4" + hello + msg(GET, 0, 1, area, 16) + msg(GET, 0, 1, area + 16 * 4096, 48) + \
            msg(GET, 0, 1, area + 60 * 4096, 8) + msg(FINISH)
        seeds["lazy-dump-bad-id"] = b"\4" + msg(HELLO, 4, MAGIC, lazy_id + 1) + msg(FINISH)
        # the old dump took these, the first killing the tree
        seeds["lazy-dump-finish-first"] = b"\4" + msg(FINISH)
        seeds["lazy-dump-get-first"] = b"\4" + msg(GET, 0, 1, area, 1) + msg(FINISH)
        # the images a page-server --lazy-pages sends the daemon into its empty dir: a good one, then a name
        # out of the dir (refused: what came is removed)
        seeds["lazy-images"] = b"\x08" + msg(REPLY) + msg(IMAGE, 0, 5, 6, 0, b"x.img") + b"hello!" + \
            msg(IMAGE, 0, 8, 0, 0, b"../y.img") + msg(CLOSE)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for name, data in seeds.items():
        open(os.path.join(corpus, name), "wb").write(data)
        print("%s: %d bytes" % (name, len(data)))


if __name__ == "__main__":
    main()
