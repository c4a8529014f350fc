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
  lazy_two         a two-file dump restored with --lazy-pages: the restore
                   gathers none of the lazy areas' pages (it copied all
                   of the second file's before it started), the daemon
                   reads both files, memhog checks every page.
  default_two      without CRIU_PAGES_FILES, a dump of 64 MiB writes two
                   files; of 16 MiB, one.
  pre_two          a pre-dump (--track-mem) forced to two files writes both
                   (nr_files 2, entries of both, `criu show` checks them),
                   the task writes on, a one-file dump --prev-images-dir
                   --auto-dedup on top takes pages from it, punched the
                   pre-dump's second file, and restores.
  pre_chain        pre-dump in two files, pre-dump in one on top, dump in
                   two on top of that: restore through the three levels.
  pre_lazy         a two-file pre-dump, a dump on top, restored with
                   --lazy-pages: the daemon serves the pre-dump's pages from
                   both of its files, memhog checks every page.
  pre_full         a two-file pre-dump of 64 MiB into a 40 MiB tmpfs: it
                   fails, names the full disk, leaves no pages file of
                   either kind, and memhog runs on unharmed.
  pre_default      without CRIU_PAGES_FILES a pre-dump of 64 MiB writes two
                   files (a dump on top restores); of 16 MiB, one.
  exact_size       dumps of 64 MiB in two files and in one: each pages file
                   ends where its last entry's pages end (the dump sets
                   their sizes ahead while it splices, and cuts them back).
  hash_faults      where the kernel maps a large folio of a file's page
                   cache whole on one fault (Linux 6.18 does when the file
                   goes on past it; probed first, else skipped): the
                   checksums of a 64 MiB dump cost criu under one page
                   fault per 128 KiB of pages more than a dump without
                   them (CRIU_CSUM_OFF=1): one per 64 KiB (the
                   fault-around) before the sizes were set ahead.

