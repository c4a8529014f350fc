#!/usr/bin/env python3
"""
A pre-dump reads the running tree; it must leave its memory as it was
(Documentation/incremental.md, "Several writers": process_vm_readv() only
for pages mapped once, since a read-only pin of a page shared
copy-on-write makes the kernel copy it).

The tree: a parent with 64 MiB of random pages that a forked child shares
copy-on-write, and 16 MiB of its own each written after the fork (mapped
once: what process_vm_readv() reads).

  cow_kept     criu pre-dump --track-mem: the 64 MiB are still shared
               (smaps_rollup Shared_* of both, the parent's Pss) after it.
  dirty_kept   then the parent writes one page of its own area and one of
               the shared one, the child nothing; a dump --prev-images-dir
               --track-mem on top: the parent's two pages are in it (or
               its live rounds), none other of the two own areas (all in
               the pre-dump); restored, both
               processes find their memory as it was written.
  cow_thp      cow_kept with the 64 MiB in huge pages (MADV_HUGEPAGE),
               the child having written the first page of each: the
               parent's stay mapped whole and pagemap says all their
               pages are mapped once (skipped without huge pages).

Run as root: python3 test/others/predump_cow.py
"""
import glob, hashlib, json, os, shutil, signal, subprocess, sys, tempfile, time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CRIU = os.environ.get("CRIU", os.path.join(REPO, "build", "criu", "criu"))
MIB = 1 << 20

TREE = r'''
import hashlib, mmap, os, signal, sys, time
out = sys.argv[1]
def fill(m, n):
    for o in range(0, n, 1 << 20):
        m[o:o + (1 << 20)] = os.urandom(1 << 20)
thp = len(sys.argv) > 2
shared = mmap.mmap(-1, 64 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
if thp:
    shared.madvise(mmap.MADV_HUGEPAGE)
fill(shared, 64 << 20)
pid = os.fork()
own = mmap.mmap(-1, 16 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
fill(own, 16 << 20)
addr = lambda m: __import__("ctypes").addressof(__import__("ctypes").c_char.from_buffer(m))
if thp and not pid:
    # the child writes the first page of every huge page: the parent's huge pages stay mapped whole, and
    # pagemap reads them all as mapped once (the head page's count)
    for o in range(-addr(shared) % (2 << 20), 64 << 20, 2 << 20):
        shared[o] ^= 1
def write(sig, fr):
    own[3 * 4096] ^= 0xff
    shared[5 * 4096] ^= 0xff
def check(sig, fr):
    h = hashlib.sha256(shared[:] + own[:]).hexdigest()
    open("%s.%d.sum" % (out, os.getpid()), "w").write(h)
signal.signal(signal.SIGUSR1, write)
signal.signal(signal.SIGUSR2, check)
check(0, None)
open("%s.%d.addr" % (out, os.getpid()), "w").write("%d %d" % (addr(shared), addr(own)))
if pid:
    open(out + ".pids", "w").write("%d %d" % (os.getpid(), pid))
while True:
    time.sleep(1)
'''

work = tempfile.mkdtemp(prefix="criu-predump-cow-")
passed = failed = 0


def criu(*argv):
    return subprocess.run([CRIU] + list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True)


def rollup(pid):
    r = {}
    for line in open("/proc/%d/smaps_rollup" % pid):
        f = line.split()
        if len(f) == 3 and f[2] == "kB":
            r[f[0].rstrip(":")] = int(f[1]) * 1024
    return r


def shared(pid):
    r = rollup(pid)
    return r["Shared_Clean"] + r["Shared_Dirty"]


def alive(pid):
    try:
        return open("/proc/%d/stat" % pid).read().split(") ")[1][0] not in "ZX"
    except OSError:
        return False


def wait_file(path, t=30):
    for _ in range(int(t / 0.05)):
        if os.path.exists(path) and os.path.getsize(path):
            return open(path).read()
        time.sleep(0.05)
    raise RuntimeError("no " + path)


def start(*extra):
    out = work + "/tree" + "".join(extra)
    p = subprocess.Popen([sys.executable, "-c", TREE, out] + list(extra), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, close_fds=True, start_new_session=True)
    parent, child = map(int, wait_file(out + ".pids").split())
    for q in (parent, child):
        wait_file("%s.%d.addr" % (out, q))
        wait_file("%s.%d.sum" % (out, q))
    return p, out, parent, child


def entries(d, pid):
    r = criu("show", "%s/pagemap-%d.img" % (d, pid))
    return json.loads(r.stdout)["entries"][1:]


def data_pages(d, pid):
    """The pages the dump holds itself or in its live rounds (.live-N: pre-dumps it made first), not the
    pre-dump's."""
    pages = set()
    for e in [e for x in [d] + glob.glob(d + "/.live-*") for e in entries(x, pid)]:
        if e.get("in_prev") or e.get("in_parent") or e.get("zero"):
            continue
        v = e["vaddr"]
        v = int(v, 0) if isinstance(v, str) else v
        for k in range(int(e["nr_pages"])):
            pages.add(v + k * 4096)
    return pages


