# A python workload holding kernel objects of many kinds, each checked
# every round ("bad: why" in /run/bad): an eventfd with a count, an epoll
# set, an inotify watch, a signalfd with a signal
# pending, a memfd with data, a pipe and a unix socketpair with unread
# data, an OFD lock, an unlinked POSIX shm segment still mapped, a
# stopped child, a child whose cwd is a removed directory.
import ctypes, fcntl, mmap, os, select, signal, socket, struct, time
libc = ctypes.CDLL(None, use_errno=True)
open("/run/token", "w").write(os.urandom(8).hex())
bad = lambda why: open("/run/bad", "a").write(why + "\n")

efd = os.eventfd(5, os.EFD_NONBLOCK)
ep = select.epoll()
r, w = os.pipe()
os.write(w, b"pipe-data")
ep.register(r, select.EPOLLIN)
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
a.send(b"dgram-1"); a.send(b"dgram-2")
os.makedirs("/run/watched", exist_ok=True)
ino = libc.inotify_init1(os.O_NONBLOCK)
libc.inotify_add_watch(ino, b"/run/watched", 0x100)  # IN_CREATE
open("/run/watched/f", "w").close()
# queued events can't be dumped (refused): the watch must stay, read now
time.sleep(0.05)
os.read(ino, 4096)
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
mask = ctypes.c_uint64(1 << (signal.SIGUSR1 - 1))
sfd = libc.signalfd(-1, ctypes.byref(mask), os.O_NONBLOCK)
assert sfd >= 0
os.kill(os.getpid(), signal.SIGUSR1)
mfd = os.memfd_create("wl")
os.write(mfd, b"memfd-data" * 1000)
lk = os.open("/run/ofd", os.O_RDWR | os.O_CREAT)
F_OFD_SETLK = 37
fcntl.fcntl(lk, F_OFD_SETLK, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 10, 0) + b"\0" * 4)
shm = os.open("/dev/shm/gone", os.O_RDWR | os.O_CREAT)
os.ftruncate(shm, 8192)
sm = mmap.mmap(shm, 8192)
os.close(shm)
os.unlink("/dev/shm/gone")
sm[4096:4106] = b"shm-unlink"
stopped = os.fork()
if stopped == 0:
    while True:
        time.sleep(1)
os.kill(stopped, signal.SIGSTOP)
os.makedirs("/run/rmdir", exist_ok=True)
cw = os.fork()
if cw == 0:
    os.chdir("/run/rmdir")
    while True:
        time.sleep(1)
time.sleep(0.2)
os.rmdir("/run/rmdir")

def state(p):
    return open("/proc/%d/stat" % p).read().rsplit(")", 1)[1].split()[0]

done = False

def check():
    if os.pread(mfd, 10, 9990) != b"memfd-data":
        bad("memfd")
    if not done and ep.poll(0) != [(r, select.EPOLLIN)]:
        bad("epoll: %s" % ep.poll(0))
    if sm[4096:4106] != b"shm-unlink":
        bad("unlinked shm")
    if state(stopped) != "T":
        st = open("/proc/%d/status" % stopped).read().splitlines()
        bad("the stopped child is %s: %s" % (state(stopped), " ".join(l for l in st if l.split(":")[0] in
            ("TracerPid", "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt"))))
    if os.readlink("/proc/%d/cwd" % cw) != "/run/rmdir (deleted)":
        bad("the child's cwd is %s" % os.readlink("/proc/%d/cwd" % cw))
    o = os.open("/run/ofd", os.O_RDWR)
    try:
        fcntl.fcntl(o, F_OFD_SETLK, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 10, 0) + b"\0" * 4)
        bad("the OFD lock is gone")
    except OSError:
        pass
    os.close(o)

def check_once():
    # what a read takes away: read once, when /run/go is there (after the restore)
    try:
        if os.eventfd_read(efd) != 5:
            bad("eventfd count")
    except OSError as e:
        bad("eventfd: %s" % e)
    try:
        if os.read(r, 100) != b"pipe-data":
            bad("pipe data")
    except OSError as e:
        bad("pipe: %s" % e)
    b.setblocking(False)
    try:
        if b.recv(100) != b"dgram-1" or b.recv(100) != b"dgram-2":
            bad("socketpair data")
    except OSError as e:
        bad("socketpair: %s" % e)
    open("/run/watched/g", "w").close()
    time.sleep(0.05)
    try:
        ev = os.read(ino, 4096)
        if b"g\0" not in ev or struct.unpack("iIII", ev[:16])[1] != 0x100:
            bad("inotify event %r" % ev)
    except OSError as e:
        bad("inotify: %s" % e)
    try:
        si = os.read(sfd, 128)
        if struct.unpack("I", si[:4])[0] != signal.SIGUSR1:
            bad("signalfd signal")
    except OSError as e:
        bad("signalfd: %s" % e)

check()
i = 0
while True:
    i += 1
    if not done and os.path.exists("/run/go"):
        check_once()
        done = True
        open("/run/checked", "w").close()
    check()
    open("/run/count", "w").write("%d\n" % i)
    print("count", i, flush=True)
    time.sleep(0.05)