Run as root: python3 test/others/pages_files.py
"""
import glob, json, os, re, resource, signal, subprocess, sys, time

from hoglib import CRIU, HogSuite, alive, kill  # noqa: F401 (the cases use them)

S = HogSuite("pages_files", 16, "CRIU_PAGES_FILES")
work, start, criu, dump, restore_ok = S.work, S.start, S.criu, S.dump, S.restore_ok


def pagemap(d, pid):
    r = criu({}, "show", "%s/pagemap-%d.img" % (d, pid))
    return json.loads(r.stdout)["entries"]


def refused(d, pid, name):
    r = criu({}, "restore", "-d", "-D", d, "-o", "restore.log")
    if r.returncode == 0 or alive(pid):
        return "restored"
    if name not in r.stderr:
        return "refused without naming %s: %s" % (name, r.stderr[-300:])
    return None


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


def lazy_two():
    pid, d, second, why = two_file_dump("lazy")
    if why:
        return why
    r, w = os.pipe()
    lz = subprocess.Popen([CRIU, "lazy-pages", "-D", d, "-o", "lazy-pages.log", "-v4", "--status-fd", str(w)],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          pass_fds=(w,))
    os.close(w)
    try:
        with os.fdopen(r, "rb") as rf:
            if not rf.read(1):
                return "criu lazy-pages did not start"
        res = criu({}, "restore", "-d", "-D", d, "-o", "restore.log", "-v4", "--lazy-pages")
        if res.returncode or not alive(pid):
            return "lazy restore failed: " + res.stderr[-500:]
        S.pids.append(pid)
        lz.wait(timeout=60)
        if lz.returncode:
            return "criu lazy-pages exited %d" % lz.returncode
    finally:
        if lz.poll() is None:
            lz.kill()
            lz.wait()
    rlog = open(d + "/restore.log").read()
    m = re.search(r"(\d+) KiB of pages gathered", rlog)
    if m and int(m.group(1)) > 1024:
        return "the restore gathered %s KiB of pages (the lazy areas' are the daemon's)" % m.group(1)
    llog = open(d + "/lazy-pages.log").read()
    if "(gathered)" in llog or os.path.basename(second) not in llog:
        return "the daemon did not read %s itself: %s" % (os.path.basename(second),
                                                          [x for x in llog.splitlines() if "ranges of" in x])
    os.kill(pid, signal.SIGTERM)
    for _ in range(200):
        if not alive(pid):
            break
        time.sleep(0.05)
    out = open(os.path.join(work, "hog.out")).read()
    return None if "OK" in out else "memhog says: %r" % out


def default_two():
    S.mib = 64
    try:
        pid = start()
    finally:
        S.mib = 16
    d = work + "/def64"
    r = dump({}, pid, d)
    if r.returncode:
        return "dump failed: " + r.stderr[-500:]
    if not glob.glob(d + "/pages-*.1.img") or pagemap(d, pid)[0].get("nr_files") != 2:
        return "64 MiB in one pages file"
    why = restore_ok(d, pid)
    if why:
        return why
    pid = start()
    d = work + "/def16"
    r = dump({}, pid, d)
    if r.returncode:
        return "dump failed: " + r.stderr[-500:]
    if glob.glob(d + "/pages-*.1.img"):
        return "16 MiB in two pages files"
    return restore_ok(d, pid)


def predump(env, pid, d, *extra):
    os.makedirs(d)
    return criu(env, "pre-dump", "-t", str(pid), "-D", d, "-o", "pre-dump.log", "--track-mem", *extra)


def has_two(d, pid):
    """None if the images in d are in two pages files, with entries in both."""
    if not glob.glob(d + "/pages-*.1.img"):
        return "%s: one pages file: %s" % (os.path.basename(d), sorted(os.listdir(d)))
    pm = pagemap(d, pid)
    if pm[0].get("nr_files") != 2:
        return "%s: nr_files %r" % (os.path.basename(d), pm[0].get("nr_files"))
    files = set(e.get("file", 0) for e in pm[1:] if "csum" in e)
    if files != {0, 1}:
        return "%s: entries in files %s" % (os.path.basename(d), files)
    return None


def pre_two():
    pid = start({"MEMHOG_WRITE_MIBPS": "64"})
    p, d = work + "/pre2", work + "/pre2c"
    r = predump({"CRIU_PAGES_FILES": "2"}, pid, p)
    if r.returncode:
        return "pre-dump failed: " + r.stderr[-500:]
    why = has_two(p, pid)
    if why:
        return why
    for f in glob.glob(p + "/pages-*.img"):
        r = criu({}, "show", f)
        if r.returncode or "checked_with" not in r.stdout:
            return "show %s: %s" % (f, r.stdout[-300:] + r.stderr[-300:])
    time.sleep(0.3)
    r = dump({"CRIU_PAGES_FILES": "1"}, pid, d, "--prev-images-dir", "../pre2", "--track-mem", "--auto-dedup")
    if r.returncode:
        return "dump failed: " + r.stderr[-500:]
    if not any(e.get("in_prev") for e in pagemap(d, pid)[1:]):
        return "no pages taken from the pre-dump"
    second = glob.glob(p + "/pages-*.1.img")[0]
    st = os.stat(second)
    if st.st_blocks * 512 >= st.st_size:
        return "--auto-dedup punched nothing in the pre-dump's second file"
    return restore_ok(d, pid)


def pre_chain():
    pid = start({"MEMHOG_WRITE_MIBPS": "16"})
    a, b, c = work + "/ca", work + "/cb", work + "/cc"
    r = predump({"CRIU_PAGES_FILES": "2"}, pid, a)
    if r.returncode:
        return "first pre-dump failed: " + r.stderr[-500:]
    why = has_two(a, pid)
    if why:
        return why
    time.sleep(0.3)
    r = predump({"CRIU_PAGES_FILES": "1"}, pid, b, "--prev-images-dir", "../ca")
    if r.returncode:
        return "second pre-dump failed: " + r.stderr[-500:]
    if glob.glob(b + "/pages-*.1.img"):
        return "CRIU_PAGES_FILES=1 pre-dump in two files"
    time.sleep(0.3)
    r = dump({"CRIU_PAGES_FILES": "2"}, pid, c, "--prev-images-dir", "../cb", "--track-mem")
    if r.returncode:
        return "dump failed: " + r.stderr[-500:]
    return restore_ok(c, pid)


def pre_lazy():
    pid = start()
    p, d = work + "/lzp", work + "/lzd"
    r = predump({"CRIU_PAGES_FILES": "2"}, pid, p)
    if r.returncode:
        return "pre-dump failed: " + r.stderr[-500:]
    why = has_two(p, pid)
    if why:
        return why
    r = dump({}, pid, d, "--prev-images-dir", "../lzp", "--track-mem")
    if r.returncode:
        return "dump failed: " + r.stderr[-500:]
    r, w = os.pipe()
    lz = subprocess.Popen([CRIU, "lazy-pages", "-D", d, "-o", "lazy-pages.log", "-v4", "--status-fd", str(w)],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          pass_fds=(w,))
    os.close(w)
    try:
        with os.fdopen(r, "rb") as rf:
            if not rf.read(1):
                return "criu lazy-pages did not start"
        res = criu({}, "restore", "-d", "-D", d, "-o", "restore.log", "-v4", "--lazy-pages")
        if res.returncode or not alive(pid):
            return "lazy restore failed: " + res.stderr[-500:]
        S.pids.append(pid)
        lz.wait(timeout=60)
        if lz.returncode:
            return "criu lazy-pages exited %d" % lz.returncode
    finally:
        if lz.poll() is None:
            lz.kill()
            lz.wait()
    # the restore leaves the lazy areas to the daemon, which gathers them from the chain (both files)
    m = re.search(r"(\d+) KiB of pages gathered \(from a chain of 2", open(d + "/restore.log").read())
    if not m or int(m.group(1)) > 1024:
        return "the restore gathered %s KiB of pages" % (m.group(1) if m else "?")
    m = re.search(r"(\d+) KiB of pages gathered \(from a chain of 2", open(d + "/lazy-pages.log").read())
    if not m or int(m.group(1)) < S.mib * 1024:
        return "the daemon did not take the pages from the chain (%s KiB)" % (m.group(1) if m else "none")
    os.kill(pid, signal.SIGTERM)
    for _ in range(200):
        if not alive(pid):
            break
        time.sleep(0.05)
    out = open(os.path.join(work, "hog.out")).read()
    return None if "OK" in out else "memhog says: %r" % out


def pre_full():
    S.mib = 64
    try:
        pid = start()
    finally:
        S.mib = 16
    m = work + "/full"
    os.makedirs(m)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "pages-files-full", m], capture_output=True,
                       text=True)
    if r.returncode:
        return "setup: tmpfs: " + r.stderr
    try:
        r = predump({"CRIU_PAGES_FILES": "2"}, pid, m + "/p")
        if r.returncode == 0:
            return "a pre-dump of 64 MiB into 40 MiB succeeded"
        if "No space left" not in r.stderr + open(m + "/p/pre-dump.log").read():
            return "the failure does not name the full disk: " + r.stderr[-300:]
        left = [f for f in os.listdir(m + "/p") if f.startswith("pages-") or f.startswith("pagemap-")]
        if left:
            return "the failed pre-dump left %s" % left
    finally:
        subprocess.run(["umount", m])
    if not alive(pid):
        return "memhog is gone"
    os.kill(pid, signal.SIGTERM)
    S.procs[pid].wait()
    out = open(os.path.join(work, "hog.out")).read()
    return None if "OK" in out else "memhog says: %r" % out


def pre_default():
    S.mib = 64
    try:
        pid = start()
    finally:
        S.mib = 16
    p, d = work + "/pdef64", work + "/pdef64c"
    r = predump({}, pid, p)
    if r.returncode:
        return "pre-dump failed: " + r.stderr[-500:]
    why = has_two(p, pid)
    if why:
        return "64 MiB: " + why
    r = dump({}, pid, d, "--prev-images-dir", "../pdef64", "--track-mem")
    if r.returncode:
        return "dump failed: " + r.stderr[-500:]
    why = restore_ok(d, pid)
    if why:
        return why
    pid = start()
    p = work + "/pdef16"
    r = predump({}, pid, p)
    if r.returncode:
        return "pre-dump failed: " + r.stderr[-500:]
    if glob.glob(p + "/pages-*.1.img"):
        return "a pre-dump of 16 MiB in two pages files"
    return None


def data_ends(d, pid):
    """Where each pages file's data ends, by the pagemap."""
    ends = {}
    for e in pagemap(d, pid)[1:]:
        if "csum" in e and "off" in e:
            f = e.get("file", 0)
            ends[f] = max(ends.get(f, 0), e["off"] + e["nr_pages"] * 4096)
    return ends


