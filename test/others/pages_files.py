#!/usr/bin/env python3
"""
Two pages files (Documentation/images.md, pagemap_head.nr_files): a dump
forced to two writers (CRIU_PAGES_FILES=2) of memhog's 16 MiB of random
pages.

  two_files        pages-ID.img and pages-ID.1.img, nr_files 2, entries of
                   both, and it restores (memhog checks every page).
  damaged_second   a byte of pages-ID.1.img flipped: the restore refuses,
                   naming that file; `criu show` of it names the damage.
  missing_second   pages-ID.1.img removed: the restore refuses, naming it.
  chain_parent     dump -R --track-mem with two files, the task writes on,
                   then a dump --prev-images-dir ../p --track-mem
                   --auto-dedup in one file: pages come from both files of
                   the parent, dedup punched the parent's replaced pages,
                   and it restores.
  one_file         CRIU_PAGES_FILES=1: no second file, no nr_files.

Run as root: python3 test/others/pages_files.py
"""
import glob, json, os, shutil, signal, subprocess, sys, tempfile, time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CRIU = os.environ.get("CRIU", os.path.join(REPO, "build", "criu", "criu"))
HOG = os.path.join(REPO, "build", "test", "bench", "memhog")
work = tempfile.mkdtemp(prefix="criu-pages-files-")
passed = failed = 0
pids = []
procs = {}


def start(env=None):
    """memhog with 16 MiB of random pages, which it checks on SIGTERM (OK or BAD in hog.out)."""
    pidf = os.path.join(work, "hog.pid")
    if os.path.exists(pidf):
        os.unlink(pidf)
    out = open(os.path.join(work, "hog.out"), "w")
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.Popen([HOG, "random", "16", pidf], stdin=subprocess.DEVNULL, stdout=out, env=e,
                         stderr=subprocess.DEVNULL, close_fds=True, start_new_session=True)
    out.close()
    while not os.path.exists(pidf):
        time.sleep(0.05)
    pids.append(p.pid)
    procs[p.pid] = p
    return p.pid


def criu(env, *argv):
    e = dict(os.environ)
    e.pop("CRIU_PAGES_FILES", None)
    e.update(env)
    return subprocess.run([CRIU] + list(argv), env=e, stdin=subprocess.DEVNULL, capture_output=True, text=True)


def pagemap(d, pid):
    r = criu({}, "show", "%s/pagemap-%d.img" % (d, pid))
    return json.loads(r.stdout)["entries"]


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


def restore_ok(d, pid):
    r = criu({}, "restore", "-d", "-D", d, "-o", "restore.log")
    if r.returncode or not alive(pid):
        return "restore failed: " + r.stderr[-500:]
    os.kill(pid, signal.SIGTERM)
    for _ in range(200):
        if not alive(pid):
            break
        time.sleep(0.05)
    out = open(os.path.join(work, "hog.out")).read()
    if "OK" not in out:
        return "memhog says: %r" % out
    return None


def refused(d, pid, name):
    r = criu({}, "restore", "-d", "-D", d, "-o", "restore.log")
    if r.returncode == 0 or alive(pid):
        return "restored"
    if name not in r.stderr:
        return "refused without naming %s: %s" % (name, r.stderr[-300:])
    return None


def case(name, fn):
    global passed, failed
    try:
        why = fn()
    except Exception as e:  # noqa: BLE001
        why = "%s: %s" % (type(e).__name__, e)
    for p in pids:
        kill(p)
    pids.clear()
    if why:
        failed += 1
        print("FAIL %s: %s" % (name, why), flush=True)
    else:
        passed += 1
        print("PASS %s" % name, flush=True)


def dump(env, pid, d, *extra):
    os.makedirs(d)
    r = criu(env, "dump", "-t", str(pid), "-D", d, "-o", "dump.log", *extra)
    if r.returncode == 0 and "-R" not in extra:
        procs[pid].wait()  # the dumped task is gone: its pid is free for the restore
    return r


def two_file_dump(name):
    pid = start()
    d = work + "/" + name
    r = dump({"CRIU_PAGES_FILES": "2"}, pid, d)
    if r.returncode:
        return pid, d, None, "dump failed: " + r.stderr[-500:]
    second = glob.glob(d + "/pages-*.1.img")
    if len(second) != 1 or os.path.getsize(second[0]) < 4096:
        return pid, d, None, "no second pages file: %s" % sorted(os.listdir(d))
    return pid, d, second[0], None


def two_files():
    pid, d, second, why = two_file_dump("two")
    if why:
        return why
    pm = pagemap(d, pid)
    if pm[0].get("nr_files") != 2:
        return "nr_files %r" % pm[0].get("nr_files")
    files = set(e.get("file", 0) for e in pm[1:] if "csum" in e)
    if files != {0, 1}:
        return "entries in files %s" % files
    for f in glob.glob(d + "/pages-*.img"):
        r = criu({}, "show", f)
        if r.returncode or "checked_with" not in r.stdout:
            return "show %s: %s" % (f, r.stdout + r.stderr)
    return restore_ok(d, pid)


def damaged_second():
    pid, d, second, why = two_file_dump("dam")
    if why:
        return why
    with open(second, "r+b") as f:
        f.seek(4096 + 100)
        b = f.read(1)
        f.seek(4096 + 100)
        f.write(bytes([b[0] ^ 0x10]))
    r = criu({}, "show", second)
    if r.returncode == 0 or "damaged" not in r.stderr:
        return "show did not find the damage: " + r.stdout + r.stderr[-300:]
    return refused(d, pid, os.path.basename(second))


def missing_second():
    pid, d, second, why = two_file_dump("miss")
    if why:
        return why
    os.unlink(second)
    return refused(d, pid, os.path.basename(second))


def chain_parent():
    pid = start({"MEMHOG_WRITE_MIBPS": "64"})
    p, d = work + "/p", work + "/c"
    r = dump({"CRIU_PAGES_FILES": "2"}, pid, p, "-R", "--track-mem")
    if r.returncode:
        return "parent dump failed: " + r.stderr[-500:]
    if not glob.glob(p + "/pages-*.1.img"):
        return "the parent has one pages file"
    time.sleep(0.3)
    r = dump({"CRIU_PAGES_FILES": "1"}, pid, d, "--prev-images-dir", "../p", "--track-mem", "--auto-dedup")
    if r.returncode:
        return "dump failed: " + r.stderr[-500:]
    if not any(e.get("in_prev") for e in pagemap(d, pid)[1:]):
        return "no pages taken from the parent"
    second = glob.glob(p + "/pages-*.1.img")[0]
    st = os.stat(second)
    if st.st_blocks * 512 >= st.st_size:
        return "--auto-dedup punched nothing in the parent's second file"
    return restore_ok(d, pid)


def one_file():
    pid = start()
    d = work + "/one"
    r = dump({"CRIU_PAGES_FILES": "1"}, pid, d)
    if r.returncode:
        return "dump failed: " + r.stderr[-500:]
    if glob.glob(d + "/pages-*.1.img") or "nr_files" in pagemap(d, pid)[0]:
        return "a second file"
    return restore_ok(d, pid)


try:
    for n, f in [("two_files", two_files), ("damaged_second", damaged_second), ("missing_second", missing_second),
                 ("chain_parent", chain_parent), ("one_file", one_file)]:
        case(n, f)
finally:
    for p in pids:
        kill(p)
    shutil.rmtree(work, ignore_errors=True)
print("pages_files: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
