#!/usr/bin/env python3
"""A tree made as `runuser -u nobody -- unshare -Upmnui --map-root-user
--mount-proc` makes it: user, pid, mount, net, ipc and uts namespaces of its
own, its mount namespace a copy of criu's (not pivoted into a root of its
own, unlike zdtm's uns flavor), setgroups "deny", the user's supplementary
group kept. criu's namespace (a private one this script makes) has a tmpfs
covered by another, so the tree's copy has it covered by a locked mount,
and a tmpfs on a directory of root's the tree's root can't search (mode
0700, as tracefs on /sys/kernel/debug where debugfs is mounted).

Dumped and restored (-d) as root, from a cwd the tree's root can't search
(as from root's home), then checked: the tree runs, its mounts
are those it had (mountpoint, root, type, source), its hostname and groups
are back, and its shell still reads the file it holds open on its own tmpfs
when asked. Prints "userns_unshare: N passed, M failed". Run as root.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CRIU = os.environ.get("CRIU", os.path.join(TOP, "build", "criu", "criu"))

# the tree's init: its own tmpfs, a file held open, answers "go" with the file's text
TREE = r'''
mount -t tmpfs ct "$1/ct" || exit 1
echo hello > "$1/ct/f"
hostname uns1
exec 3< "$1/ct/f"
echo ready > "$1/ct/ready"
while :; do
    if [ -e "$1/ct/go" ]; then rm "$1/ct/go"; cat <&3 > "$1/ct/out"; fi
    sleep 0.1
done
'''

results = []


def check(name, ok, why=""):
    results.append(ok)
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, "" if ok else ": " + why), flush=True)
    return ok


def mounts(pid):
    """(mountpoint, root, type, source) of each mount of pid's namespace, sorted."""
    out = []
    with open("/proc/%d/mountinfo" % pid) as f:
        for line in f:
            a = line.split()
            sep = a.index("-")
            out.append((a[4], a[3], a[sep + 1], a[sep + 2]))
    return sorted(out)


def status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split(":", 1)[1].strip()
    return None


def wait_for(path, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path):
            return True
        time.sleep(0.05)
    return False


def ns_init(launcher):
    """The pid of the tree's init: launcher's descendant that is 1 in its pid namespace."""
    end = time.time() + 10
    while time.time() < end:
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                ns = status(int(p), "NSpid")
                ppid = int(status(int(p), "PPid"))
            except (OSError, TypeError, ValueError):
                continue
            if ns and ns.split()[-1] == "1" and len(ns.split()) > 1 and ppid == launcher:
                return int(p)
        time.sleep(0.05)
    return None