def exact_size():
    S.mib = 64
    try:
        for files in ("2", "1"):
            pid = start()
            d = work + "/exact" + files
            r = dump({"CRIU_PAGES_FILES": files}, pid, d, "-R")
            if r.returncode:
                return "dump failed: " + r.stderr[-500:]
            ends = data_ends(d, pid)
            names = sorted(glob.glob(d + "/pages-*.img"))
            if len(names) != int(files) or len(ends) != int(files):
                return "%s files: %s, entries in %s" % (files, names, sorted(ends))
            for f, n in enumerate(names if files == "1" else [names[1], names[0]]):
                if os.path.getsize(n) != ends[f]:
                    return "%s: %d bytes, its data ends at %d" % (n, os.path.getsize(n), ends[f])
            kill(pid)
    finally:
        S.mib = 16
    return None


def whole_folio_faults():
    """Faults to read 4 MiB of a file written 256 KiB at a time, the file going on past it."""
    import mmap
    p = work + "/probe"
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        for i in range(17):
            os.pwrite(fd, os.urandom(256 << 10), i << 18)
        m = mmap.mmap(fd, 4 << 20, mmap.MAP_SHARED, mmap.PROT_READ)
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        sum(m[i] for i in range(0, 4 << 20, 4096))
        f1 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        m.close()
        return f1 - f0
    finally:
        os.close(fd)
        os.unlink(p)