state = {}


def cow_kept(thp=False):
    p, out, parent, child = start(*(["thp"] if thp else []))
    if thp:
        state["thp"] = (p, parent, child)
        huge = rollup(parent).get("AnonHugePages", 0)
        if huge < 32 * MIB:
            return "skipped: the parent has %d MiB of huge pages" % (huge // MIB)
    else:
        state.update(p=p, out=out, parent=parent, child=child)
    before = (shared(parent), shared(child), rollup(parent)["Pss"])
    if min(before[:2]) < 60 * MIB:
        return "the tree shares only %d/%d bytes before the pre-dump" % before[:2]
    d = work + ("/pre-thp" if thp else "/pre")
    os.makedirs(d)
    r = criu("pre-dump", "-t", str(parent), "-D", d, "-o", "pre.log", "-v4", "--track-mem")
    if r.returncode:
        return "pre-dump failed: " + r.stderr[-500:]
    after = (shared(parent), shared(child), rollup(parent)["Pss"])
    for what, b, a in zip(("parent Shared_*", "child Shared_*"), before, after):
        if a < b - 2 * MIB:
            return "%s went from %d to %d MiB: the pre-dump unshared COW pages" % (what, b // MIB, a // MIB)
    if after[2] > before[2] + 2 * MIB:
        return "the parent's Pss went from %d to %d MiB" % (before[2] // MIB, after[2] // MIB)
    log = open(d + "/pre.log").read()
    if "process_vm_readv" in log and " 0 pages read by process_vm_readv" in log:
        return "process_vm_readv() read none of the pages mapped once"
    return None


def dirty_kept():
    if "p" not in state:
        return "no tree (cow_kept failed)"
    out, parent, child = state["out"], state["parent"], state["child"]
    sums = {q: open("%s.%d.sum" % (out, q)).read() for q in (parent, child)}
    os.kill(parent, signal.SIGUSR1)
    time.sleep(0.3)
    os.kill(parent, signal.SIGUSR2)
    os.unlink("%s.%d.sum" % (out, parent))
    time.sleep(0.1)
    sums[parent] = wait_file("%s.%d.sum" % (out, parent))
    d = work + "/dump"
    os.makedirs(d)
    r = criu("dump", "-t", str(parent), "-D", d, "-o", "dump.log", "-v4", "--prev-images-dir", "../pre",
             "--track-mem")
    if r.returncode:
        return "dump failed: " + r.stderr[-500:]
    state["p"].wait()
    psh, pown = map(int, open("%s.%d.addr" % (out, parent)).read().split())
    csh, cown = map(int, open("%s.%d.addr" % (out, child)).read().split())
    pd, cd = data_pages(d, parent), data_pages(d, child)
    want = {pown + 3 * 4096, psh + 5 * 4096}
    if not want <= pd:
        return "the parent's written pages are not in the dump: %s" % sorted(hex(a) for a in want - pd)
    ownc = {a for a in cd if cown <= a < cown + 16 * MIB}
    ownp = {a for a in pd if pown <= a < pown + 16 * MIB} - want
    if ownc or ownp:
        return "pages not written since the pre-dump are in the dump: child %d, parent %d" % (len(ownc), len(ownp))
    for q in (parent, child):
        os.unlink("%s.%d.sum" % (out, q))
    r = criu("restore", "-d", "-D", d, "-o", "restore.log", "-v4")
    if r.returncode or not alive(parent):
        return "restore failed: " + r.stderr[-500:]
    try:
        for q in (parent, child):
            os.kill(q, signal.SIGUSR2)
            got = wait_file("%s.%d.sum" % (out, q))
            if got != sums[q]:
                return "process %d's memory differs after the restore" % q
    finally:
        for q in (child, parent):
            try:
                os.kill(q, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return None


try:
    for n, f in (("cow_kept", cow_kept), ("dirty_kept", dirty_kept), ("cow_thp", lambda: cow_kept(True))):
        try:
            why = f()
        except Exception as e:  # noqa: BLE001
            why = "%s: %s" % (type(e).__name__, e)
        if why and why.startswith("skipped"):
            print("SKIP %s: %s" % (n, why), flush=True)
        elif why:
            failed += 1
            print("FAIL %s: %s" % (n, why), flush=True)
        else:
            passed += 1
            print("PASS %s" % n, flush=True)
finally:
    for k in ("parent", "child"):
        if k in state:
            try:
                os.kill(state[k], signal.SIGKILL)
            except ProcessLookupError:
                pass
    if "p" in state and state["p"].poll() is None:
        state["p"].kill()
    if "thp" in state:
        for q in state["thp"][1:]:
            try:
                os.kill(q, signal.SIGKILL)
            except ProcessLookupError:
                pass
        state["thp"][0].kill()
    if not os.environ.get("KEEP"):
        shutil.rmtree(work, ignore_errors=True)
    else:
        print("kept", work)
print("predump_cow: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
