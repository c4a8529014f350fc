#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""zdtm.py: run the zdtm checkpoint/restore tests against criu.

Each test is a small program (test/zdtm/static/NAME.c) that builds some
state, daemonizes, writes a pidfile and waits for SIGTERM; then it checks
its state and prints PASS or FAIL.  Between the pidfile and SIGTERM this
runner dumps the process with criu, restores it, and compares what
/proc shows about it before and after.  See test/zdtm/README.md.
"""

import argparse
import ctypes
import difflib
import glob
import json
import os
import random
import re
import select
import socket
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ZDTM_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(os.path.dirname(ZDTM_DIR))
STATIC_DIR = os.path.join(ZDTM_DIR, 'static')

NOBODY_UID = 65534
NOBODY_GID = 65534
DEFAULT_TIMEOUT = 120           # whole test, seconds
START_TIMEOUT = 60              # until the test reports it is ready
DUMP_EXIT_TIMEOUT = 10          # until a dumped task is gone
SETTLE_TIME = 3                 # for a task criu let go to look as before
STOP_TIMEOUT = 30               # from SIGTERM until the test exits
PR_SET_CHILD_SUBREAPER = 36

TEST_ENV = {
    'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'LANG': 'C',
}

DESC_KEYS = {
    'dump_fail': bool,          # the dump must fail, the task survive
    'log_match': list,          # regexes the failed dump's output must match
    'corrupt': str,             # 'truncate-pages': restore must fail; 'flip-page' (with lazy): the
                                # lazy-pages daemon finds it, and the tree dies
    'opts': list,               # extra options for dump and restore
    'dump_opts': list,          # extra options for dump only
    'restore_opts': list,       # extra options for restore only
    'root_only': bool,          # skip the --user nobody run
    'args': list,               # extra test arguments
    'env': dict,                # extra environment variables
    'timeout': int,             # per-test timeout instead of 120 s
    'skip': str,                # skip the test, the value is the reason
    'vdso_proxy': bool,         # restore through the vDSO proxy (--force-vdso-proxy)
    'leave_running': bool,      # dump with -R: the task must go on untouched, no restore
    'leave_first': bool,        # the first dump (of 'iters' >= 2) with -R, as leave_running; the next
                                # ones dump and restore (what a dump -R left behind must not matter)
    'imgdir_size': str,         # images dir on a tmpfs of this size (root only)
    'stopped': bool,            # SIGSTOP the task before the dump; it must come back stopped
    'ext_pipe': bool,           # the test holds the write end of the runner's pipe (fd in
                                # $ZDTM_EXT_FD): dumped --external, restored --inherit-fd; the
                                # runner must read a line "ext-pipe-ok" from it at the end
    'ext_unix_sk': bool,        # the runner binds a dgram unix socket at $ZDTM_EXT_SK (in the
                                # test dir) for the test to connect to; dump and restore get
                                # --ext-unix-sk; the runner must receive "ext-unix-sk-ok" at the end
    'new_inodes': bool,         # mapped files come back as new inodes (a tmpfs made anew): maps
                                # are compared without device and inode numbers
    'host_shared_mount': bool,  # the runner mounts a tmpfs at host-shared in the test dir, in its
                                # own mount namespace (criu's), makes it shared, and unmounts it
                                # at the end (root only)
    'cgroups': list,            # hierarchies the test gets a cgroup of its own in, below the
                                # runner's: v1 controllers ("cpu", "memory", "name=systemd", ...)
                                # and "v2" (on a private cgroup2 mount); its directory is in
                                # $ZDTM_CG_<NAME> (upper case, "name=x" as NAME_X); removed at the end
    'before_restore': str,      # a shell command run between dump and restore (with the test's
                                # environment); it must exit 0
    'restore_fail': bool,       # the restore must fail (log_match applies to it), leaving no task
    'tcp_peer': str,            # the runner is a TCP peer outside the tree (see TcpPeer): "ok" (no
                                # reset, no byte lost or doubled) or "reset" (it must see a reset)
    'iters': int,               # dump/restore at least this many times (more with --iters)
    'restore_delay_ms': int,    # wait this long between the dump and the restore
    'drop_net_lock': bool,      # remove the network lock the dump left (as on another host): the
                                # restore must take it again (its log says so) and remove it (in
                                # the ns flavors it goes with the tree's network namespace)
    'sysctl': dict,             # sysctls set before the test starts and put back after it
                                # (root only), e.g. {"net.ipv4.ping_group_range": "0 0"}
    'flavors': list,            # the flavors the test runs in (default: all of FLAVORS)
    'flavor_reason': str,       # why not in the others (one line, required with "flavors"; shown when skipped)
    'ns_root_task': bool,       # ns flavors: dump the test task, not the init of its namespaces
                                # (restore then makes a helper init to hold the pid namespace)
    'tools': list,              # programs the test runs (ip, nft, ...): installed (the ns flavors'
                                # root has the host's /usr)
    'netns_snapshot': bool,     # the test's network namespace (links, addresses, routes, rules,
                                # neighbours, netfilter, sysctls) must come back as it was
    'netns_setup': list,        # commands the runner runs in the test's network namespace once it
                                # is ready, before the dump (each a list: argv, then stdin text)
    'ext_veth': str,            # the runner makes a bridge $ZDTM_BRIDGE (address $ZDTM_BRIDGE_ADDR)
                                # and gives the test its network namespace's fd ($ZDTM_HOST_NETNS_FD)
                                # to put the peer $ZDTM_VETH_OUT of its veth eth0 on it: "ok"
                                # restores with --external veth[eth0]:OUT@BRIDGE, "missing" without
    'ext_macvlan': bool,        # the runner makes a device $ZDTM_MACVLAN_LOWER (and gives the host
                                # namespace's fd) for the test's macvlan mv0: --external macvlan[mv0]:LOWER
    'ext_ns': str,              # h flavor: the test runs in a namespace the runner made and keeps:
                                # "net" (dumped --external net[INO]:KEY, restored --inherit-fd),
                                # "net-join" (restored with --join-ns net:PATH) or "pid" (its pid
                                # namespace, whose init is the runner's: --external pid[INO]:KEY)
    'lazy': bool,               # restore through a lazy-pages daemon (as --lazy-pages does for all)
    'pre': int,                 # at least this many pre-dumps before each dump (see --pre)
    'no_pre': str,              # why --pre can't be used with it (a known gap): skipped then
    'no_snapshot': str,         # why --snapshot can't be used with it: skipped then
    'snapshot': bool,           # always dumped as --snapshot does for all
    'pre_lose_tracking': bool,  # kill the memory tracker the pre-dumps left: the dump is a full one
    'pre_untracked': bool,      # the pre-dumps without --track-mem (the dump makes a live round first)
    'dump_log_match': list,     # regexes the log of a successful dump must match
    'restore_log_match': list,  # regexes the log of a successful restore must match
    'sigblk_changes': bool,     # the test changes its blocked signals once restored: compared without SigBlk
}

# In opts, dump_opts, restore_opts and before_restore: {testdir} is the test's
# directory (as criu sees it), {testdir_ns} the same as the test sees it (in
# the ns flavors /test: mountpoints of the tree's namespace), {cg:NAME} the path of the test's cgroup NAME (see 'cgroups') in the
# file system and {cgpath:NAME} its path within its hierarchy.

# h: the test runs on the host, in criu's namespaces; ns: it runs as pid 1's
# child in new pid, mount, net, ipc, uts and time namespaces, pivoted into a
# root made of its directory (see Run.make_root()); uns: ns plus a user
# namespace (ids 0-65535 inside are 100000-165535 outside).
FLAVORS = ('h', 'ns', 'uns')
USERNS_BASE = 100000

CORRUPTIONS = ('flip-page', 'truncate-pages', 'remove-parent', 'truncate-parent-pages', 'relink-parent')

# /proc/PID/status fields compared before and after C/R
STATUS_FIELDS = ('TracerPid', 'Uid', 'Gid', 'Groups', 'SigPnd', 'ShdPnd', 'SigBlk',
                 'SigIgn', 'SigCgt', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd',
                 'CapAmb', 'NoNewPrivs', 'Seccomp', 'Seccomp_filters',
                 'Umask')

# /proc/PID/stat fields (1-based, as in proc(5)) compared as well
STAT_FIELDS = ((5, 'pgrp'), (6, 'session'), (7, 'tty_nr'), (19, 'nice'),
               (26, 'startcode'), (27, 'endcode'), (28, 'startstack'),
               (38, 'exit_signal'), (40, 'rt_priority'), (41, 'policy'),
               (45, 'start_data'), (46, 'end_data'), (47, 'start_brk'),
               (48, 'arg_start'), (49, 'arg_end'), (50, 'env_start'),
               (51, 'env_end'))

verbose = False


class TestFail(Exception):
    pass


class TestSkip(Exception):
    pass


def log(msg):
    if verbose:
        print('  ' + msg, file=sys.stderr, flush=True)


def set_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, 'prctl(PR_SET_CHILD_SUBREAPER): ' +
                      os.strerror(err))


def read_bytes(path):
    with open(path, 'rb') as f:
        return f.read()


def read_text(path):
    return read_bytes(path).decode('utf-8', 'replace')


def tail(path, lines=40):
    try:
        data = read_text(path).splitlines()
    except OSError as e:
        return '    (%s: %s)' % (path, e.strerror)
    if not data:
        return '    ---- %s (empty) ----' % path
    head = '    ---- %s (last %d of %d lines) ----' % (
        path, min(lines, len(data)), len(data))
    return '\n'.join([head] + ['    ' + l for l in data[-lines:]])


# --------------------------------------------------------------------------
# processes

def proc_stat(pid):
    """Fields of /proc/PID/stat from field 3 on, or None if no such task."""
    try:
        data = read_bytes('/proc/%d/stat' % pid).decode('ascii', 'replace')
    except (FileNotFoundError, ProcessLookupError):
        return None
    return data[data.rindex(')') + 2:].split()


def alive(pid):
    st = proc_stat(pid)
    return st is not None and st[0] not in ('Z', 'X')


def all_threads_stopped(pid):
    try:
        for tid in os.listdir('/proc/%d/task' % pid):
            st = read_text('/proc/%d/task/%s/stat' % (pid, tid))
            if st[st.rindex(')') + 2] != 'T':
                return False
    except OSError:
        return False
    return True


def check_running(pid, what, stopped=False):
    """The task must exist and not be left stopped or traced (or be stopped, if it was)."""
    deadline = time.monotonic() + 2
    while True:
        st = proc_stat(pid)
        if st is None or st[0] in ('Z', 'X'):
            raise TestFail('task %d is dead %s' % (pid, what))
        if stopped and st[0] == 'T' and all_threads_stopped(pid):
            return
        if stopped and time.monotonic() >= deadline:
            raise TestFail('task %d is not stopped (state %s) %s' % (pid, st[0], what))
        if not stopped and st[0] not in ('T', 't'):
            return
        if time.monotonic() >= deadline:
            raise TestFail('task %d is left stopped (state %s) %s' %
                           (pid, st[0], what))
        time.sleep(0.05)


def stat_field(st, n):
    return st[n - 3]


def my_children():
    """Tasks whose parent is this runner (a subreaper: all leftovers)."""
    me = str(os.getpid())
    res = []
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        st = proc_stat(int(d))
        if st and stat_field(st, 4) == me:
            res.append(int(d))
    return res


def reap(pid, timeout):
    """Wait for pid to exit.  Returns (gone, wait status or None)."""
    deadline = time.monotonic() + timeout
    ours = True
    while True:
        if ours:
            try:
                wpid, status = os.waitpid(pid, os.WNOHANG)
                if wpid == pid:
                    return True, status
            except ChildProcessError:
                ours = False
        if not ours and not alive(pid):
            return True, None
        if time.monotonic() >= deadline:
            return False, None
        time.sleep(0.02)


def tree_pids(pid):
    """pid and all its descendants, from /proc/PID/task/TID/children."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir('/proc/%d/task' % p):
                try:
                    kids = read_text('/proc/%d/task/%s/children' % (p, tid)).split()
                except OSError:
                    continue
                todo.extend(int(k) for k in kids)
        except OSError:
            pass
    return out


def reap_zombies():
    while True:
        try:
            wpid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if wpid == 0:
            return


def kill_leftovers(test_pid):
    """SIGKILL the test task (if it is ours) and every task below us.

    Whole trees go at once: killing only our children would let their
    children re-parent to us (a subreaper) after the kill and live on.
    Repeat until nothing is left below us.
    """
    me = str(os.getpid())
    deadline = time.monotonic() + 10
    while True:
        victims = set(my_children())
        st = proc_stat(test_pid) if test_pid else None
        if st and stat_field(st, 4) == me and st[0] != 'Z':
            victims.add(test_pid)
        live = [p for p in victims if (proc_stat(p) or 'Z')[0] != 'Z']
        for pid in victims:
            for p in tree_pids(pid):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for pid in victims:
            reap(pid, 1)
        reap_zombies()
        if not live or time.monotonic() >= deadline:
            return


def net_locks(pid, since=None):
    """The network locks criu left for a dump of pid: nftables tables, iptables chains.
    With @since, only those made from then on (their names end in the time made, in hex):
    one left by a run before, for another process that had this pid, is not this test's."""
    found = []
    prefix = 'CRIU-%d-' % pid
    for cmd, rx in ((['nft', 'list', 'tables'], r'^table inet (CRIU-\S+)'),
                    (['iptables', '-w', '-S'], r'^-N (CRIU-\S+)'),
                    (['ip6tables', '-w', '-S'], r'^-N (CRIU-\S+)')):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True).stdout
        except OSError:
            continue
        for m in re.finditer(rx, out, re.MULTILINE):
            if not m.group(1).startswith(prefix):
                continue
            try:
                made = int(m.group(1)[len(prefix):], 16)
            except ValueError:
                made = None
            if since is not None and made is not None and made < int(since) - 1:
                continue
            found.append((cmd[0], m.group(1)))
    return found