def dump_faults(env, pid, d):
    """A dump -R's page faults (criu's minor faults, its threads' included)."""
    os.makedirs(d)
    e = dict(os.environ)
    e.pop("CRIU_PAGES_FILES", None)
    e.update(env)
    p = subprocess.Popen([CRIU, "dump", "-R", "-t", str(pid), "-D", d, "-o", "dump.log"], env=e,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    return ru.ru_minflt if status == 0 else None


def hash_faults():
    n = whole_folio_faults()
    if n >= 32:
        print("  (skipped: this kernel took %d faults to map 4 MiB of 256 KiB folios)" % n)
        return None
    S.mib = 64
    try:
        pid = start()
    finally:
        S.mib = 16
    on, off = [], []
    for i in range(3):
        on.append(dump_faults({}, pid, "%s/hf-on%d" % (work, i)))
        off.append(dump_faults({"CRIU_CSUM_OFF": "1"}, pid, "%s/hf-off%d" % (work, i)))
    kill(pid)
    if None in on or None in off:
        return "a dump failed: faults %s, off %s" % (on, off)
    more = min(on) - min(off)
    # 64 MiB: 256 faults at one per 256 KiB piece, 1024 at one per 64 KiB
    print("  %d page faults more with the checksums (%s against %s)" % (more, on, off))
    if more > 512:
        return "the checksums took %d page faults more (%s against %s)" % (more, on, off)
    return None


CASES = [("two_files", two_files), ("damaged_second", damaged_second), ("missing_second", missing_second),
       ("chain_parent", chain_parent), ("one_file", one_file), ("lazy_two", lazy_two),
       ("default_two", default_two), ("pre_two", pre_two), ("pre_chain", pre_chain), ("pre_lazy", pre_lazy),
       ("pre_full", pre_full), ("pre_default", pre_default), ("exact_size", exact_size),
       ("hash_faults", hash_faults)]
# a case or a few by name: pages_files.py pre_two pre_lazy
S.run([c for c in CASES if len(sys.argv) < 2 or c[0] in sys.argv[1:]])