def kill(pid):
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def inner():
    # other tests' mounts under /tmp (dirs the tree's root can't search) go from our namespace
    with open("/proc/self/mountinfo") as f:
        points = [ln.split()[4] for ln in f]
    for mp in sorted((p for p in points if p.startswith("/tmp/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)
    tmp = tempfile.mkdtemp(prefix="criu-userns-")
    launcher = init = restored = None
    try:
        os.chmod(tmp, 0o755)
        # criu's namespace: a tmpfs covered by another
        cov = os.path.join(tmp, "cov")
        os.mkdir(cov)
        subprocess.run(["mount", "-t", "tmpfs", "under", cov], check=True)
        with open(os.path.join(cov, "under"), "w") as f:
            f.write("under\n")
        subprocess.run(["mount", "-t", "tmpfs", "over", cov], check=True)
        # a mount on a directory the tree's root can't search (root's, mode 0700), as tracefs on
        # debugfs's /sys/kernel/debug: the restore's walk to its mountpoint was refused (EACCES)
        closed = os.path.join(tmp, "closed")
        os.mkdir(closed)
        os.chmod(closed, 0o700)
        os.mkdir(os.path.join(closed, "inner"))
        subprocess.run(["mount", "-t", "tmpfs", "inner", os.path.join(closed, "inner")], check=True)
        os.mkdir(os.path.join(tmp, "ct"))
        os.chmod(os.path.join(tmp, "ct"), 0o777)
        imgs = os.path.join(tmp, "img")
        os.mkdir(imgs)
        log = open(os.path.join(tmp, "tree.log"), "wb")
        launcher = subprocess.Popen(
            ["runuser", "-u", "nobody", "--", "unshare", "-Upmnui", "--map-root-user", "--fork",
             "--mount-proc", "--propagation", "private", "sh", "-c", TREE, "tree", tmp],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            close_fds=True).pid
        # runuser forks unshare, which forks the init
        end = time.time() + 10
        init = None
        while not init and time.time() < end:
            for p in os.listdir("/proc"):
                if p.isdigit():
                    try:
                        if int(status(int(p), "PPid")) == launcher:
                            init = ns_init(int(p))
                            break
                    except (OSError, TypeError, ValueError):
                        pass
            time.sleep(0.05)
        ctdir = "/proc/%d/root%s/ct" % (init or 0, tmp)
        if not check("start", init is not None and wait_for(ctdir + "/ready"), "the tree did not start"):
            return
        before = mounts(init)
        groups = status(init, "Groups")
        r = subprocess.run([CRIU, "dump", "-t", str(init), "-D", imgs, "-o", "dump.log", "-v4", "--shell-job"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if not check("dump", r.returncode == 0, r.stdout.decode(errors="replace")[-600:]):
            return
        init = None
        pidfile = os.path.join(tmp, "pid")
        # from a cwd the tree's root can't search, as from root's home (it failed:
        # "can't open our mount namespace: Permission denied")
        priv = os.path.join(tmp, "private")
        os.mkdir(priv, 0o700)
        r = subprocess.run([CRIU, "restore", "-D", imgs, "-o", "restore.log", "-v4", "--shell-job", "-d",
                            "--allow-changed-files", "--pidfile", pidfile],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=priv)
        if not check("restore", r.returncode == 0, r.stdout.decode(errors="replace")[-600:]):
            return
        with open(pidfile) as f:
            restored = int(f.read())
        after = mounts(restored)
        check("mounts", before == after, "before %s, after %s" %
              (sorted(set(before) - set(after)), sorted(set(after) - set(before))))
        check("groups", status(restored, "Groups") == groups,
              "%r, not %r" % (status(restored, "Groups"), groups))
        h = subprocess.run(["nsenter", "-u", "-t", str(restored), "hostname"], stdout=subprocess.PIPE)
        check("hostname", h.stdout.decode().strip() == "uns1", h.stdout.decode())
        ctdir = "/proc/%d/root%s/ct" % (restored, tmp)
        # as the tree's root: criu's uid has no mapping in the tree's tmpfs
        subprocess.run(["nsenter", "-a", "-t", str(restored), "touch", tmp + "/ct/go"])
        ok = wait_for(ctdir + "/out") and not wait_for(ctdir + "/go", 0) and time.sleep(0.3) is None
        text = open(ctdir + "/out").read() if ok else ""
        check("works", text == "hello\n", "the restored shell answered %r" % text)
    finally:
        kill(init)
        kill(restored)
        if launcher:
            kill(launcher)
            try:
                os.waitpid(launcher, 0)
            except ChildProcessError:
                pass
        subprocess.run(["umount", "-l", os.path.join(tmp, "cov")], stderr=subprocess.DEVNULL)
        subprocess.run(["umount", "-l", os.path.join(tmp, "cov")], stderr=subprocess.DEVNULL)
        subprocess.run(["umount", "-l", os.path.join(tmp, "closed", "inner")], stderr=subprocess.DEVNULL)
        if not os.environ.get("KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        n = len(results)
        p = sum(1 for r in results if r)
        print("userns_unshare: %d passed, %d failed" % (p, n - p), flush=True)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--inner":
        inner()
        return 0 if results and all(results) else 1
    # criu and the tree in a private mount namespace of ours: nothing reaches the host's
    return subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable,
                           os.path.abspath(__file__), "--inner"]).returncode


if __name__ == "__main__":
    sys.exit(main())