def in_netns(pid, cmd, stdin=None):
    """Run cmd in the network namespace of pid (from the runner's mount namespace): (rc, output)."""
    p = subprocess.run(['nsenter', '--net=/proc/%d/ns/net' % pid] + cmd, input=stdin,
                       capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def netns_locks(pid):
    """The network locks (CRIU-*) in the network namespace of pid."""
    out = in_netns(pid, ['nft', 'list', 'tables'])[1] + in_netns(pid, ['iptables', '-w', '-S'])[1]
    return sorted(set(re.findall(r'CRIU-[0-9a-f-]+', out)))


# what a network namespace's snapshot shows that changes by itself
NETNS_VOLATILE = [
    (r' (gc_timer|hello_timer|tcn_timer|topology_change_timer|forward_delay_timer|hold_timer|'
     r'message_age_timer) +[0-9.]+', ''),
    (r'(valid_lft|preferred_lft) [0-9]+sec', r'\1 Nsec'),
    (r' expires [0-9]+sec', ' expires Nsec'),
    (r'packets [0-9]+ bytes [0-9]+', 'packets N bytes N'),
    (r'\[[0-9]+:[0-9]+\]', '[N:N]'),
    (r' link-netnsid [0-9]+', ''),
    (r'@if[0-9]+:', '@ifN:'),
    (r'^#.*$', ''),
]
NETNS_SYSCTL_SKIP = re.compile(r'nf_conntrack_count|stable_secret|/route/flush|^net\.netfilter\.nf_log')


def netns_snapshot(pid):
    """The test's network namespace as the usual tools show it, normalized."""
    parts = []
    tuns = []
    for cmd, sort in ((['ip', '-d', 'link', 'show'], False), (['ip', 'addr', 'show'], False),
                      (['ip', '-4', 'route', 'show', 'table', 'all'], True),
                      (['ip', '-6', 'route', 'show', 'table', 'all'], True),
                      (['ip', '-4', 'rule'], False), (['ip', '-6', 'rule'], False),
                      (['ip', 'neigh', 'show', 'nud', 'permanent'], True),
                      (['ip', 'neigh', 'show', 'proxy'], True),
                      (['bridge', 'fdb', 'show', 'static'], True),
                      (['nft', 'list', 'ruleset'], False),
                      (['iptables-save'], False), (['ip6tables-save'], False),
                      (['iptables-legacy-save'], False), (['ip6tables-legacy-save'], False)):
        rc, out = in_netns(pid, cmd)
        for rx, sub in NETNS_VOLATILE:
            out = re.sub(rx, sub, out, flags=re.MULTILINE)
        if cmd[:2] == ['ip', '-d']:
            tuns = re.findall(r'^[0-9]+: ([^:@ ]+)[:@].*\n.*\n +tun type ', out, flags=re.MULTILINE)
        for name in tuns:
            # a tun device's state is UNKNOWN until its carrier first changes: the restore's does
            # (the device is made before the fds attach), then it is UP (see Documentation/network-namespace.md)
            out = re.sub(r'^([0-9]+: %s: .*) state UNKNOWN ' % re.escape(name), r'\1 state UP ', out, flags=re.MULTILINE)
        lines = [l.rstrip() for l in out.splitlines() if l.strip() and 'CRIU-' not in l]
        if sort:
            lines.sort()
        parts.append('$ %s (%d)' % (' '.join(cmd), rc))
        parts += lines
    rc, out = in_netns(pid, ['sysctl', '-a', '-r', r'^net\.'])
    parts += sorted(l for l in out.splitlines() if not NETNS_SYSCTL_SKIP.search(l.split(' =')[0].replace('.', '/')))
    return parts


def drop_net_locks(pid):
    # and the tables tests make themselves (zdtm-PID)
    subprocess.run(['nft', 'delete', 'table', 'inet', 'zdtm-%d' % pid],
                   stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    for tool, name in net_locks(pid):
        if tool == 'nft':
            subprocess.run(['nft', 'delete', 'table', 'inet', name], stderr=subprocess.DEVNULL)
        else:
            for chain in ('INPUT', 'OUTPUT'):
                subprocess.run([tool, '-w', '-D', chain, '-j', name], stderr=subprocess.DEVNULL)
            subprocess.run([tool, '-w', '-F', name], stderr=subprocess.DEVNULL)
            subprocess.run([tool, '-w', '-X', name], stderr=subprocess.DEVNULL)


def stream_bytes(seed, off, n):
    """Bytes off..off+n of pattern stream seed (zdtm_stream_byte() in lib/zdtmnet.h)."""
    M = (1 << 64) - 1
    out = bytearray()
    i = off
    while i < off + n:
        z = (seed + (i // 8 + 1) * 0x9e3779b97f4a7c15) & M
        z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
        z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
        z ^= z >> 31
        word = z.to_bytes(8, 'little')
        j = i % 8
        take = min(8 - j, off + n - i)
        out += word[j:j + take]
        i += take
    return bytes(out)


class TcpPeer:
    """A TCP peer outside the dumped tree: a thread of the runner.

    It listens on 127.0.0.1 ($ZDTM_TCP_PEER is the port, $ZDTM_TCP_SEED the
    seed), takes one connection, sends pattern stream seed+1 in pieces every
    few milliseconds and checks that what comes in is stream seed, byte for
    byte, until the test shuts its side (then it shuts its own). Whatever
    goes wrong (a reset, a wrong byte) is kept in self.error.
    """

    def __init__(self, addr='127.0.0.1'):
        self.lsk = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsk.bind((addr, 0))
        self.lsk.listen(1)
        self.port = self.lsk.getsockname()[1]
        self.seed = int.from_bytes(os.urandom(7), 'little')
        self.got = self.sent = 0
        self.error = None
        self.eof = False
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        sk = None
        try:
            self.lsk.settimeout(60)
            sk, _ = self.lsk.accept()
            sk.setblocking(False)
            # every piece goes out at once: some reach the tree while it is away
            sk.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            out_open = True
            while not self.done.is_set():
                r, _, _ = select.select([sk], [], [], 0.005)
                if r:
                    data = sk.recv(65536)
                    if not data:
                        self.eof = True
                        sk.shutdown(socket.SHUT_WR)
                        break
                    want = stream_bytes(self.seed, self.got, len(data))
                    if data != want:
                        bad = next(i for i in range(len(data)) if data[i] != want[i])
                        self.error = 'a wrong byte at offset %d of what the test sent' % (self.got + bad)
                        break
                    self.got += len(data)
                if out_open:
                    try:
                        self.sent += sk.send(stream_bytes(self.seed + 1, self.sent, 512))
                    except BlockingIOError:
                        pass
        except OSError as e:
            self.error = 'the peer outside the tree: %s' % e
        finally:
            if sk:
                sk.close()
            self.lsk.close()

    def check(self, mode, timeout):
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.done.set()
            raise TestFail('the TCP peer did not see the connection end (got %d bytes, sent %d)'
                           % (self.got, self.sent))
        log('tcp peer: got %d bytes, sent %d, error %s' % (self.got, self.sent, self.error))
        if mode == 'reset':
            if not self.error or ('reset' not in self.error and 'Broken pipe' not in self.error):
                raise TestFail('the TCP peer saw no reset (%s)' % (self.error or 'clean end'))
            return
        if self.error:
            raise TestFail(self.error)
        if not self.eof or not self.got:
            raise TestFail('the TCP peer got %d bytes and no end' % self.got)

    def close(self):
        self.done.set()
        self.thread.join(5)


def clean_signals():
    """In the test's child: default dispositions, nothing blocked."""
    for sig in range(1, signal.NSIG):
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def describe_status(status):
    if status is None:
        return 'unknown status (not our child)'
    if os.WIFEXITED(status):
        return 'exit code %d' % os.WEXITSTATUS(status)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return 'killed by %s' % name
    return 'status %#x' % status


# --------------------------------------------------------------------------
# /proc snapshots

_ID_RE = re.compile(r'^([A-Za-z_]+):\[(\d+)\]$')


# VmFlags that say something about an area a program can observe or rely on
VMFLAGS = set('rd wr ex sh mr mw me ms gd pf dc de dd wf hg nh mg lo io sr rr ht ui um uw sl'.split())
_VMA_RE = re.compile(r'^[0-9a-f]+-[0-9a-f]+ ')


def read_vmas(pid):
    """(maps line, relevant VmFlags) for each area, from /proc/PID/smaps."""
    vmas = []
    for l in read_text('/proc/%d/smaps' % pid).splitlines():
        if _VMA_RE.match(l):
            vmas.append([l, ''])
        elif l.startswith('VmFlags:') and vmas:
            vmas[-1][1] = ' '.join(sorted(f for f in l[8:].split() if f in VMFLAGS))
    return vmas


_SHMEM_NAMES = ('/dev/zero (deleted)', '/memfd:')


_TMPFILE_RE = re.compile(r'^(.*/)#(\d+) \(deleted\)$')


def renumber_shmem(vmas):
    """A restored shared memory object is a new object: which areas share one
    matters, not its inode number. So is an unlinked file made again, and
    the socket whose rings an area maps."""
    ids = {}
    out = []
    for l, flags in vmas:
        f = l.split(None, 5)
        if len(f) > 5 and (any(f[5].startswith(n) for n in _SHMEM_NAMES) or f[5].endswith(' (deleted)')):
            ids.setdefault(f[4], len(ids) + 1)
            name = _TMPFILE_RE.sub(r'\1#tmpfile (deleted)', f[5])
            l = ' '.join(f[:4] + ['#%d' % ids[f[4]], name])
        elif len(f) > 5 and f[5].startswith('socket:['):
            # a packet ring: the restored socket's, a new inode
            ids.setdefault(f[4], len(ids) + 1)
            l = ' '.join(f[:4] + ['#%d' % ids[f[4]], 'socket:[#%d]' % ids[f[4]]])
        out.append([l, flags])
    return out


def merge_maps(vmas):
    """Merge adjacent areas that differ only in where the kernel split them.

    Whether two neighbouring areas with the same protection, flags, file
    and contiguous offsets are one VMA or two depends on their history
    (e.g. anon_vma chains inherited across fork), which a restore cannot
    and need not reproduce.
    """
    out = []
    prev = None
    for l, flags in vmas:
        f = l.split(None, 5)
        if len(f) < 5:
            if prev:
                out.append(prev)
            out.append(l)
            prev = None
            continue
        start, end = (int(x, 16) for x in f[0].split('-'))
        cur = [start, end, f[1], int(f[2], 16), f[3], f[4], f[5] if len(f) > 5 else '', flags]
        if (prev and prev[1] == start and prev[2] == cur[2] and prev[4] == cur[4] and
                prev[5] == cur[5] and prev[6] == cur[6] and prev[7] == cur[7] and
                (cur[5] == '0' or prev[3] + (prev[1] - prev[0]) == cur[3])):
            prev[1] = end
            continue
        if prev:
            out.append(prev)
        prev = cur
    if prev:
        out.append(prev)
    return ['%x-%x %s %08x %s %s %s [%s]' % tuple(p) if isinstance(p, list) else p
            for p in out]


_VDSO_NAMES = ('[vvar]', '[vvar_vclock]', '[vdso]')


def drop_vdso(before, after):
    """For a restore through the vDSO proxy: the vDSO is elsewhere by design."""
    spans = []
    for l in before:
        if l.startswith('maps: ') and any(n in l for n in _VDSO_NAMES):
            a, b = l.split()[1].split('-')
            spans.append((int(a, 16), int(b, 16)))

    def keep(l):
        if not l.startswith('maps: '):
            return True
        if any(n in l for n in _VDSO_NAMES):
            return False
        a, b = (int(x, 16) for x in l.split()[1].split('-'))
        return not any(a < e and s < b for s, e in spans)
    # after a restore through the proxy the proxy itself is an anonymous r-xp
    # area where a vDSO was; a later dump and proxied restore moves it again
    def anon_rx(l):
        f = l.split(None, 6)
        return (l.startswith('maps: ') and len(f) == 7 and f[2] == 'r-xp' and f[5] == '0' and
                f[6].count('[') == 1)
    proxies = set(l.split()[1] for l in before if anon_rx(l))

    def keep_after(l):
        return not anon_rx(l) and keep(l)
    return ([l for l in before if keep(l) and (not l.startswith('maps: ') or l.split()[1] not in proxies)],
            [l for l in after if keep_after(l)])


def snapshot(pid, nsview=False):
    """What /proc shows about a task, as a list of comparable lines.

    With nsview, process group and session are as the task's pid
    namespace sees them (its host pids change with a restore).

    Inode numbers of pipes/sockets are replaced by their order of first
    appearance: a restored pipe is a new pipe, but which descriptors
    share one must not change.
    """
    lines = []
    base = '/proc/%d' % pid
    try:
        for l in merge_maps(renumber_shmem(read_vmas(pid))):
            lines.append('maps: ' + l)

        ids = {}
        for fd in sorted(os.listdir(base + '/fd'), key=int):
            try:
                target = os.readlink('%s/fd/%s' % (base, fd))
                info = read_text('%s/fdinfo/%s' % (base, fd))
            except FileNotFoundError:
                continue
            m = _ID_RE.match(target)
            if m:
                key = (m.group(1), m.group(2))
                ids.setdefault(key, len(ids) + 1)
                target = '%s:[#%d]' % (m.group(1), ids[key])
            m = _TMPFILE_RE.match(target)
            if m:
                # an O_TMPFILE file's name is its inode number: a new one
                key = ('tmpfile', m.group(2))
                ids.setdefault(key, len(ids) + 1)
                target = '%s#tmpfile%d (deleted)' % (m.group(1), ids[key])
            extra = []
            for il in info.splitlines():
                k, _, v = il.partition(':')
                if k == 'flags' and int(v, 8) & 0o20200000 == 0o20200000:
                    # O_TMPFILE stays only on the description open() made;
                    # the file comes back as a plain open of the same file
                    v = '0%o' % (int(v, 8) & ~0o20200000)
                if k == 'flags' and target.endswith(' (deleted)'):
                    # an unlinked file is opened again through /proc, which
                    # O_NOFOLLOW (shm_open() gives it) would refuse: it is
                    # dropped, as it has no effect once the file is open
                    v = '0%o' % (int(v, 8) & ~0o400000)
                if k == 'pos' and target.endswith('/net/tun'):
                    # a tun fd's is the length of its last read (tun sets it): no seek sets it back
                    continue
                if k in ('pos', 'flags'):
                    extra.append('%s=%s' % (k, v.strip()))
            lines.append('fd %s: %s %s' % (fd, target, ' '.join(extra)))

        status = {}
        for l in read_text(base + '/status').splitlines():
            k, _, v = l.partition(':')
            status[k] = ' '.join(v.split())
        in_flight(status)
        for k in STATUS_FIELDS:
            if k in status:
                lines.append('status %s: %s' % (k, status[k]))

        # every thread: its tid, name and per-thread signal state (in the order of
        # the tids shown: with nsview those inside, which keep their order)
        thread_lines = []
        for tid in sorted(os.listdir(base + '/task'), key=int):
            if int(tid) == pid:
                continue
            try:
                comm = read_text('%s/task/%s/comm' % (base, tid)).strip()
                tst = {}
                for l in read_text('%s/task/%s/status' % (base, tid)).splitlines():
                    k, _, v = l.partition(':')
                    tst[k] = ' '.join(v.split())
            except FileNotFoundError:
                continue
            in_flight(tst)
            shown = tid if not nsview else tst.get('NSpid', '?').split()[-1]
            thread_lines.append((int(shown) if shown.isdigit() else 0, 'thread %s: %s SigPnd=%s SigCgt=%s Cap=%s' % (
                shown, comm, tst.get('SigPnd'), tst.get('SigCgt'), tst.get('CapEff'))))
        lines += [l for _, l in sorted(thread_lines)]

        st = proc_stat(pid)
        if st is None:
            raise FileNotFoundError(base + '/stat')
        for n, name in STAT_FIELDS:
            v = stat_field(st, n)
            if nsview and name in ('pgrp', 'session'):
                key = 'NSpgid' if name == 'pgrp' else 'NSsid'
                v = status.get(key, '?').split()[-1] if status.get(key) else v
            lines.append('stat %s: %s' % (name, v))

        lines.append('cmdline: %r' % read_bytes(base + '/cmdline'))
        lines.append('comm: %r' % read_bytes(base + '/comm'))
    except (FileNotFoundError, ProcessLookupError):
        raise TestFail('task %d vanished while reading /proc' % pid)
    return lines


def in_flight(status):
    """Leave out of SigPnd/ShdPnd the signals that are pending but not blocked.

    A running task takes such a signal as soon as it runs again: it is on
    its way (say, a timer's signal raised while the task waited for a CPU),
    not state that stays. A stopped task keeps them pending: kept then.
    """
    if status.get('State', 'R')[:1] in ('T', 't'):
        return
    try:
        blk = int(status.get('SigBlk', '0'), 16)
        for k in ('SigPnd', 'ShdPnd'):
            if k in status:
                status[k] = '%016x' % (int(status[k], 16) & blk)
    except ValueError:
        pass


def drop_inodes(lines, prefix=''):
    """maps lines (of files below @prefix) without their device and inode columns."""
    out = []
    for l in lines:
        if l.startswith('maps: '):
            f = l.split(' ')
            if len(f) > 6 and f[6].startswith(prefix):
                f[4] = f[5] = '-'
            l = ' '.join(f)
        out.append(l)
    return out


def drop_sigblk(lines):
    return [l for l in lines if not l.startswith('status SigBlk:')]


def steady_snapshot(pid, deadline, nsview=False):
    """The task's snapshot once two in a row 20 ms apart agree (SETTLE_TIME at most).

    Taken from a running task, one snapshot may catch a passing state (say,
    a signal handler running with its signal blocked).
    """
    end = min(time.monotonic() + SETTLE_TIME, deadline)
    last = snapshot(pid, nsview)
    while time.monotonic() < end:
        time.sleep(0.02)
        now = snapshot(pid, nsview)
        if now == last:
            break
        last = now
    return last


def settled_snapshot(pid, before, what, deadline, fix=None, nsview=False):
    """Compare the task with @before until it matches or the time is up.

    A task just restored or left running by criu needs a moment to get back
    into what it was doing (say, re-enter sigsuspend() with its temporary
    mask): compared at once, then every 20 ms, for SETTLE_TIME at most.
    @fix maps (before, after) to what is compared.
    """
    end = min(time.monotonic() + SETTLE_TIME, deadline)
    while True:
        b, a = before, snapshot(pid, nsview)
        if fix:
            b, a = fix(b, a)
        if b == a or time.monotonic() >= end:
            compare_snapshots(b, a, what)
            return
        time.sleep(0.02)


def compare_snapshots(before, after, what):
    if before == after:
        return
    diff = difflib.unified_diff(before, after, 'before', what,
                                lineterm='', n=2)
    raise TestFail('/proc state differs %s:\n%s' % (
        what, '\n'.join('    ' + l for l in diff)))


def pick_steps(total, n, rnd):
    """@n of the steps 1..@total, one in each of @n equal stretches (all of them if fewer)."""
    if n >= total:
        return list(range(1, total + 1))
    stride = total / n
    return sorted({min(total, 1 + int(i * stride + rnd.random() * stride)) for i in range(n)})


def world(ours=()):
    """What criu may leave behind outside a tree: mount points, its files in /tmp,
    cgroups named for it, network lock tables (files under the test's work
    directory are listed apart, by Run.files())."""
    w = set()
    for l in read_text('/proc/self/mountinfo').splitlines():
        mp = l.split()[4]
        # other runs on the machine mount and unmount elsewhere (/tmp/zdtm-*, /run/netns, containers)
        if any(mp.startswith(s) for s in ours) or 'criu' in mp.lower():
            w.add('mount ' + mp)
    for d in os.listdir('/tmp'):
        # the suites' own scratch directories (cli_errors.py, rpc_test.py) are not criu's
        if 'criu' in d.lower() and not re.match(r'(cirun|criu-[a-z]+[.-])', d):
            w.add('/tmp/' + d)
    for top in ('/sys/fs/cgroup',):
        for d, subs, _ in os.walk(top):
            if d.count('/') > 6:
                subs[:] = []
            w.update('cgroup ' + os.path.join(d, n) for n in subs if 'criu' in n.lower())
    try:
        out = subprocess.run(['nft', 'list', 'tables'], capture_output=True, text=True).stdout
        w.update('nft ' + t for t in re.findall(r'(CRIU-\S+)', out))
    except OSError:
        pass
    return w


def files_below(top, skip=()):
    """Every path below @top but those under @skip (directories the caller fills)."""
    out = set()
    for d, subs, names in os.walk(top):
        subs[:] = [n for n in subs if os.path.join(d, n) not in skip]
        out.update(os.path.join(d, n) for n in subs + names)
    return out


# --------------------------------------------------------------------------
# test descriptions

def list_tests():
    """Every NAME.c, and every NAME.desc of a variant (a program built from another test's source)."""
    return sorted(set(os.path.basename(p).rsplit('.', 1)[0]
                      for p in glob.glob(os.path.join(STATIC_DIR, '*.c')) +
                      glob.glob(os.path.join(STATIC_DIR, '*.desc'))))


def load_desc(name):
    path = os.path.join(STATIC_DIR, name + '.desc')
    if not os.path.exists(path):
        return {}
    try:
        with open(path) as f:
            desc = json.load(f)
    except (OSError, ValueError) as e:
        raise TestFail('bad %s: %s' % (path, e))
    if not isinstance(desc, dict):
        raise TestFail('bad %s: not a JSON object' % path)
    for k, v in desc.items():
        if k not in DESC_KEYS:
            raise TestFail('bad %s: unknown key "%s"' % (path, k))
        if not isinstance(v, DESC_KEYS[k]):
            raise TestFail('bad %s: "%s" must be a %s' %
                           (path, k, DESC_KEYS[k].__name__))
    if desc.get('corrupt') and desc['corrupt'] not in CORRUPTIONS:
        raise TestFail('bad %s: unknown corruption "%s"' %
                       (path, desc['corrupt']))
    if any(f not in FLAVORS for f in desc.get('flavors', [])):
        raise TestFail('bad %s: "flavors" must hold some of %s' % (path, ', '.join(FLAVORS)))
    if set(desc.get('flavors', FLAVORS)) != set(FLAVORS) and not desc.get('flavor_reason'):
        raise TestFail('bad %s: "flavors" leaves some out without a "flavor_reason"' % path)
    for k in ('opts', 'dump_opts', 'restore_opts', 'args', 'log_match', 'cgroups', 'flavors', 'dump_log_match',
              'restore_log_match'):
        if not all(isinstance(x, str) for x in desc.get(k, [])):
            raise TestFail('bad %s: "%s" must hold strings' % (path, k))
    return desc


def check_nobody_access(path):
    """Every directory on the way must be searchable by 'others'."""
    d = os.path.dirname(path)
    while True:
        if not os.stat(d).st_mode & 0o001:
            raise TestFail('%s is not accessible to nobody (%s lacks o+x)'
                           % (path, d))
        if d == '/':
            break
        d = os.path.dirname(d)
    if not os.stat(path).st_mode & 0o001:
        raise TestFail('%s is not executable by nobody' % path)


# --------------------------------------------------------------------------
# cgroups for tests ('cgroups' in the desc)

def cg_env_name(name):
    return 'ZDTM_CG_' + re.sub(r'[^A-Z0-9]', '_', name.upper())


def own_cgroups():
    """{controllers: path} of the runner, from /proc/self/cgroup ('' is cgroup2)."""
    out = {}
    for l in read_text('/proc/self/cgroup').splitlines():
        hid, ctrls, path = l.split(':', 2)
        out[ctrls] = path
    return out


def cg_mount_of(name):
    """Where v1 hierarchy NAME is mounted with its root, and its controller list."""
    for l in read_text('/proc/self/mountinfo').splitlines():
        pre, _, post = l.partition(' - ')
        f, g = pre.split(), post.split()
        if len(g) < 3 or g[0] != 'cgroup' or f[3] != '/':
            continue
        if name in g[2].split(','):
            return f[4]
    raise TestFail('cgroup hierarchy %s is not mounted here' % name)


def cg_thaw_kill_remove(top, v2):
    """Thaw and empty the cgroup subtree at TOP (deepest first), then remove it."""
    if not os.path.isdir(top):
        return
    dirs = [d for d, _, _ in os.walk(top)]
    for d in dirs:
        try:
            with open(os.path.join(d, 'cgroup.freeze' if v2 else 'freezer.state'), 'w') as f:
                f.write('0' if v2 else 'THAWED')
        except OSError:
            pass
    for _ in range(100):
        busy = False
        for d in reversed(dirs):
            try:
                for p in read_text(os.path.join(d, 'cgroup.procs')).split():
                    busy = True
                    try:
                        os.kill(int(p), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            except OSError:
                pass
        reap_zombies()
        for d in reversed(dirs):
            try:
                os.rmdir(d)
            except OSError:
                busy = True
        if not busy or not os.path.isdir(top):
            return
        time.sleep(0.05)
    print('    zdtm: could not remove cgroup %s' % top, file=sys.stderr)


# --------------------------------------------------------------------------
# one test run

def read_children(pid):
    try:
        return [int(x) for x in read_text('/proc/%d/task/%d/children' % (pid, pid)).split()]
    except OSError:
        return []


def nspid(pid):
    """The pid of a task in its own pid namespace (the last of NSpid)."""
    for l in read_text('/proc/%d/status' % pid).splitlines():
        if l.startswith('NSpid:'):
            return int(l.split()[-1])
    return pid


class Run:
    def __init__(self, name, user, opts, flavor='h'):
        self.name = name
        self.user = user
        self.opts = opts
        self.flavor = flavor
        self.nsview = flavor != 'h'
        self.pid = None         # the dump's root: the test, or the init of its namespaces
        self.tpid = None        # the test task (host pid)
        self.vpid = None        # the test task's pid in its pid namespace
        self.workdir = None
        self.logs = []          # files worth showing on failure
        self.mounts = []        # tmpfs images dirs to unmount
        self.tree_pids = []     # the test's process tree at dump time
        self.deadline = None
        self.timeout = DEFAULT_TIMEOUT
        self.pid_done = False
        self.ext = None         # (read end, write end, inode) with ext_pipe
        self.ext_sk = None      # the runner's bound dgram socket with ext_unix_sk
        self.ext_ns = None      # (kind, path of the namespace, key) with ext_ns
        self.pass_fds = ()      # more fds for criu (an external namespace's)
        self.lazy_dump_p = None  # --remote-lazy-pages: the dump serving the memory
        self.lazy_srv_p = None   # --lazy-images: criu page-server --lazy-pages serving the images
        self.lazy_port = 0
        self.binds = []         # ns flavors: host paths bound read-only into the root
        self.root_inside = False  # the dump's root is a task inside a pid namespace, not its init
        self.tcp_peer = None    # TcpPeer with tcp_peer
        self.ext_links = None   # host ends made for ext_veth / ext_macvlan
        self.host_netns_fd = -1
        self.netns_before = None  # netns_snapshot() with netns_snapshot
        self.sysctls = {}       # name: value to put back
        self.desc = {}
        self.cgroups = {}       # name: (file system path, path in its hierarchy, v2)
        self.cg2_mount = None   # the private cgroup2 mount
        self.env = dict(TEST_ENV)

    def subst(self, opts):
        """{testdir}, {cg:NAME} and {cgpath:NAME} in options (see DESC_KEYS)."""
        testdir = self.testdir_inside   # the host's path (in the ns flavors, inside the root)
        out = []
        for o in opts:
            o = o.replace('{testdir_ns}', self.testdir_view).replace('{testdir}', testdir)
            for name, (fs, path, _) in self.cgroups.items():
                o = o.replace('{cg:%s}' % name, fs).replace('{cgpath:%s}' % name, path)
            out.append(o)
        return out

    def make_cgroups(self, names, env):
        """A cgroup of the test's own below the runner's, in each hierarchy asked for."""
        mine = own_cgroups()
        leaf = 'zdtm.%s.%s.%d' % (self.name, self.user, os.getpid())
        for name in names:
            if name == 'v2':
                mnt = os.path.join(self.workdir, 'cgroup2')
                os.mkdir(mnt)
                subprocess.run(['mount', '-t', 'cgroup2', 'zdtm-cgroup2', mnt], check=True)
                self.cg2_mount = mnt
                base = mine.get('', '/')
                v2 = True
            else:
                mnt = cg_mount_of(name)
                base = next((p for c, p in mine.items() if name in c.split(',')), None)
                if base is None:
                    raise TestFail('the runner is in no cgroup of hierarchy %s' % name)
                v2 = False
            path = os.path.join(base, leaf)
            fs = mnt + path
            os.mkdir(fs)
            self.cgroups[name] = (fs, path, v2)
            if name == 'cpuset':
                # a new cpuset has no cpus nor memory nodes: the parent's
                for k in ('cpuset.cpus', 'cpuset.mems'):
                    with open(os.path.join(fs, k), 'w') as f:
                        f.write(read_text(os.path.join(os.path.dirname(fs), k)).strip())
                # the test's own cpusets start empty, whatever the host set (LXC sets
                # clone_children at the root: children then take their parent's cpus)
                with open(os.path.join(fs, 'cgroup.clone_children'), 'w') as f:
                    f.write('0')
            env[cg_env_name(name)] = fs
            log('cgroup %s: %s' % (name, fs))

    def remove_cgroups(self):
        for name, (fs, _, v2) in self.cgroups.items():
            cg_thaw_kill_remove(fs, v2)
        if self.cg2_mount:
            subprocess.run(['umount', '-l', self.cg2_mount], stderr=subprocess.DEVNULL)

    def remaining(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TestFail('timed out (test timeout %d s)' % self.timeout)
        return left

    def out_path(self, imgdir, action):
        """criu's stdout and stderr: beside a sized images dir (imgdir_size), whose filling up
        must not cut the message that says so."""
        if self.desc.get('imgdir_size'):
            return imgdir + '.' + action + '.out'
        return os.path.join(imgdir, action + '.out')

    def criu(self, action, imgdir, extra):
        logname = action + '.log'
        out = self.out_path(imgdir, action)
        cmd = [self.opts.criu, action]
        if action in ('dump', 'pre-dump'):
            cmd += ['-t', str(self.pid)]
        cmd += ['-D', imgdir, '-o', logname, '-v4'] + extra + self.flavor_opts(action)
        self.logs += [out, os.path.join(imgdir, logname)]
        log('$ ' + ' '.join(cmd))
        with open(out, 'wb') as f:
            try:
                # with ext_pipe, criu gets the runner's write end (--inherit-fd)
                p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=f,
                                   stderr=subprocess.STDOUT,
                                   timeout=self.remaining(),
                                   pass_fds=((self.ext[1],) if self.ext else ()) + self.pass_fds)
            except subprocess.TimeoutExpired:
                raise TestFail('criu %s did not finish in time' % action)
        log('criu %s exited with %d' % (action, p.returncode))
        return p.returncode

    def remote_lazy(self, desc):
        """--remote-lazy-pages for this dump: not for dumps that must fail, go on running or whose own
        desc asks for a chain (--pre N of the runner is fine: the lazy dump follows the pre-dumps)."""
        return self.opts.remote_lazy_pages and not any(desc.get(k) for k in (
            'dump_fail', 'leave_running', 'leave_first', 'corrupt', 'restore_fail', 'pre', 'snapshot')) and \
            not self.opts.snapshot

    def lazy_dump(self, imgdir, extra):
        """--remote-lazy-pages: dump --lazy-pages, serving on a free loopback port once the images are
        whole (its --status-fd). Its exit code if it failed before, else 0 (it serves on)."""
        with socket.socket() as sk:
            sk.bind(('127.0.0.1', 0))
            self.lazy_port = sk.getsockname()[1]
        r, w = os.pipe()
        cmd = [self.opts.criu, 'dump', '-t', str(self.pid), '-D', imgdir, '-o', 'dump.log', '-v4',
               '--lazy-pages', '--address', '127.0.0.1', '--port', str(self.lazy_port),
               '--status-fd', str(w)] + extra + self.flavor_opts('dump')
        out = self.out_path(imgdir, 'dump')
        self.logs += [out, os.path.join(imgdir, 'dump.log')]
        log('$ ' + ' '.join(cmd))
        with open(out, 'wb') as f:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                 pass_fds=(w,) + ((self.ext[1],) if self.ext else ()) + self.pass_fds)
        os.close(w)
        with os.fdopen(r, 'rb') as rf:
            ready = rf.read(1)
        if not ready:
            rc = p.wait()
            log('criu dump --lazy-pages exited with %d before serving' % rc)
            return rc or 1
        self.lazy_dump_p = p
        return 0

    def end_lazy_dump(self, orig_pid):
        """The lazy dump exits 0 once the daemon had every page, and kills the original tree."""
        p, self.lazy_dump_p = self.lazy_dump_p, None
        try:
            rc = p.wait(timeout=max(1, min(self.remaining(), 60)))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise TestFail('criu dump --lazy-pages did not end after serving')
        log('criu dump --lazy-pages exited with %d' % rc)
        if rc:
            raise TestFail('criu dump --lazy-pages failed with exit code %d' % rc)
        gone, status = reap(orig_pid, DUMP_EXIT_TIMEOUT)
        if not gone:
            raise TestFail('task %d is still alive after the lazy dump' % orig_pid)
        self.wait_tree_gone()
        log('dumped task %s' % describe_status(status))

    def wait_tree_gone(self):
        """The dumped tree's zombies and orphans come to us: their pids must be free."""
        deadline = time.monotonic() + DUMP_EXIT_TIMEOUT
        while time.monotonic() < deadline:
            reap_zombies()
            if not any(os.path.exists('/proc/%d' % p) for p in self.tree_pids):
                break
            time.sleep(0.02)

    def lazy_images_server(self, imgdir):
        """--lazy-images: the plain dump's images move to IMGDIR.src, served over a free loopback port
        by criu page-server --lazy-pages; IMGDIR is left empty: the daemon fetches the images into it (less the
        lazy pages, which it fetches as the tree needs them)."""
        src = imgdir.rstrip('/') + '.src'
        os.rename(imgdir, src)
        os.mkdir(imgdir)
        with socket.socket() as sk:
            sk.bind(('127.0.0.1', 0))
            self.lazy_port = sk.getsockname()[1]
        cmd = [self.opts.criu, 'page-server', '--lazy-pages', '-D', src, '-o', 'page-server.log', '-v4',
               '--address', '127.0.0.1', '--port', str(self.lazy_port)]
        self.lazy_srv_p = self.start_ready(cmd, src, 'page-server', 'criu page-server --lazy-pages')

    def start_ready(self, cmd, imgdir, name, what):
        """@cmd run with --status-fd, its output in @imgdir's @name.out and log @name.log; once it says it is
        ready, its Popen (TestFail if it ends first)."""
        r, w = os.pipe()
        cmd = cmd + ['--status-fd', str(w)]
        out = self.out_path(imgdir, name)
        self.logs += [out, os.path.join(imgdir, name + '.log')]
        log('$ ' + ' '.join(cmd))
        with open(out, 'wb') as f:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, pass_fds=(w,))
        os.close(w)
        with os.fdopen(r, 'rb') as rf:
            ready = rf.read(1)
        if not ready:
            p.wait()
            raise TestFail('%s failed to start (%d)' % (what, p.returncode))
        return p

    def end_lazy_images_server(self, ok):
        """The server exits 0 once the daemon had every page."""
        p, self.lazy_srv_p = self.lazy_srv_p, None
        try:
            rc = p.wait(timeout=max(1, min(self.remaining(), 60)) if ok else 5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            if ok:
                raise TestFail('criu page-server --lazy-pages did not end after serving')
            return
        log('criu page-server --lazy-pages exited with %d' % rc)
        if ok and rc:
            raise TestFail('criu page-server --lazy-pages failed with exit code %d' % rc)

    def start_lazy(self, imgdir):
        """--lazy-pages: a lazy-pages daemon for the restore, listening once it returns."""
        cmd = [self.opts.criu, 'lazy-pages', '-D', imgdir, '-o', 'lazy-pages.log', '-v4']
        if self.lazy_dump_p or self.lazy_srv_p:
            cmd += ['--page-server', '--address', '127.0.0.1', '--port', str(self.lazy_port)]
        return self.start_ready(cmd, imgdir, 'lazy-pages', 'criu lazy-pages')

    def end_lazy(self, p, imgdir, ok, wait=10):
        """The daemon exits once every page is in (0), or the restore failed (1). Its exit code."""
        try:
            rc = p.wait(timeout=max(1, min(self.remaining(), 120)) if ok else wait)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            if ok:
                raise TestFail('criu lazy-pages did not finish in time')
            return None
        log('criu lazy-pages exited with %d' % rc)
        if ok and rc != 0:
            raise TestFail('criu lazy-pages failed with exit code %d' % rc)
        return rc

    def flavor_opts(self, action):
        """The ns flavors' /dev is a tmpfs of the runner's (an external mount)."""
        if self.flavor == 'h':
            return []
        if action in ('dump', 'pre-dump'):
            return ['--external', 'mnt[/dev]:zdtm_dev']
        return ['--external', 'mnt[zdtm_dev]:' + os.path.join(self.workdir, 'dev')]

    def tools_etc(self, root):
        """What the desc's tools read from /etc and /run (a copy: the root has its own /etc):
        the protocol names, iproute2's tables, the alternatives their commands link through."""
        etc = os.path.join(root, 'etc')
        os.makedirs(etc, exist_ok=True)
        os.makedirs(os.path.join(root, 'run'), exist_ok=True)
        for n in ('protocols', 'services', 'ethertypes'):
            if os.path.exists('/etc/' + n):
                shutil.copy2('/etc/' + n, etc)
        if os.path.isdir('/etc/iproute2'):
            shutil.copytree('/etc/iproute2', os.path.join(etc, 'iproute2'), dirs_exist_ok=True)
        for t in self.desc['tools']:
            p = shutil.which(t, path=TEST_ENV['PATH'])
            while p and os.path.islink(p):
                target = os.path.join(os.path.dirname(p), os.readlink(p))
                if p.startswith('/etc/') and not os.path.lexists(root + p):
                    os.makedirs(os.path.dirname(root + p), exist_ok=True)
                    os.symlink(os.readlink(p), root + p)
                p = os.path.normpath(target)

    def make_root(self, binary):
        """The ns flavors' root, made of the test's directory as a runtime makes a container's:
        /test (the test's directory, its cwd), /usr and the build directory (bound read-only
        by zdtm_ns_init at the same paths; the host's top-level links into usr mirrored),
        /dev (a tmpfs of the runner's: an external mount), /proc, /sys (read-only), /tmp. Returns the root,
        the paths to bind and the test binary's path inside."""
        root = os.path.join(self.workdir, 'root')
        for d in ('dev', 'proc', 'sys', 'test', 'tmp', 'usr'):
            os.makedirs(os.path.join(root, d))
        os.chmod(os.path.join(root, 'tmp'), 0o1777)
        for n in os.listdir('/'):
            link = os.path.join('/', n)
            if os.path.islink(link) and os.readlink(link).startswith('usr/'):
                os.symlink(os.readlink(link), os.path.join(root, n))
        binds = ['/usr']
        build = os.path.realpath(self.opts.build)
        if os.path.realpath(binary).startswith(build + '/'):
            binds.append(build)
            os.makedirs(root + build)
            inside = os.path.realpath(binary)
        else:
            # a copy, when nobody can't reach the build: in the root
            inside = '/zdtm/' + self.name
            os.makedirs(root + '/zdtm')
            shutil.copy2(binary, root + inside)
        if self.desc.get('tools'):
            self.tools_etc(root)
        # stdio of the init and the test's launcher, inside the root
        log = os.path.join(root, 'launcher.out')
        open(log, 'w').close()
        os.chmod(log, 0o666)
        self.logs.append(log)
        dev = os.path.join(self.workdir, 'dev')
        os.mkdir(dev)
        subprocess.run(['mount', '-t', 'tmpfs', '-o', 'mode=755,size=1m', 'zdtm-dev', dev], check=True)
        self.mounts.append(dev)
        for n, (ma, mi) in (('null', (1, 3)), ('zero', (1, 5)), ('full', (1, 7)), ('random', (1, 8)),
                            ('urandom', (1, 9)), ('tty', (5, 0))):
            os.mknod(os.path.join(dev, n), 0o666 | 0o020000, os.makedev(ma, mi))
            os.chmod(os.path.join(dev, n), 0o666)
        # /dev/net/tun, as runtimes give it to a container that asks
        os.mkdir(os.path.join(dev, 'net'))
        os.mknod(os.path.join(dev, 'net', 'tun'), 0o666 | 0o020000, os.makedev(10, 200))
        os.chmod(os.path.join(dev, 'net', 'tun'), 0o666)
        # mountpoints of the init's devpts instance and shm tmpfs
        for d in ('pts', 'shm'):
            os.mkdir(os.path.join(dev, d))
        for n, to in (('ptmx', 'pts/ptmx'), ('fd', '/proc/self/fd'), ('stdin', '/proc/self/fd/0'),
                      ('stdout', '/proc/self/fd/1'), ('stderr', '/proc/self/fd/2')):
            os.symlink(to, os.path.join(dev, n))
        return root, binds, inside

    def start_ns(self, cmd, env, launcher_log, pass_fds=()):
        """Start the test under zdtm_ns_init; the dump's root is that init."""
        init = os.path.join(self.opts.build, 'test', 'zdtm', 'zdtm_ns_init')
        info = os.path.join(self.workdir, 'ns-init.info')
        pre = [init, '--info', info]
        if self.flavor == 'uns':
            pre.append('--user')
        if self.user == 'nobody':
            pre += ['--uid', str(NOBODY_UID), '--gid', str(NOBODY_GID)]
        pre += ['--root', os.path.join(self.workdir, 'root'), '--dev', os.path.join(self.workdir, 'dev'),
                '--log', '/launcher.out', '--cwd', '/test']
        for b in self.binds:
            pre += ['--bind', b]
        log('$ ' + ' '.join(pre + ['--'] + cmd))
        with open(launcher_log, 'wb') as f:
            p = subprocess.Popen(pre + ['--'] + cmd, cwd=self.testdir_inside, env=env,
                                 stdin=subprocess.DEVNULL, stdout=f,
                                 stderr=subprocess.STDOUT, preexec_fn=clean_signals, pass_fds=pass_fds)
        return p

    def make_ext_links(self, desc, env):
        """Host ends for the test's links to the outside: a bridge (ext_veth), a lower device (ext_macvlan)."""
        n = os.getpid() % 100000
        sub = '10.%d.%d' % ((n >> 8) & 255, n & 255)
        self.ext_links = {'bridge': 'zbr%d' % n, 'out': 'zvo%d' % n, 'lower': 'zml%d' % n,
                          'lower_peer': 'zmp%d' % n}
        for name in self.ext_links.values():
            subprocess.run(['ip', 'link', 'del', name], stderr=subprocess.DEVNULL)
        cmds = []
        if desc.get('ext_veth'):
            cmds += [['ip', 'link', 'add', self.ext_links['bridge'], 'type', 'bridge', 'forward_delay', '0'],
                     ['ip', 'addr', 'add', sub + '.1/24', 'dev', self.ext_links['bridge']],
                     ['ip', 'link', 'set', self.ext_links['bridge'], 'up']]
            env.update(ZDTM_BRIDGE=self.ext_links['bridge'], ZDTM_BRIDGE_ADDR=sub + '.1',
                       ZDTM_VETH_ADDR=sub + '.2', ZDTM_VETH_OUT=self.ext_links['out'])
        if desc.get('ext_macvlan'):
            cmds += [['ip', 'link', 'add', self.ext_links['lower'], 'type', 'veth', 'peer', 'name',
                      self.ext_links['lower_peer']],
                     ['ip', 'link', 'set', self.ext_links['lower'], 'up'],
                     ['ip', 'link', 'set', self.ext_links['lower_peer'], 'up']]
            env['ZDTM_MACVLAN_LOWER'] = self.ext_links['lower']
        for c in cmds:
            log('$ ' + ' '.join(c))
            subprocess.run(c, check=True)
        fd = os.open('/proc/self/ns/net', os.O_RDONLY)
        self.host_netns_fd = fd
        env['ZDTM_HOST_NETNS_FD'] = str(fd)
        return fd

    def ext_links_opts(self):
        opts = []
        if self.desc.get('ext_veth') == 'ok':
            opts += ['--external', 'veth[eth0]:%s@%s' % (self.ext_links['out'], self.ext_links['bridge'])]
        if self.desc.get('ext_macvlan'):
            opts += ['--external', 'macvlan[mv0]:%s' % self.ext_links['lower']]
        return opts

    def make_ext_ns(self, kind):
        """A namespace of the runner's for the test to run in; the preexec_fn that enters it."""
        libc = ctypes.CDLL(None, use_errno=True)
        if kind in ('net', 'net-join'):
            path = os.path.join(self.workdir, 'netns')
            open(path, 'w').close()
            subprocess.run(['unshare', '--net=' + path, 'true'], check=True)
            self.mounts.append(path)
            flag = 0x40000000          # CLONE_NEWNET
        elif kind == 'pid':
            # a pid namespace whose init (zdtm_ns_init) reaps whoever it adopts
            init = os.path.join(self.opts.build, 'test', 'zdtm', 'zdtm_ns_init')
            info = os.path.join(self.workdir, 'holder.info')
            subprocess.run([init, '--info', info, '--', '/bin/sh', '-c', 'sleep 3600 & exit 0'],
                           check=True, stdin=subprocess.DEVNULL)
            path = '/proc/%d/ns/pid' % int(read_text(info).strip())
            flag = 0x20000000          # CLONE_NEWPID: the test's fork (its daemon) goes there
        else:
            raise TestFail('bad ext_ns "%s"' % kind)
        self.ext_ns = (kind, path, 'zdtm_%sns' % kind.split('-')[0])

        def enter():
            clean_signals()
            fd = os.open(path, os.O_RDONLY)
            if libc.setns(fd, flag) != 0:
                os._exit(99)
            os.close(fd)
        return enter

    def ext_ns_opts(self):
        """(dump options, restore options, fds criu must get) for ext_ns."""
        kind, path, key = self.ext_ns
        ino = os.stat(path).st_ino
        if kind == 'net-join':
            return [], ['--join-ns', 'net:' + path], ()
        fd = os.open(path, os.O_RDONLY)
        self.ext_ns_fd = fd
        return (['--external', '%s[%d]:%s' % (kind, ino, key)],
                ['--inherit-fd', 'fd[%d]:%s' % (fd, key)], (fd,))

    def find_test_task(self):
        """The init's child whose pid in the namespace the pidfile names."""
        kids = read_children(self.pid)
        for k in kids:
            if nspid(k) == self.vpid:
                return k
        raise TestFail('no child of the namespaces\' init %d is the test (pid %d inside; children %s)'
                       % (self.pid, self.vpid, kids))

    def start(self, desc):
        self.started = time.time()
        binary = os.path.join(self.opts.build, 'test', 'zdtm', 'static',
                              self.name)
        if not os.access(binary, os.X_OK):
            raise TestFail('no test binary %s (not built?)' % binary)

        testdir = os.path.join(self.workdir, 'test')
        os.mkdir(testdir)
        self.testdir_inside = testdir
        kw = {}
        if self.flavor == 'uns':
            # root inside is uid 100000 outside (sticky: criu trusts no images under a dir others may change)
            os.chmod(self.workdir, 0o1777)
            os.chmod(testdir, 0o777)
            try:
                check_nobody_access(binary)
            except TestFail:
                copy = os.path.join(self.workdir, self.name)
                shutil.copy2(binary, copy)
                os.chmod(copy, 0o755)
                binary = copy
        if self.user == 'nobody':
            # sticky: nobody may write here, but not move the images (root's) away;
            # restore refuses images under a directory others could change
            os.chmod(self.workdir, 0o1777)
            os.chmod(testdir, 0o777)
            try:
                check_nobody_access(binary)
            except TestFail:
                # the build lies where nobody can't go (a 0700 clone dir):
                # run a copy from the test's own directory
                copy = os.path.join(self.workdir, self.name)
                shutil.copy2(binary, copy)
                os.chmod(copy, 0o755)
                binary = copy
            kw = dict(user=NOBODY_UID, group=NOBODY_GID, extra_groups=[])

        inside_dir = testdir
        self.testdir_view = testdir
        if self.flavor != 'h':
            root, self.binds, binary = self.make_root(binary)
            testdir = os.path.join(root, 'test')
            os.chmod(testdir, 0o777)
            inside_dir = '/test'
            self.testdir_inside = testdir
            self.testdir_view = inside_dir
        self.pidfile = os.path.join(testdir, self.name + '.pid')
        self.outfile = os.path.join(testdir, self.name + '.out')
        self.logs.append(self.outfile)
        launcher_log = os.path.join(self.workdir, 'launcher.out')
        self.logs.append(launcher_log)

        for name, value in desc.get('sysctl', {}).items():
            path = '/proc/sys/' + name.replace('.', '/')
            self.sysctls[path] = read_text(path).strip()
            with open(path, 'w') as f:
                f.write(str(value))
        env = dict(TEST_ENV)
        env['ZDTM_FLAVOR'] = self.flavor
        env.update({str(k): str(v) for k, v in desc.get('env', {}).items()})
        if desc.get('cgroups'):
            self.make_cgroups(desc['cgroups'], env)
        self.env = env
        for t in desc.get('tools', []):
            if not shutil.which(t, path=TEST_ENV['PATH']):
                raise TestFail('tool %s is not installed' % t)
        if desc.get('ext_pipe'):
            r, w = os.pipe()
            self.ext = (r, w, os.fstat(w).st_ino)
            env['ZDTM_EXT_FD'] = str(w)
            kw['pass_fds'] = (w,)
        if desc.get('host_shared_mount'):
            path = os.path.join(testdir, 'host-shared')
            os.mkdir(path)
            subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'zdtm-shared', path], check=True)
            self.mounts.append(path)
            subprocess.run(['mount', '--make-shared', path], check=True)
        if desc.get('ext_veth') or desc.get('ext_macvlan'):
            kw['pass_fds'] = kw.get('pass_fds', ()) + (self.make_ext_links(desc, env),)
        if desc.get('tcp_peer'):
            # with ext_veth the peer is on the bridge the test's veth reaches
            self.tcp_peer = TcpPeer(env.get('ZDTM_BRIDGE_ADDR', '127.0.0.1'))
            env['ZDTM_TCP_PEER'] = str(self.tcp_peer.port)
            env['ZDTM_TCP_SEED'] = str(self.tcp_peer.seed)
        if desc.get('ext_unix_sk'):
            path = os.path.join(testdir, 'ext.sock')
            self.ext_sk = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.ext_sk.bind(path)
            os.chmod(path, 0o777)       # nobody must be able to connect
            env['ZDTM_EXT_SK'] = path
        if desc.get('ext_ns'):
            kw['preexec_fn'] = self.make_ext_ns(desc['ext_ns'])

        cmd = [binary, '--pidfile=' + os.path.join(inside_dir, self.name + '.pid'),
               '--outfile=' + os.path.join(inside_dir, self.name + '.out')] + desc.get('args', [])
        if self.flavor != 'h':
            p = self.start_ns(cmd, env, launcher_log, kw.get('pass_fds', ()))
        else:
            log('$ ' + ' '.join(cmd))
            with open(launcher_log, 'wb') as f:
                kw.setdefault('preexec_fn', clean_signals)
                p = subprocess.Popen(cmd, cwd=testdir, env=env,
                                     stdin=subprocess.DEVNULL, stdout=f,
                                     stderr=subprocess.STDOUT, **kw)
        try:
            rc = p.wait(timeout=min(START_TIMEOUT, self.remaining()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise TestFail('test did not become ready in time')
        if rc != 0:
            raise TestFail('test failed to start (launcher exit code %d)'
                           % rc)
        try:
            self.pid = self.vpid = self.tpid = int(read_text(self.pidfile).strip())
        except (OSError, ValueError) as e:
            raise TestFail('bad pidfile %s: %s' % (self.pidfile, e))
        if self.flavor != 'h':
            try:
                self.pid = int(read_text(os.path.join(self.workdir, 'ns-init.info')).strip())
            except (OSError, ValueError) as e:
                raise TestFail('bad zdtm_ns_init info: %s' % e)
            self.tpid = self.find_test_task()
            if desc.get('ns_root_task'):
                self.pid = self.tpid
                self.root_inside = True
        elif self.ext_ns and self.ext_ns[0] == 'pid':
            # the test's daemon, inside the runner's pid namespace (adopted by us, outside)
            ns = os.stat(self.ext_ns[1]).st_ino
            for d in os.listdir('/proc'):
                try:
                    if d.isdigit() and os.stat('/proc/%s/ns/pid' % d).st_ino == ns and nspid(int(d)) == self.vpid:
                        self.tpid = int(d)
                except OSError:
                    pass
            if self.tpid == self.vpid:
                raise TestFail('the test (%d in the runner\'s pid namespace) is not there' % self.vpid)
            self.pid = self.tpid
            self.root_inside = self.nsview = True
        if not alive(self.tpid):
            raise TestFail('test task %d is not running' % self.tpid)
        log('test task %d is ready (dump root %d)' % (self.tpid, self.pid))

    def dump_restore(self, desc, before, it):
        imgdir = os.path.join(self.workdir, 'img-%d' % it)
        os.mkdir(imgdir)
        if desc.get('imgdir_size'):
            subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=' + desc['imgdir_size'],
                            'zdtm-img', imgdir], check=True)
            self.mounts.append(imgdir)
        desc = dict(desc, **{k: self.subst(desc.get(k, [])) for k in ('opts', 'dump_opts', 'restore_opts')})
        if desc.get('leave_first') and it == 1:
            desc = dict(desc, leave_running=True)
        common = desc.get('opts', [])
        if self.ext_sk:
            common = common + ['--ext-unix-sk']
        if self.ext:
            res = 'pipe:[%d]' % self.ext[2]
            desc = dict(desc, dump_opts=desc.get('dump_opts', []) + ['--external', res],
                        restore_opts=desc.get('restore_opts', []) +
                        ['--inherit-fd', 'fd[%d]:%s' % (self.ext[1], res)])
        if self.ext_ns:
            dopts, ropts, self.pass_fds = self.ext_ns_opts()
            desc = dict(desc, dump_opts=desc.get('dump_opts', []) + dopts,
                        restore_opts=desc.get('restore_opts', []) + ropts)
        if desc.get('vdso_proxy'):
            desc = dict(desc, restore_opts=desc.get('restore_opts', []) + ['--force-vdso-proxy'])
        if self.ext_links:
            desc = dict(desc, restore_opts=desc.get('restore_opts', []) + self.ext_links_opts())
        snap = self.opts.snapshot or desc.get('snapshot')
        if desc.get('leave_running') or snap:
            desc = dict(desc, dump_opts=desc.get('dump_opts', []) + ['-R'])
        if snap:
            desc = dict(desc, dump_opts=desc.get('dump_opts', []) + ['--snapshot'])

        if self.opts.faults and it == 1 and not self.remote_lazy(desc) and self.opts.faults_only != 'restore':
            before = self.fault_dumps(desc, before, common + desc.get('dump_opts', []))
        self.tree_pids = tree_pids(self.pid)
        orig_pid = self.pid
        if self.remote_lazy(desc):
            rc = self.lazy_dump(imgdir, common + self.pre_dumps(desc, it, common + desc.get('dump_opts', []), imgdir)
                                + desc.get('dump_opts', []))
        else:
            rc = self.criu('dump', imgdir, common + self.pre_dumps(desc, it, common + desc.get('dump_opts', []),
                                                                    imgdir) + desc.get('dump_opts', []))

        if desc.get('dump_fail'):
            if rc == 0:
                raise TestFail('dump succeeded but must fail')
            text = ''
            for f in (self.out_path(imgdir, 'dump'), os.path.join(imgdir, 'dump.log')):
                try:
                    text += read_text(f)
                except OSError:
                    pass
            for rx in desc.get('log_match', []):
                if not re.search(rx, text, re.IGNORECASE | re.MULTILINE):
                    raise TestFail('the failed dump does not say /%s/' % rx)
            check_running(self.tpid, 'after the failed dump', stopped=desc.get('stopped', False))
            # see dump_restore() below: run() compares in full after SIGCONT
            fix = (lambda b, a: (drop_sigblk(b), drop_sigblk(a))) if desc.get('stopped') else None
            self.check_netns('after the failed dump')
            settled_snapshot(self.tpid, before, 'after the failed dump', self.deadline, fix, self.nsview)
            return 'stop'

        if rc != 0:
            raise TestFail('dump failed with exit code %d' % rc)
        if not os.path.exists(os.path.join(imgdir, 'inventory.img')):
            raise TestFail('dump left no inventory.img')
        if desc.get('leave_running'):
            check_running(self.tpid, 'after dump -R')
            settled_snapshot(self.tpid, before, 'after dump -R', self.deadline, None, self.nsview)
            return 'next'
        if snap:
            # the tree ran on while its pages were copied: it goes now, and the images come back
            check_running(self.tpid, 'after dump -R --snapshot', stopped=desc.get('stopped', False))
            # every thread's id must be free for the restore too: waited for below with the pids
            tids = []
            for p in self.tree_pids:
                try:
                    tids += [int(t) for t in os.listdir('/proc/%d/task' % p) if int(t) != p]
                except OSError:
                    pass
            self.tree_pids = list(self.tree_pids) + tids
            for p in [self.pid] + [q for q in self.tree_pids if q != self.pid]:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        # --remote-lazy-pages: the original waits frozen until the daemon has every page
        gone, status = reap(self.pid, DUMP_EXIT_TIMEOUT) if not self.lazy_dump_p else (True, None)
        if not gone:
            raise TestFail('task %d is still alive after dump' % self.pid)
        if not self.lazy_dump_p:
            self.wait_tree_gone()
            log('dumped task %s' % describe_status(status))

        for rx in desc.get('dump_log_match', []):
            if not re.search(rx, read_text(os.path.join(imgdir, 'dump.log')), re.IGNORECASE | re.MULTILINE):
                raise TestFail('the dump log does not say /%s/' % rx)
        parent = os.path.join(imgdir, 'parent')
        if desc.get('corrupt') in ('remove-parent', 'truncate-parent-pages', 'relink-parent') and \
                not os.path.islink(parent):
            raise TestFail('the dump has no parent link to corrupt')
        if desc.get('corrupt') == 'relink-parent':
            # to the parent's parent: a whole dump of the same tree, but not the one these were made on
            up = os.path.join(os.path.realpath(parent), 'parent')
            if not os.path.islink(up):
                raise TestFail('the parent images have no parent link (relink-parent needs "pre": 2)')
            target = os.path.relpath(os.path.realpath(up), imgdir)
            os.unlink(parent)
            os.symlink(target, parent)
            log('the parent link now leads to %s' % target)
        if desc.get('corrupt') == 'remove-parent':
            shutil.rmtree(os.path.realpath(parent))
            log('removed the parent images %s' % os.path.realpath(parent))
        if desc.get('corrupt') == 'truncate-parent-pages':
            for p in glob.glob(os.path.join(os.path.realpath(parent), 'pages-*.img')):
                os.truncate(p, os.path.getsize(p) // 2)
                log('truncated %s' % p)
        if desc.get('corrupt') == 'truncate-pages':
            pages = glob.glob(os.path.join(imgdir, 'pages-*.img'))
            if not pages:
                raise TestFail('dump produced no pages-*.img')
            for p in pages:
                size = os.path.getsize(p)
                os.truncate(p, size // 2)
                log('truncated %s: %d -> %d bytes' % (p, size, size // 2))

        if desc.get('corrupt') == 'flip-page':
            # a byte of a page in the middle of the biggest pages file: checked when it goes in
            pages = sorted(glob.glob(os.path.join(imgdir, 'pages-*.img')), key=os.path.getsize)
            if not pages:
                raise TestFail('dump produced no pages-*.img')
            if os.path.getsize(pages[-1]) < 4096:
                raise TestFail('no page in %s to damage' % pages[-1])
            off = (os.path.getsize(pages[-1]) // 2 & ~4095) + 123
            with open(pages[-1], 'r+b') as f:
                f.seek(off)
                b = f.read(1)
                f.seek(off)
                f.write(bytes([b[0] ^ 0x5a]))
            log('flipped a byte of %s at %d' % (pages[-1], off))

        # the ns flavors' lock was in the tree's network namespace: it went with it
        if desc.get('drop_net_lock') and self.flavor == 'h':
            if not net_locks(self.pid):
                raise TestFail('the dump left no network lock')
            drop_net_locks(self.pid)
        if desc.get('restore_delay_ms'):
            time.sleep(min(desc['restore_delay_ms'] / 1000, self.remaining()))
        if desc.get('before_restore'):
            cmd = self.subst([desc['before_restore']])[0]
            log('$ ' + cmd)
            p = subprocess.run(['sh', '-c', cmd], env=self.env, capture_output=True, text=True)
            if p.returncode != 0:
                raise TestFail('before_restore "%s" failed (%d): %s' % (cmd, p.returncode,
                               (p.stdout + p.stderr).strip()[-500:]))

        if self.opts.faults and it == 1 and self.opts.faults_only != 'dump' and not (desc.get('corrupt') or desc.get('restore_fail') or
                                                 self.opts.lazy_pages or desc.get('lazy') or self.lazy_dump_p or
                                                 self.opts.lazy_images):
            self.fault_restores(desc, imgdir, common + desc.get('restore_opts', []))
        if self.opts.lazy_images and not self.lazy_dump_p and not (desc.get('corrupt') or desc.get('restore_fail')):
            self.lazy_images_server(imgdir)
        pidfile = os.path.join(imgdir, 'restored.pid')
        lazy = self.start_lazy(imgdir) if self.opts.lazy_pages or desc.get('lazy') or self.lazy_dump_p or \
            self.lazy_srv_p else None
        rc = self.criu('restore', imgdir,
                       ['-d', '--pidfile', pidfile] + common +
                       desc.get('restore_opts', []) + (['--lazy-pages'] if lazy else []))
        if lazy and desc.get('corrupt') == 'flip-page':
            # restore may return first: the daemon finds the page when it copies it in, and the tree dies
            lrc = self.end_lazy(lazy, imgdir, False, 120)
            text = ''
            for f in (self.out_path(imgdir, 'restore'), os.path.join(imgdir, 'restore.log'),
                      os.path.join(imgdir, 'lazy-pages.log')):
                try:
                    text += read_text(f)
                except OSError:
                    pass
            if lrc == 0:
                raise TestFail('criu lazy-pages put a damaged page in')
            for rx in desc.get('log_match', []):
                if not re.search(rx, text, re.IGNORECASE | re.MULTILINE):
                    raise TestFail('the logs do not say /%s/' % rx)
            deadline = time.monotonic() + 10
            while alive(self.pid) and time.monotonic() < deadline:
                reap_zombies()
                time.sleep(0.05)
            if alive(self.pid):
                raise TestFail('the tree (%d) is alive after a damaged page' % self.pid)
            return 'done'
        if lazy:
            self.end_lazy(lazy, imgdir, rc == 0 and not desc.get('restore_fail') and not desc.get('corrupt'))
        if self.lazy_srv_p:
            self.end_lazy_images_server(rc == 0)
            m = re.search(r'(\d+) pages came from the dumping host', read_text(os.path.join(imgdir, 'lazy-pages.log')))
            log('%s pages came from the page server' % (m.group(1) if m else 'no'))
        if self.lazy_dump_p:
            self.end_lazy_dump(orig_pid)
            m = re.search(r'(\d+) pages came from the dumping host', read_text(os.path.join(imgdir, 'lazy-pages.log')))
            if not m:
                raise TestFail('criu lazy-pages took no page from the dump')
            log('%s pages came from the dump --lazy-pages' % m.group(1))

        if desc.get('restore_fail'):
            if rc == 0:
                raise TestFail('restore succeeded but must fail')
            text = ''
            for f in (self.out_path(imgdir, 'restore'), os.path.join(imgdir, 'restore.log')):
                try:
                    text += read_text(f)
                except OSError:
                    pass
            for rx in desc.get('log_match', []):
                if not re.search(rx, text, re.IGNORECASE | re.MULTILINE):
                    raise TestFail('the failed restore does not say /%s/' % rx)

        if desc.get('corrupt') or desc.get('restore_fail'):
            if rc == 0:
                raise TestFail('restore from corrupted images succeeded')
            deadline = time.monotonic() + 5
            while alive(self.pid) and time.monotonic() < deadline:
                reap_zombies()
                time.sleep(0.05)
            reap_zombies()
            if alive(self.pid):
                raise TestFail('a task with pid %d exists after the failed '
                               'restore' % self.pid)
            return 'done'

        if rc != 0:
            raise TestFail('restore failed with exit code %d' % rc)
        for rx in desc.get('restore_log_match', []):
            if not re.search(rx, read_text(os.path.join(imgdir, 'restore.log')), re.IGNORECASE | re.MULTILINE):
                raise TestFail('the restore log does not say /%s/' % rx)
        if desc.get('drop_net_lock') and 'network locked again' not in read_text(
                os.path.join(imgdir, 'restore.log')):
            raise TestFail('the restore did not take the network lock again')
        try:
            rpid = int(read_text(pidfile).strip())
        except (OSError, ValueError) as e:
            raise TestFail('bad restore pidfile: %s' % e)
        if self.root_inside:
            # the root is inside a pid namespace: new host pid, same pid inside
            if nspid(rpid) != self.vpid:
                raise TestFail('restored root %d is %d in its pid namespace, not %d' % (rpid, nspid(rpid), self.vpid))
            self.pid = self.tpid = rpid
        elif self.flavor != 'h':
            # new host pids: the init is 1 inside, the test its child with its pid
            if nspid(rpid) != 1:
                raise TestFail('restored init %d is %d in its pid namespace, not 1' % (rpid, nspid(rpid)))
            self.pid = rpid
            self.tpid = self.find_test_task()
        elif rpid != self.pid:
            raise TestFail('restored pid %d, expected %d' % (rpid, self.pid))
        check_running(self.tpid, 'after restore', stopped=desc.get('stopped', False))

        def fix(before, after):
            if desc.get('vdso_proxy'):
                before, after = drop_vdso(before, after)
            if desc.get('new_inodes'):
                before, after = drop_inodes(before), drop_inodes(after)
            elif self.flavor != 'h':
                # the flavors' /dev/shm is a tmpfs of the tree's: made anew, with new inodes
                before, after = drop_inodes(before, '/dev/shm/'), drop_inodes(after, '/dev/shm/')
            if desc.get('sigblk_changes'):
                before, after = drop_sigblk(before), drop_sigblk(after)
            if desc.get('stopped'):
                # Stopped in sigsuspend(), a task shows its temporary mask; restored,
                # it shows the mask it returns to (PTRACE_GETSIGMASK's view) until
                # SIGCONT lets it enter the call again. run() compares in full then.
                before, after = drop_sigblk(before), drop_sigblk(after)
            return before, after
        # it may take a moment to run back into what it was doing (say,
        # sigsuspend with its temporary mask)
        settled_snapshot(self.tpid, before, 'after restore #%d' % it, self.deadline, fix, self.nsview)
        self.check_netns('after restore #%d' % it)
        return 'next'

    def fault_steps(self, total, rnd):
        if not self.opts.faults_at:
            last = range(max(1, total - self.opts.faults_last + 1), total + 1) if self.opts.faults_last else []
            return sorted(set(pick_steps(total, self.opts.faults, rnd)) | set(last))
        steps = []
        for part in self.opts.faults_at.split(','):
            a, _, b = part.partition('-')
            steps += range(int(a), int(b or a) + 1)
        return [n for n in steps if n <= total]

    def fault_env(self, step):
        env = dict(os.environ, CRIU_FAULT=str(step))
        if self.opts.faults_calls:
            env['CRIU_FAULT_CALLS'] = self.opts.faults_calls
        if self.opts.faults_kill and step != 'count':
            env['CRIU_FAULT_KILL'] = '1'
        return env

    def fault_run(self, action, imgdir, extra, step, what):
        """criu @action with step @step failing (or 'count'); (exit code, its output and log)."""
        if os.path.exists(imgdir):
            shutil.rmtree(imgdir)
        os.mkdir(imgdir)
        cmd = [self.opts.criu, action] + (['-t', str(self.pid)] if action == 'dump' else []) + \
            ['-D', imgdir, '-o', action + '.log', '-v4'] + extra + self.flavor_opts(action)
        if step == 'count' or verbose:
            log('$ CRIU_FAULT=%s ' % step + ' '.join(cmd))
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               env=self.fault_env(step), start_new_session=True, timeout=min(60, self.remaining()),
                               pass_fds=((self.ext[1],) if self.ext else ()) + self.pass_fds)
        except subprocess.TimeoutExpired:
            raise TestFail('%s: criu %s hung' % (what, action))
        try:
            text = read_text(os.path.join(imgdir, action + '.log'))
        except OSError:
            text = ''
        if p.returncode < 0 and not (self.opts.faults_kill and p.returncode == -signal.SIGKILL):
            raise TestFail('%s: criu %s crashed (%s): %s' % (what, action, describe_status(p.returncode),
                                                                p.stderr[-1000:]))
        return p.returncode, p.stderr, text

    def fault_named(self, rc, err, text, step, what):
        """A failed run names the step it failed at on stderr (a child's error may be in the log only)."""
        if rc > 0 and not self.opts.faults_kill and 'fault injection: step %d' % step not in err + text:
            raise TestFail('%s: the error does not name the step: %s' % (what, err.strip()[-600:]))

    def fault_world(self, w0, what, skip=()):
        """Nothing new in the world, nor in the work directory but under @skip; a criu process killed
        at a step may leave helpers that undo its work: they get 5 s."""
        deadline = time.monotonic() + 5
        while True:
            reap_zombies()
            new = sorted(world([self.workdir]) - w0[0]) + sorted(files_below(self.workdir, skip) - w0[1])
            if not new or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        if new:
            raise TestFail('%s: left behind %s' % (what, ', '.join(new[:10])))

    def fault_dumps(self, desc, before, extra):
        """--faults N: N dump -R runs of the test, each failing one step: it must run on as it was."""
        rnd = random.Random(self.opts.faults_seed)
        fdir = os.path.join(self.workdir, 'img-fault')
        extra = [o for o in extra if o not in ('-R', '--leave-running')] + ['-R']
        self.logs.append(os.path.join(fdir, 'dump.log'))   # the last faulted run's, shown on failure
        rc, err, _ = self.fault_run('dump', fdir, extra, 'count', 'counting the dump\'s steps')
        m = re.search(r'fault injection: (\d+) steps', err)
        if not m:
            raise TestFail('counting the dump\'s steps failed (%d): %s' % (rc, err[-600:]))
        steps = self.fault_steps(int(m.group(1)), rnd)
        log('dump -R takes %s steps: failing %s' % (m.group(1), steps))
        stopped = desc.get('stopped', False)

        def fix(b, a):
            if stopped:
                b, a = drop_sigblk(b), drop_sigblk(a)
            if self.opts.faults_kill:
                # compel.md, "Leftovers": after a SIGKILL of criu the parasite's area stays mapped (shared
                # memory: the others' numbers shift)
                b, a = ([re.sub(r' #\d+ ', ' # ', l) for l in x
                         if not re.match(r'maps: \S+ rwxs 00000000 00:\S+ \S+ /dev/zero \(deleted\)', l)]
                        for x in (b, a))
            return b, a
        pids = tree_pids(self.pid)
        # each task's state as it was: a zombie stays one, a stopped task stopped
        was = {p: (proc_stat(p) or ['X'])[0] for p in pids}
        w0 = (world([self.workdir]), files_below(self.workdir, [fdir]))
        failed = 0
        for n in steps:
            what = 'dump -R failing step %d%s' % (n, ' (killed there)' if self.opts.faults_kill else '')
            rc, err, text = self.fault_run('dump', fdir, extra, n, what)
            if verbose:
                log('  rc %d: %s' % (rc, ' | '.join(err.strip().splitlines()[:4])))
            failed += rc != 0
            self.fault_named(rc, err, text, n, what)
            for p in pids:
                if was[p] in 'ZX':
                    now = (proc_stat(p) or ['X'])[0]
                    if now != was[p]:
                        raise TestFail('task %d was %s, is %s after %s' % (p, was[p], now, what))
                    continue
                check_running(p, 'after ' + what, stopped=stopped if p == self.tpid else was[p] == 'T')
                st = read_text('/proc/%d/status' % p)
                if not re.search(r'^TracerPid:\s+0$', st, re.M):
                    raise TestFail('task %d is left traced after %s' % (p, what))
            settled_snapshot(self.tpid, before, 'after ' + what, self.deadline, fix, self.nsview)
            deadline = time.monotonic() + 5
            while sorted(tree_pids(self.pid)) != sorted(pids) and time.monotonic() < deadline:
                time.sleep(0.05)
            if sorted(tree_pids(self.pid)) != sorted(pids):
                raise TestFail('the tree was %s, is %s after %s' % (sorted(pids), ', '.join(
                    '%d %s' % (p, (read_text('/proc/%d/comm' % p) if proc_stat(p) else '?').strip())
                    for p in sorted(tree_pids(self.pid))), what))
            self.check_netns('after ' + what)
            left = net_locks(self.pid)
            if left:
                raise TestFail('%s left the network lock %s' % (what, left))
            self.fault_world(w0, what, [fdir])
        shutil.rmtree(fdir)
        log('%d of %d dumps failed, the test ran on unchanged' % (failed, len(steps)))
        # what the kills left (the parasite's areas) is the test's now: compared from here on
        return steady_snapshot(self.tpid, self.deadline, self.nsview) if self.opts.faults_kill else before

    def fault_restores(self, desc, imgdir, extra):
        """--faults N: N restores of the images, each failing one step: no process of the tree left,
        nothing else either; one that succeeds all the same must give the test back running."""
        rnd = random.Random(self.opts.faults_seed)
        fdir = os.path.join(self.workdir, 'img-fault')
        pidfile = os.path.join(fdir, 'restored.pid')
        extra = ['-d', '--pidfile', pidfile] + extra

        def copy():
            if os.path.exists(fdir):
                shutil.rmtree(fdir)
            shutil.copytree(imgdir, fdir, symlinks=True)

        def run(step, what):
            copy()
            cmd = [self.opts.criu, 'restore', '-D', fdir, '-o', 'restore.log', '-v4'] + extra + \
                self.flavor_opts('restore')
            if step == 'count' or verbose:
                log('$ CRIU_FAULT=%s ' % step + ' '.join(cmd))
            try:
                p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                   env=self.fault_env(step), start_new_session=True,
                                   timeout=min(60, self.remaining()),
                                   pass_fds=((self.ext[1],) if self.ext else ()) + self.pass_fds)
            except subprocess.TimeoutExpired:
                raise TestFail('%s: criu restore hung' % what)
            try:
                text = read_text(os.path.join(fdir, 'restore.log'))
            except OSError:
                text = ''
            if p.returncode < 0 and not (self.opts.faults_kill and p.returncode == -signal.SIGKILL):
                raise TestFail('%s: criu restore crashed (%s): %s' % (what, describe_status(p.returncode),
                                                                       p.stderr[-1000:]))
            return p.returncode, p.stderr, text

        def gone(what):
            deadline = time.monotonic() + 5
            while my_children() and time.monotonic() < deadline:
                reap_zombies()
                time.sleep(0.05)
            left = my_children()
            if left:
                raise TestFail('%s: left %s behind (%s)' % (what, left, ', '.join(
                    '%d %s %s' % (p, read_text('/proc/%d/comm' % p).strip(), (proc_stat(p) or '?')[0])
                    for p in left if proc_stat(p))))

        if any('.criu-link-remap.' in f for f in files_below(self.workdir)):
            # a restore that succeeds takes the dump's link-remap files: the next ones could not restore
            log('the dump left link-remap files: no restore walk')
            return
        self.logs.append(os.path.join(fdir, 'restore.log'))   # the last faulted run's, shown on failure
        # a tree restored all the same runs until killed, and may write its outfile meanwhile (a part of
        # it killed before another): put back as dumped, or the next restore finds it changed
        out_st = os.stat(self.outfile)
        out_data = read_bytes(self.outfile)

        def put_outfile_back():
            with open(self.outfile, 'r+b') as f:
                f.truncate(0)
                f.write(out_data)
            os.utime(self.outfile, ns=(out_st.st_atime_ns, out_st.st_mtime_ns))
        if my_children():
            raise TestFail('before the restore walk: %s still there' % my_children())
        rc, err, _ = run('count', 'counting the restore\'s steps')
        kill_leftovers(None)
        if rc:
            raise TestFail('counting the restore\'s steps failed (%d): %s' % (rc, err[-600:]))
        m = re.search(r'fault injection: (\d+) steps', err)
        steps = self.fault_steps(int(m.group(1)), rnd)
        log('restore takes %s steps: failing %s' % (m.group(1), steps))
        drop_net_locks(self.pid)
        w0 = (world([self.workdir]), files_below(self.workdir, [fdir]))
        failed = 0
        for n in steps:
            what = 'restore failing step %d%s' % (n, ' (killed there)' if self.opts.faults_kill else '')
            rc, err, text = run(n, what)
            if verbose:
                log('  rc %d: %s' % (rc, ' | '.join(err.strip().splitlines()[:4])))
            def whole_tree():
                """The tree criu left, whole and running (its processes, but criu's helpers ending), or None."""
                deadline = time.monotonic() + 2
                while True:
                    reap_zombies()
                    # criu's helpers (the reaper, the keeper) end by themselves meanwhile
                    roots = [p for p in my_children() if (proc_stat(p) or 'Z')[0] not in 'ZX' and
                             not read_text('/proc/%d/comm' % p).startswith('criu')]
                    procs = [q for p in roots for q in tree_pids(p)]
                    if not roots or len(procs) == len(self.tree_pids) or time.monotonic() >= deadline:
                        break
                    time.sleep(0.05)
                if not roots:
                    return None
                if len(procs) != len(self.tree_pids):
                    raise TestFail('%s left %d processes of the tree\'s %d: %s' % (
                        what, len(procs), len(self.tree_pids), procs))
                for p in procs:
                    if (proc_stat(p) or 'X')[0] in 'ZX':
                        continue
                    st = read_text('/proc/%d/status' % p)
                    if not re.search(r'^TracerPid:\s+0$', st, re.M):
                        raise TestFail('task %d is left traced after %s' % (p, what))
                check_running(roots[0], 'after ' + what, stopped=desc.get('stopped', False))
                return roots

            roots = whole_tree() if rc != 0 and self.opts.faults_kill else None
            if roots:
                # killed after the commit (or its supervisor went on): the tree runs, whole
                if os.path.exists(pidfile) and int(read_text(pidfile).strip() or 0) not in roots:
                    raise TestFail('%s: the pidfile names %s, the tree is %s' % (what, read_text(pidfile), roots))
                kill_leftovers(None)
                put_outfile_back()
            elif rc == 0:
                try:
                    rpid = int(read_text(pidfile).strip())
                except (OSError, ValueError) as e:
                    raise TestFail('%s succeeded, but its pidfile: %s (stderr: %s)' % (what, e, err.strip()[-600:]))
                check_running(rpid, 'after ' + what, stopped=desc.get('stopped', False))
                kill_leftovers(None)
                put_outfile_back()
            else:
                failed += 1
                self.fault_named(rc, err, text, n, what)
                if os.path.exists(pidfile) and rc > 0:
                    raise TestFail('%s wrote a pidfile' % what)
            gone(what)
            put_outfile_back()
            drop_net_locks(self.pid)
            self.fault_world(w0, what, [fdir])
        shutil.rmtree(fdir)
        log('%d of %d restores failed, none left anything' % (failed, len(steps)))

    def pre_dumps(self, desc, it, common, imgdir):
        """--pre N: a chain of N pre-dumps before the dump, which takes the rest.

        The tree runs on after each (the runner checks it); what they leave in
        it (its private memory registered for write-protect tracking: 'uw' in
        smaps) is left out of the comparisons in this mode. A test whose dump
        must fail may fail its pre-dumps too: the dump goes on without them.
        """
        prev = None
        n = max(self.opts.pre, desc.get('pre', 0))
        common = [o for o in common if o != '--snapshot']    # the dump's, not the pre-dumps'
        # with a small images dir the pre-dumps go in it too: the chain must fit
        top = imgdir if desc.get('imgdir_size') else self.workdir
        up = '' if desc.get('imgdir_size') else '../'
        for k in range(1, n + 1):
            pdir = os.path.join(top, 'pre-%d-%d' % (it, k))
            os.mkdir(pdir)
            extra = ([] if desc.get('pre_untracked') else ['--track-mem']) + \
                (['--prev-images-dir', '../' + os.path.basename(prev)] if prev else [])
            rc = self.criu('pre-dump', pdir, common + extra)
            if rc != 0:
                if desc.get('dump_fail'):
                    check_running(self.tpid, 'after a failed pre-dump', stopped=desc.get('stopped', False))
                    return []
                raise TestFail('pre-dump #%d failed with exit code %d' % (k, rc))
            check_running(self.tpid, 'after pre-dump #%d' % k, stopped=desc.get('stopped', False))
            prev = pdir
            if k < n:
                self.let_run()
        if not prev:
            return []
        if desc.get('pre_lose_tracking'):
            for pid in my_children():
                if read_text('/proc/%d/comm' % pid).strip() == 'criu-track':
                    os.kill(pid, signal.SIGKILL)
                    reap(pid, 5)
                    log('killed the memory tracker %d' % pid)
        # a snapshot dump (-R --snapshot) takes the chain but does not go on tracking (refused)
        snap = self.opts.snapshot or desc.get('snapshot')
        return ['--prev-images-dir', up + os.path.basename(prev)] + ([] if snap else ['--track-mem'])

    def check_netns(self, when):
        """No network lock left in the test's network namespace; with netns_snapshot, all of it as it was."""
        if os.stat('/proc/%d/ns/net' % self.tpid).st_ino == os.stat('/proc/self/ns/net').st_ino:
            return
        locks = netns_locks(self.tpid)
        if locks:
            raise TestFail('%s the network lock %s is still in the test\'s network namespace' % (when, locks))
        if self.netns_before is None:
            return
        after = netns_snapshot(self.tpid)
        if after != self.netns_before:
            diff = '\n'.join(difflib.unified_diff(self.netns_before, after, 'before', 'after', lineterm='', n=1))
            raise TestFail('the network namespace changed %s:\n%s' % (when, diff[:6000]))

    def stop(self):
        try:
            os.kill(self.tpid, signal.SIGTERM)
        except ProcessLookupError:
            raise TestFail('task %d is gone before SIGTERM' % self.tpid)
        gone, status = reap(self.tpid, min(STOP_TIMEOUT, self.remaining()))
        if not gone:
            raise TestFail('task %d did not exit after SIGTERM' % self.tpid)
        if self.tpid != self.pid:
            # the init goes when it has nobody left to reap (the test's exit status is its)
            gone, _ = reap(self.pid, min(STOP_TIMEOUT, self.remaining()))
            if not gone:
                raise TestFail('the namespaces\' init %d did not exit after the test' % self.pid)
        self.pid_done = True

        try:
            out = read_text(self.outfile)
        except OSError as e:
            raise TestFail('no test output: %s' % e)
        lines = out.splitlines()
        if self.tcp_peer:
            log('tcp peer: got %d, sent %d, error %s' % (self.tcp_peer.got, self.tcp_peer.sent, self.tcp_peer.error))
        fails = [l for l in lines if l.startswith('FAIL')]
        if fails:
            raise TestFail('test says: ' + '; '.join(fails[:5]))
        if 'PASS' not in lines:
            raise TestFail('test did not print PASS (%s)' %
                           describe_status(status))
        if status is not None and not (os.WIFEXITED(status) and
                                       os.WEXITSTATUS(status) == 0):
            raise TestFail('test printed PASS but ended with %s' %
                           describe_status(status))
        if verbose:
            for l in lines:
                log('| ' + l)
        if self.ext:
            self.check_ext_pipe()
        if self.ext_sk:
            self.check_ext_sk()
        if self.tcp_peer:
            self.tcp_peer.check(self.desc['tcp_peer'], min(30, self.remaining()))
        left = net_locks(self.pid, self.started)
        if left:
            raise TestFail('criu left the network lock %s in place' % ', '.join(n for _, n in left))

    def check_ext_sk(self):
        """The datagrams the test sent to the runner's socket, before and after C/R."""
        got = []
        while select.select([self.ext_sk], [], [], 0.5)[0]:
            data, sender = self.ext_sk.recvfrom(65536)
            got.append((data, sender))
        log('ext unix socket: %r' % got)
        want_from = os.path.join(self.workdir, 'test', 'ext-client.sock')
        if [d for d, _ in got] != [b'before', b'ext-unix-sk-ok']:
            raise TestFail('the runner\'s socket got %r, want "before" and "ext-unix-sk-ok"' % got[:5])
        if any(s != want_from for _, s in got):
            raise TestFail('a datagram came from %r, not from the test\'s %s' % (got, want_from))

    def check_ext_pipe(self):
        """What the test wrote into the runner's pipe, before and after C/R."""
        os.close(self.ext[1])
        self.ext = (self.ext[0], -1, self.ext[2])
        data = b''
        while select.select([self.ext[0]], [], [], self.remaining())[0]:
            chunk = os.read(self.ext[0], 65536)
            if not chunk:
                break
            data += chunk
        log('ext pipe: %r' % data)
        if b'ext-pipe-ok' not in data.splitlines():
            raise TestFail('the runner\'s pipe did not carry "ext-pipe-ok" (got %r)' % data[:200])

    def run(self):
        desc = load_desc(self.name)
        self.desc = desc
        if desc.get('skip'):
            raise TestSkip(desc['skip'])
        if self.user == 'nobody' and desc.get('root_only'):
            raise TestSkip('root only')
        # ZDTM_ALL_FLAVORS=1 runs a test in every flavor (to find those that no longer need a limit)
        if self.flavor not in desc.get('flavors', FLAVORS) and not os.environ.get('ZDTM_ALL_FLAVORS'):
            raise TestSkip('not in the %s flavor: %s' % (self.flavor, desc['flavor_reason']))
        if self.opts.pre and desc.get('no_pre'):
            raise TestSkip('not with --pre: %s' % desc['no_pre'])
        if (self.opts.lazy_pages or self.opts.remote_lazy_pages or self.opts.lazy_images) and \
                '--auto-dedup' in desc.get('restore_opts', []) + desc.get('opts', []):
            raise TestSkip('not with lazy pages: restore --auto-dedup frees the images the daemon reads')
        if self.opts.remote_lazy_pages and self.flavor == 'h':
            raise TestSkip('--remote-lazy-pages: not in the h flavor (the restore here would meet the pids of '
                           'the original, frozen until the memory is in)')
        if self.opts.snapshot:
            why = desc.get('no_snapshot') or (
                'a dump that stops, tracks or chains its images its own way' if desc.get('pre') or
                set(desc.get('dump_opts', [])) & {'-s', '--leave-stopped', '--track-mem', '--prev-images-dir',
                                                  '--page-server', '--lazy-pages'} else None)
            if why:
                raise TestSkip('not with --snapshot: %s' % why)
        self.timeout = desc.get('timeout', DEFAULT_TIMEOUT)
        self.deadline = time.monotonic() + self.timeout

        self.workdir = tempfile.mkdtemp(
            prefix='zdtm-%s-%s-%s-' % (self.name, self.user, self.flavor), dir='/tmp')
        self.start(desc)

        self.let_run()
        for c in desc.get('netns_setup', []):
            cmd = self.subst(c[:-1] if len(c) > 1 and '\n' in c[-1] else c)
            stdin = c[-1] if len(c) > 1 and '\n' in c[-1] else None
            log('$ (in the test\'s network namespace) ' + ' '.join(cmd))
            rc, out = in_netns(self.tpid, cmd, stdin)
            if rc:
                raise TestFail('netns_setup %s failed (%d): %s' % (' '.join(cmd), rc, out.strip()[-500:]))
        if desc.get('netns_snapshot'):
            self.netns_before = netns_snapshot(self.tpid)
        if desc.get('stopped'):
            os.kill(self.tpid, signal.SIGSTOP)
            check_running(self.tpid, 'after SIGSTOP', stopped=True)
        before = steady_snapshot(self.tpid, self.deadline, self.nsview)
        if self.opts.norestore:
            self.let_run()
            compare_snapshots(before, snapshot(self.tpid, self.nsview), 'a moment later')
        else:
            for it in range(1, max(self.opts.iters, desc.get('iters', 1)) + 1):
                if it > 1:
                    self.let_run()
                res = self.dump_restore(desc, before, it)
                if res == 'done':
                    self.pid_done = True
                    return
                if res == 'stop':
                    break
            self.let_run()
        if desc.get('stopped'):
            os.kill(self.tpid, signal.SIGCONT)
            check_running(self.tpid, 'after SIGCONT')
            if not self.opts.norestore:
                settled_snapshot(self.tpid, before, 'after SIGCONT', self.deadline, None, self.nsview)
        self.stop()

    def let_run(self):
        """Give the test some time on its own (--wait)."""
        if self.opts.wait > 0:
            time.sleep(min(self.opts.wait, self.remaining()))
            if not alive(self.tpid):
                raise TestFail('task %d died' % self.tpid)

    def cleanup(self, failed):
        # a lazy dump still serving holds the original frozen: it goes first (the tree then runs, and is killed)
        if self.lazy_dump_p and self.lazy_dump_p.poll() is None:
            self.lazy_dump_p.kill()
            self.lazy_dump_p.wait()
        if self.lazy_srv_p and self.lazy_srv_p.poll() is None:
            self.lazy_srv_p.kill()
            self.lazy_srv_p.wait()
        # a frozen task dies only once thawed
        for name, (fs, _, v2) in self.cgroups.items():
            for d, _, _ in os.walk(fs):
                try:
                    with open(os.path.join(d, 'cgroup.freeze' if v2 else 'freezer.state'), 'w') as f:
                        f.write('0' if v2 else 'THAWED')
                except OSError:
                    pass
        kill_leftovers(None if self.pid_done else self.pid)
        self.remove_cgroups()
        for fd in self.ext[:2] if self.ext else ():
            if fd >= 0:
                os.close(fd)
        if self.ext_sk:
            self.ext_sk.close()
        if self.tcp_peer:
            self.tcp_peer.close()
        if self.pid:
            drop_net_locks(self.pid)
        if self.ext_links:
            for name in self.ext_links.values():
                subprocess.run(['ip', 'link', 'del', name], stderr=subprocess.DEVNULL)
        if self.host_netns_fd >= 0:
            os.close(self.host_netns_fd)
        for path, value in self.sysctls.items():
            with open(path, 'w') as f:
                f.write(value)
        for m in self.mounts:
            subprocess.run(['umount', '-l', m], stderr=subprocess.DEVNULL)
        if self.workdir:
            if failed and self.opts.keep:
                print('    kept %s' % self.workdir)
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)


def run_test(name, user, opts, flavor='h'):
    """Returns ('PASS'|'FAIL'|'SKIP', reason)."""
    r = Run(name, user, opts, flavor)
    failed = True
    try:
        r.run()
        failed = False
        return 'PASS', ''
    except TestSkip as e:
        failed = False
        return 'SKIP', str(e)
    except TestFail as e:
        msg = str(e)
        details = [tail(f) for f in r.logs if os.path.exists(f)]
        if details:
            msg += '\n' + '\n'.join(details)
        return 'FAIL', msg
    except OSError as e:
        return 'FAIL', 'runner error: %s' % e
    finally:
        r.cleanup(failed)


# --------------------------------------------------------------------------

def default_build():
    return os.path.join(REPO_DIR, 'build')


def cmd_run(opts):
    global verbose
    verbose = opts.verbose

    all_tests = list_tests()
    if opts.all or not opts.tests:
        if not opts.all:
            print('zdtm: no tests given, use -t NAME or --all',
                  file=sys.stderr)
            return 2
        tests = all_tests
    else:
        tests = []
        for t in opts.tests:
            if t not in all_tests:
                print('zdtm: unknown test %s' % t, file=sys.stderr)
                return 2
            tests.append(t)

    opts.build = os.path.abspath(opts.build or default_build())
    if not opts.criu:
        opts.criu = os.path.join(opts.build, 'criu', 'criu')
    opts.criu = os.path.abspath(opts.criu)
    if opts.iters < 1:
        print('zdtm: --iters must be at least 1', file=sys.stderr)
        return 2
    if opts.pre < 0:
        print('zdtm: --pre must be 0 or more', file=sys.stderr)
        return 2
    if opts.snapshot and opts.norestore:
        print('zdtm: --snapshot does not go with --norestore', file=sys.stderr)
        return 2
    if opts.pre:
        # the only trace pre-dumps leave in a task: its memory registered for tracking
        VMFLAGS.discard('uw')
    if not opts.norestore and not os.access(opts.criu, os.X_OK):
        print('zdtm: criu binary %s not found (use --criu or --build)'
              % opts.criu, file=sys.stderr)
        return 2

    users = ['root', 'nobody'] if opts.user == 'both' else [opts.user]
    if 'nobody' in users and os.geteuid() != 0:
        print('zdtm: --user nobody needs root', file=sys.stderr)
        return 2
    if not opts.norestore and os.geteuid() != 0:
        print('zdtm: dump/restore needs root (or use --norestore)',
              file=sys.stderr)
        return 2

    flavors = opts.flavor.split(',')
    if any(f not in FLAVORS for f in flavors):
        print('zdtm: --flavor takes %s (comma-separated)' % ', '.join(FLAVORS), file=sys.stderr)
        return 2

    set_subreaper()
    if opts.faults:
        if opts.faults_seed is None:
            opts.faults_seed = int(time.time())
        print('zdtm: --faults %d, seed %d' % (opts.faults, opts.faults_seed), flush=True)

    passed = failed = skipped = 0
    stop = False
    times = []
    start = time.monotonic()
    for flavor in flavors:
        for name in tests:
            for user in users:
                t0 = time.monotonic()
                res, reason = run_test(name, user, opts, flavor)
                took = time.monotonic() - t0
                who = user if flavor == 'h' else '%s, %s' % (user, flavor)
                times.append((took, '%s (%s)' % (name, who)))
                if res == 'PASS':
                    passed += 1
                    print('PASS %s (%s)%s' % (name, who,
                          ' [%.1fs]' % took if verbose else ''), flush=True)
                elif res == 'SKIP':
                    skipped += 1
                    print('SKIP %s (%s): %s' % (name, who, reason), flush=True)
                else:
                    failed += 1
                    print('FAIL %s (%s): %s' % (name, who, reason), flush=True)
                    if not opts.keep_going:
                        stop = True
                        break
            if stop:
                break
        if stop:
            break

    times.sort(reverse=True)
    print('zdtm: %.0f s for %d runs; slowest: %s' % (
        time.monotonic() - start, len(times),
        ', '.join('%s %.1fs' % (n, t) for t, n in times[:8])), flush=True)
    print('zdtm: %d passed, %d failed, %d skipped' % (passed, failed,
                                                      skipped), flush=True)
    return 0 if failed == 0 else 1


def cmd_list(opts):
    for t in list_tests():
        try:
            desc = load_desc(t)
        except TestFail as e:
            desc = {'error': str(e)}
        print(t + ('  ' + json.dumps(desc) if desc else ''))
    return 0


def main():
    ap = argparse.ArgumentParser(
        description='Run zdtm checkpoint/restore tests.')
    sub = ap.add_subparsers(dest='cmd', required=True)

    rp = sub.add_parser('run', help='run tests')
    rp.add_argument('-t', '--test', dest='tests', action='extend',
                    nargs='+', default=[], metavar='NAME',
                    help='tests to run (repeatable)')
    rp.add_argument('-a', '--all', action='store_true', help='run all tests')
    rp.add_argument('--user', choices=('root', 'nobody', 'both'),
                    default='root', help='who runs the test binaries')
    rp.add_argument('--criu', help='criu binary (default BUILD/criu/criu)')
    rp.add_argument('--build', help='meson build directory '
                    '(default <repo>/build)')
    rp.add_argument('--keep-going', '-k', action='store_true',
                    help='go on after a failure')
    rp.add_argument('--keep', action='store_true',
                    help='keep the work directory of failed tests')
    rp.add_argument('--norestore', action='store_true',
                    help='no dump/restore, just run the tests')
    rp.add_argument('--iters', type=int, default=1,
                    help='dump/restore cycles per test (default 1)')
    rp.add_argument('--pre', type=int, default=0, metavar='N',
                    help='before each dump, N pre-dumps (--track-mem, each the '
                    'parent of the next); the dump takes the rest')
    rp.add_argument('--snapshot', action='store_true',
                    help='dump -R --snapshot (pages copied while the tree runs on), then the tree is killed '
                    'and restored from the images (with --pre N: on top of the pre-dumps, without '
                    '--track-mem)')
    rp.add_argument('--lazy-pages', action='store_true',
                    help='restore through a lazy-pages daemon (restore --lazy-pages, criu lazy-pages): '
                    'the runner checks the tree once the daemon put every page in')
    rp.add_argument('--remote-lazy-pages', action='store_true',
                    help='dump --lazy-pages serves the memory over loopback to criu lazy-pages --page-server '
                    '(ns and uns flavors: in h the restore would meet the frozen original\'s pids)')
    rp.add_argument('--lazy-images', action='store_true',
                    help='a plain dump, then its images served by criu page-server --lazy-pages over loopback '
                    'to criu lazy-pages --page-server, which fetches them into an empty images dir (all flavors)')
    rp.add_argument('--wait', type=float, default=0.2, metavar='SEC',
                    help='let the test run this long before the dump and '
                    'before SIGTERM (default 0.2)')
    rp.add_argument('--flavor', default='h', metavar='h|ns|uns',
                    help='where the tests run: h (the host, default), ns (in new pid, net, '
                    'ipc, uts, time and mount namespaces), uns (ns plus a user namespace); '
                    'a comma-separated list runs each')
    rp.add_argument('--faults', type=int, default=0, metavar='N',
                    help='before the first dump, N dump -R runs each failing one step (CRIU_FAULT, spread over '
                    'the steps): the test must run on unchanged; before the first restore, N restores each '
                    'failing one step: nothing may be left (test/others/faults.py does it for one tree)')
    rp.add_argument('--faults-kill', action='store_true',
                    help='with --faults, criu dies of SIGKILL at the step instead of failing it (CRIU_FAULT_KILL)')
    rp.add_argument('--faults-calls', metavar='C,..',
                    help='with --faults, only the steps of these calls (CRIU_FAULT_CALLS)')
    rp.add_argument('--faults-only', choices=('dump', 'restore'), help='with --faults, only this walk')
    rp.add_argument('--faults-at', metavar='N,..', help='with --faults, these steps (or A-B ranges), not N spread')
    rp.add_argument('--faults-last', type=int, default=0, metavar='K',
                    help='with --faults, the last K steps too (a restore\'s commit, a dump\'s release)')
    rp.add_argument('--faults-seed', type=int, default=None, metavar='S',
                    help='with --faults, the seed of the steps picked (default: from the clock, printed)')
    rp.add_argument('-v', '--verbose', action='store_true')
    rp.set_defaults(func=cmd_run)

    lp = sub.add_parser('list', help='list tests and their options')
    lp.set_defaults(func=cmd_list)

    opts = ap.parse_args()
    try:
        return opts.func(opts)
    except KeyboardInterrupt:
        kill_leftovers(None)
        print('zdtm: interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
