# A python workload: SysV shm, POSIX shm in /dev/shm (mmap'ed), a flock,
# a zombie child, a thread, an http server with a keep-alive client held
# open, a pipe through an echo thread, a file of the root held open and
# appended to; each round checks all of it and writes "bad: why" in /run/bad.
import ctypes, fcntl, mmap, os, socket, sys, threading, time, http.server, http.client
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
# lo may be down in a fresh network namespace (LXC's "empty" network)
os.system("ip link set lo up 2>/dev/null")
token = os.urandom(8).hex()
open("/run/token", "w").write(token)
shmid = libc.shmget(0x4242, 4096, 0o1600)
assert shmid >= 0
addr = libc.shmat(shmid, None, 0)
ctypes.memmove(addr, token.encode(), 16)
fd = os.open("/dev/shm/pshm", os.O_RDWR | os.O_CREAT, 0o600)
os.ftruncate(fd, 4096)
pm = mmap.mmap(fd, 4096)
pm[:16] = token.encode()
lk = open("/run/lockfile", "w")
fcntl.flock(lk, fcntl.LOCK_EX)
zpid = os.fork()
if zpid == 0:
    os._exit(7)
# a zombie once it has exited: the first round must not catch it still running
for _ in range(500):
    if open("/proc/%d/stat" % zpid).read().rsplit(")", 1)[1].split()[0] == "Z":
        break
    time.sleep(0.01)
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        b = open("/run/count").read().encode()
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 8000), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
cl = http.client.HTTPConnection("127.0.0.1", 8000)
# a stream to whoever connects to port 8001 (a client on the host): the count
conns = []
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", 8001)); ls.listen(4); ls.setblocking(False)
# what goes into a pipe comes back out of another through a thread
p1r, p1w = os.pipe()
p2r, p2w = os.pipe()
def echo():
    while True:
        os.write(p2w, os.read(p1r, 64))
threading.Thread(target=echo, daemon=True).start()
os.makedirs("/tmp", exist_ok=True)
logf = open("/tmp/wl.log", "w")
logsize = 0
def bad(why):
    open("/run/bad", "a").write(why + "\n")
i = 0
while True:
    i += 1
    open("/run/count", "w").write(str(i))
    print("count", i, flush=True)
    if ctypes.string_at(addr, 16).decode() != token: bad("sysv shm")
    if pm[:16].decode() != token: bad("posix shm")
    try:
        st = open("/proc/%d/stat" % zpid).read().rsplit(")", 1)[1].split()[0]
        if st != "Z": bad("zombie state " + st)
    except OSError as e: bad("zombie gone")
    try:
        fcntl.flock(open("/run/lockfile"), fcntl.LOCK_EX | fcntl.LOCK_NB); bad("lock lost")
    except BlockingIOError: pass
    try:
        sk = cl.sock
        cl.request("GET", "/"); r = cl.getresponse(); r.read()
        if sk is not None and cl.sock is not sk: bad("http reconnected")
    except Exception as e: bad("http " + repr(e)); cl.close()
    try: conns.append(ls.accept()[0])
    except BlockingIOError: pass
    for c in conns:
        try: c.send(b"%d\n" % i)
        except OSError as e: bad("stream " + repr(e)); conns.remove(c)
    os.write(p1w, b"%d\n" % i)
    got = os.read(p2r, 64)
    if got != b"%d\n" % i: bad("pipe echo %r for %d" % (got, i))
    logf.write("%d\n" % i); logf.flush(); logsize += len("%d\n" % i)
    if os.fstat(logf.fileno()).st_size != logsize or logf.tell() != logsize:
        bad("the log file is %d bytes at %d, not %d" % (os.fstat(logf.fileno()).st_size, logf.tell(), logsize))
    time.sleep(0.05)
