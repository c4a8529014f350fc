#!/bin/bash
# End to end: `podman container checkpoint` / `restore` with runc (Debian's
# crun has no checkpoint support) driving our criu, of a container made
# from a local busybox rootfs (`podman import`, no registry).
#
#   test/others/runtimes/podman.sh [CASE...]     (KEEP=1 keeps the work dirs)
#
# Cases:
#   basic         checkpoint and restore in place (bridge network)
#   tty           the same with a terminal (-t: conmon's console socket)
#   leave-running checkpoint --leave-running, then kill and restore
#   pre-checkpoint  checkpoint --pre-checkpoint, then --with-previous, restore
#   export        checkpoint --export to a tarball, remove, restore --import
#   clone         checkpoint --leave-running --export, restore --import --name:
#                 a second container while the first runs on
#   stats         --print-stats at both ends (our stats-dump/stats-restore)
#   tcp           --tcp-established with a connection open inside
#   userns        --uidmap/--gidmap 0:200000:65536 with a terminal (-t), the
#                 python workload: the bundle (images dir's parent) is the
#                 container root's, the console's slave too
#   userns-auto   --userns=auto (a "containers" line in /etc/subuid and
#                 /etc/subgid for the case): the python workload and
#                 watchers (inotify, fanotify inode, filesystem and mount
#                 marks) on tmpfs; a watch on a host dir refused by name
#                 first; then in place and over --export/--import
#   userns-clone  a --userns=auto container cloned by --leave-running
#                 --export and restore --import --name (workload-fds.py)
#   python        the host's python3 (/usr bound read-only) runs workload.py:
#                 SysV and POSIX shm, a flock, a zombie, threads, an http
#                 server with a keep-alive client; --tcp-established
#                 --file-locks; the workload checks itself (/run/bad)
#   python-export the same through --export/--import
#   python-pre    the same with --pre-checkpoint, then --with-previous
#   pre-export    the same, both exported; --import-previous and --import
#   nonet-tty     the same with --network none and a terminal
#   confined      --init (catatonit), --cap-drop all,
#                 no-new-privileges
#   python-notcp  without --tcp-established: refused, left running
#   hostconn      a host client's TCP connection to the container's address
#   hostconn-nat  the same through a published port (a keeper container on
#                 the network: netavark takes the bridge down with the last
#                 one, and the kernel drops the MASQUERADE conntrack entries)
#   devshm volume readonly keep rootfs rootfs-open publish ignore fuse health: a file in
#                 /dev/shm over export/import; a named volume and a bind of
#                 a host file held open; --read-only --tmpfs; --keep; rootfs
#                 changes over export/import; restore --name --publish;
#                 --ignore-rootfs --ignore-volumes; --device /dev/fuse held
#                 open; a healthcheck
#   deleted       a file of the root (overlay upper layer) open, deleted, written
#   tmpfs         --tmpfs /data: a file open and one open and deleted
#   tree          a writer and a reader joined by a pipe
#   limits        --memory --cpus --pids-limit are back after the restore
#   bigmem        200 MiB and 4 threads over --export/--import
#   fds           workload-fds.py: eventfd, epoll, inotify, signalfd, memfd,
#                 pipe/socketpair data, OFD lock, unlinked mapped shm, a
#                 stopped child, a removed cwd
#   inotify       a watch on a dir of the /run tmpfs (made anew at restore)
#   fsnotify      fanotify inode, filesystem and mount marks on tmpfs (made
#                 anew at restore), an inotify watch and a fanotify mark on
#                 a dir bound from the host; in place and over export/import
#   inotify-root  a watch on a dir of the overlay root: refused by name
#   delexe        the executable a deleted file above --ghost-limit: refused
#   pod           a container of a pod over export, restored into a new pod
#   bigmem-limit  bigmem under --memory 240m (restored into its limit)
#   voldel        a file of a bind-mounted host dir open, deleted, written
#   stopped       a SIGSTOPped job (the v1 freezer once hung the checkpoint)
#   exec          a podman exec -d process: taken along or refused
# The checks are runc.sh's: the counter goes on from where it was (in
# /run/count, a tmpfs, and in `podman logs`), the token in the tmpfs is
# still there, and for tcp the data goes on over the same connection.
#
# Podman runs with its own storage and containers.conf under the work dir
# (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF): a runtime "runc" that is
# /usr/sbin/runc --criu OUR_CRIU, and rlimits this machine lets runc set
# (no CAP_SYS_RESOURCE here: podman's default nofile/nproc hard limits are
# above the session's).
set -uo pipefail
rt=podman
. "$(dirname "$0")/lib.sh"
ALL="basic tty leave-running pre-checkpoint export clone stats tcp userns userns-auto userns-clone python python-export python-pre pre-export nonet-tty confined hostconn hostconn-nat python-notcp devshm volume ignore fuse health readonly keep rootfs rootfs-open publish deleted tmpfs tree limits bigmem fds inotify fsnotify inotify-root delexe pod bigmem-limit voldel stopped exec"

[ "$(id -u)" = 0 ] || { echo "SKIP podman: needs root"; exit 0; }
need_pkgs podman runc busybox-static python3 iptables || { echo "SKIP podman: can't install podman"; exit 0; }
[ -x "$CRIU" ] || { echo "FAIL podman: no criu at $CRIU"; exit 1; }

pm=$(mktemp -d /tmp/podman-e2e.XXXXXX)
cat >"$pm/runc" <<EOF
#!/bin/sh
exec $(command -v runc) --criu "$CRIU" "\$@"
EOF
chmod +x "$pm/runc"
cat >"$pm/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:$(ulimit -Hn)", "nproc=4096:4096"]
[engine]
runtime = "runc"
events_logger = "file"
tmp_dir = "$pm/tmp"
[engine.runtimes]
runc = ["$pm/runc"]
EOF
cat >"$pm/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$pm/graph"
runroot = "$pm/run"
EOF
export CONTAINERS_CONF="$pm/containers.conf" CONTAINERS_STORAGE_CONF="$pm/storage.conf"
image=localhost/criu-e2e-busybox:latest

# podman's bridge network (netavark) turns on forwarding and adds its
# iptables chains for good: both are put back as they were
fwd=$(cat /proc/sys/net/ipv4/ip_forward)
had_netavark=$(iptables -S NETAVARK_FORWARD >/dev/null 2>&1 && echo 1)
netavark_cleanup() {
	iptables -D FORWARD -m comment --comment "netavark firewall plugin rules" -j NETAVARK_FORWARD
	iptables -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j NETAVARK-HOSTPORT-DNAT
	iptables -t nat -D OUTPUT -m addrtype --dst-type LOCAL -j NETAVARK-HOSTPORT-DNAT
	iptables -t nat -D POSTROUTING -j NETAVARK-HOSTPORT-MASQ
	iptables -F NETAVARK_FORWARD && iptables -X NETAVARK_FORWARD
	for c in NETAVARK-HOSTPORT-DNAT NETAVARK-HOSTPORT-MASQ NETAVARK-HOSTPORT-SETMARK; do
		iptables -t nat -F "$c" && iptables -t nat -X "$c"
	done
} >/dev/null 2>&1

all_cleanup() {
	podman rm -af -t 0 >/dev/null 2>&1
	podman rmi -af >/dev/null 2>&1
	[ -n "$had_netavark" ] || netavark_cleanup
	echo "$fwd" >/proc/sys/net/ipv4/ip_forward
	# podman's overlay mounts under the graph root go with its storage
	grep -o " $pm/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
	[ -n "$keep" ] || rm -rf "$pm"
}
trap all_cleanup EXIT

mkdir -p "$pm/rootfs"
busybox_rootfs "$pm/rootfs"
workload_sh >"$pm/rootfs/workload.sh"
workload_tcp_sh >"$pm/rootfs/workload-tcp.sh"
# the volume variant: the counter also goes to a volume and a host file
workload_sh | sed 's|echo "count $i"|echo "count $i"; echo $i >>/data/log; echo $i >\&7|; 1i exec 7>/hostfile' >"$pm/rootfs/workload-vol.sh"
cp "$(dirname "$0")/workload.py" "$(dirname "$0")/workload-fds.py" "$pm/rootfs/"
ln -s usr/lib64 "$pm/rootfs/lib64"; ln -s usr/lib "$pm/rootfs/lib"
{ echo 'exec 8<>/dev/fuse'; workload_sh; } >"$pm/rootfs/workload-fuse.sh"
workload_sh | sed 's|echo "count $i"|echo "count $i"; echo $i >\&9|; 1i mkdir -p /var; exec 9>>/var/app.log' >"$pm/rootfs/workload-log.sh"
# an http server (busybox httpd, in the foreground) beside the counter
{ echo 'httpd -p 8080 -h / &'; workload_sh; } >"$pm/rootfs/workload-http.sh"
# a file of the root (the overlay's upper layer) held open and deleted
workload_sh | sed 's|echo "count $i"|echo "count $i"; echo $i >\&9|; 1i mkdir -p /var; exec 9>>/var/del.log; echo start >\&9; rm /var/del.log' >"$pm/rootfs/workload-del.sh"
# a file of a --tmpfs /data held open, another one open and deleted
workload_sh | sed 's|echo "count $i"|echo "count $i"; echo $i >\&8; echo $i >\&9|; 1i exec 8>>/data/log; exec 9>>/data/gone; rm /data/gone' >"$pm/rootfs/workload-tmpfs.sh"
# busybox inotifyd watching a dir of the /run tmpfs: each new file's name
# goes to /run/events
cat >"$pm/rootfs/workload-inotify.py" <<'PY'
import ctypes, os, struct, time
libc = ctypes.CDLL(None, use_errno=True)
open("/run/token", "w").write(os.urandom(8).hex())
d = os.environ.get("WATCH", "/run/watched")
os.makedirs(d, exist_ok=True)
ino = libc.inotify_init1(os.O_NONBLOCK)
assert libc.inotify_add_watch(ino, d.encode(), 0x100) == 1  # IN_CREATE
i = 0
while True:
    i += 1
    try:
        buf = os.read(ino, 4096)
        while buf:
            _, _, _, n = struct.unpack("iIII", buf[:16])
            open("/run/events", "a").write(buf[16:16 + n].rstrip(b"\0").decode() + "\n")
            buf = buf[16 + n:]
    except BlockingIOError:
        pass
    open("/run/count", "w").write("%d\n" % i)
    print("count", i, flush=True)
    time.sleep(0.05)
PY
# watchers of many kinds in one process: WATCHES="KIND:DIR ..." with KIND
# ino (an inotify watch), fan (a fanotify inode mark), fanfs (a mark on
# the dir's filesystem) or fanmnt (on its mount); every file made in a dir
# goes to /run/events as "KIND:DIR NAME". fanotify: FID events, no event fd
# (podman's seccomp profile lets fanotify_init through with CAP_SYS_ADMIN)
cat >"$pm/rootfs/workload-fsnotify.py" <<'PY'
import ctypes, os, struct, sys, time
libc = ctypes.CDLL(None, use_errno=True)
count = not os.environ.get("NOCOUNT")
if count:
    open("/run/token", "w").write(os.urandom(8).hex())
fds = []
for spec in os.environ["WATCHES"].replace(",", " ").split():
    kind, d = spec.split(":", 1)
    os.makedirs(d, exist_ok=True)
    if kind == "ino":
        fd = libc.inotify_init1(os.O_NONBLOCK)
        ok = fd >= 0 and libc.inotify_add_watch(fd, d.encode(), 0x100) >= 0  # IN_CREATE
    else:
        # FAN_CLASS_NOTIF | FAN_NONBLOCK | FAN_REPORT_DFID_NAME
        fd = libc.fanotify_init(0x2 | 0xc00, os.O_RDONLY)
        # FAN_CREATE | FAN_ONDIR | FAN_EVENT_ON_CHILD; a mount mark has no
        # dirent events: FAN_CLOSE_WRITE
        flags, ev = {"fan": (0, 0x100 | 0x40000000), "fanfs": (0x100, 0x100 | 0x40000000),
                     "fanmnt": (0x10, 0x8)}[kind]
        ok = fd >= 0 and libc.fanotify_mark(fd, 0x1 | flags, ctypes.c_uint64(ev | 0x08000000), -100, d.encode()) == 0
    if not ok:
        sys.exit("%s: %s" % (spec, os.strerror(ctypes.get_errno())))
    fds.append((spec, kind, fd))
i = 0
while True:
    i += 1
    for spec, kind, fd in fds:
        try:
            buf = os.read(fd, 4096)
        except BlockingIOError:
            continue
        while buf:
            if kind == "ino":
                _, _, _, n = struct.unpack("iIII", buf[:16])
                name, elen = buf[16:16 + n], 16 + n
            else:
                # the metadata, one info record: header, fsid, file handle, the name
                elen, _, _, mlen = struct.unpack("IBBH", buf[:8])
                ilen = struct.unpack("H", buf[mlen + 2:mlen + 4])[0]
                hb = struct.unpack("I", buf[mlen + 12:mlen + 16])[0]
                name = buf[mlen + 20 + hb:mlen + ilen]
            open("/run/events", "a").write("%s %s\n" % (spec, name.split(b"\0")[0].decode()))
            buf = buf[elen:]
    if count:
        open("/run/count", "w").write("%d\n" % i)
        print("count", i, flush=True)
    time.sleep(0.05)
PY
# userns-auto's: the watchers (one on /d/vol apart) beside the python workload
cat >"$pm/rootfs/workload-userns.sh" <<'SH'
NOCOUNT=1 /usr/bin/python3 /workload-fsnotify.py &
NOCOUNT=1 WATCHES=ino:/d/vol /usr/bin/python3 /workload-fsnotify.py &
echo $! > /run/badwatch.pid
exec /usr/bin/python3 /workload.py
SH
# the shell runs from a copy of busybox in the root, deleted (an upgrade
# under a running program)
{ echo '[ -n "$DELEXE" ] || { mkdir -p /var; cp /bin/busybox /var/sh; DELEXE=1 exec /var/sh /workload-delexe.sh; }; rm -f /var/sh'; workload_sh; } >"$pm/rootfs/workload-delexe.sh"
# a file of a bind-mounted host dir held open and deleted
workload_sh | sed 's|echo "count $i"|echo "count $i"; echo $i >\&9|; 1i exec 9>>/vol/del.log; echo start >\&9; rm /vol/del.log' >"$pm/rootfs/workload-voldel.sh"
# a job stopped by SIGSTOP beside the counter
{ echo 'sleep 100000 & echo $! > /run/stopped; kill -STOP $!'; workload_sh; } >"$pm/rootfs/workload-stop.sh"
# a tree: a writer and a reader joined by a pipe, in the background
{ echo '(j=0; while :; do j=$((j+1)); echo $j; sleep 0.05; done) | (while read l; do echo $l > /run/piped; done) &'; workload_sh; } >"$pm/rootfs/workload-tree.sh"
# 200 MiB of memory, a pattern each page; threads that each keep a counter
cat >"$pm/rootfs/workload-mem.py" <<'PY'
import hashlib, os, threading, time
open("/run/token", "w").write(os.urandom(8).hex())
mb = int(os.environ.get("MEM_MB", "200"))
buf = bytearray(mb << 20)
for off in range(0, len(buf), 4096):
    buf[off:off + 8] = off.to_bytes(8, "little")
digest = hashlib.sha1(buf).hexdigest()
counts = [0] * 4
def work(n):
    while True:
        counts[n] += 1
        time.sleep(0.01)
for n in range(4):
    threading.Thread(target=work, args=(n,), daemon=True).start()
# a thread stopped: one whose counter did not move over 3 rounds in a row.
# One round is not enough: python's sleeps end at a monotonic deadline,
# so after a restore every thread wakes at once, and the main thread may
# look before a worker got the GIL back (its window held the whole
# checkpoint: "a thread stopped" once under --memory 218m, and in about
# half the C/R rounds of a 1 MiB copy under criu's command line)
still = [0] * 4
i = 0
while True:
    i += 1
    if i % 20 == 0 and hashlib.sha1(buf).hexdigest() != digest:
        open("/run/bad", "a").write("the memory changed\n")
    seen = list(counts)
    time.sleep(0.05)
    still = [s + 1 if a == b else 0 for s, a, b in zip(still, seen, counts)]
    if i > 5 and max(still) >= 3:
        open("/run/bad", "a").write("a thread stopped: counts %s for %d rounds\n" % (counts, max(still)))
    open("/run/count", "w").write("%d\n" % i)
    print("count", i, flush=True)
PY
tar -C "$pm/rootfs" -c . | podman import -q - "$image" >/dev/null ||
	{ echo "FAIL podman/import: podman import of a busybox rootfs"; echo "podman: 0 passed, 1 failed, 0 skipped"; exit 1; }

ctr_pid() { podman inspect -f '{{.State.Pid}}' "$ctr" 2>/dev/null; }
last_out() { podman logs "$ctr" 2>/dev/null | tr -d '\r' | grep -a '^count ' | tail -1 | cut -d' ' -f2; }

start() {
	local script=${1:-/workload.sh} interp=sh
	case $script in *.py) interp=/usr/bin/python3 ;; esac
	ctr=e2e-$case-$$
	podman run -d ${TTY:-} ${PM_ARGS:-} --name "$ctr" --mount type=tmpfs,destination=/run "$image" $interp "$script" \
		>"$cwork/run.out" 2>&1 || { fail "podman run: $(tail -1 "$cwork/run.out")"; return 1; }
	pid=$(ctr_pid)
	[ -n "$pid" ] && [ "$pid" != 0 ] && wait_count "/proc/$pid/root" 5 ||
		{ fail "the container does not count: $(podman logs "$ctr" 2>&1 | tail -3 | tr '\n' ' ')"; return 1; }
	token=$(cat "/proc/$pid/root/run/token")
}

pm_do() {
	local what=$1
	shift
	podman container "$what" "$@" >"$cwork/$what.out" 2>&1 && return 0
	fail "podman container $what $*: $(grep -v '^$' "$cwork/$what.out" | tail -2 | tr '\n' ' ')"
	# criu's logs are in the container's bundle, under podman's storage
	grep -h -a -m5 Error "$pm"/graph/overlay-containers/*/userdata/{dump,restore}.log 2>/dev/null | sed 's/^/    /'
	return 1
}

check_restored() {
	local before=$1 now out
	[ "$(podman inspect -f '{{.State.Status}}' "$ctr" 2>/dev/null)" = running ] ||
		{ fail "podman does not see it running"; return 1; }
	pid=$(ctr_pid)
	now=$(count_of "/proc/$pid/root")
	[ "$now" -ge "$before" ] || { fail "the counter started again ($now after $before)"; return 1; }
	[ "$(cat "/proc/$pid/root/run/token" 2>/dev/null)" = "$token" ] ||
		{ fail "the token in the tmpfs is gone"; return 1; }
	wait_count "/proc/$pid/root" $((now + 3)) || { fail "the counter does not go on (stuck at $now)"; return 1; }
	for _ in $(seq 30); do
		out=$(last_out)
		[ "${out:-0}" -gt "$before" ] && return 0
		sleep 0.1
	done
	fail "no output in podman logs after the restore (last: ${out:-none})"
	return 1
}

case_basic() {
	local before
	start || return
	pm_do checkpoint "$ctr" || return
	before=$(last_out)
	pm_do restore "$ctr" || return
	check_restored "${before:-1}" && pass
}

case_tty() {
	local before
	TTY=-t start || return
	case $(readlink "/proc/$pid/fd/1") in
	/dev/pts/*) ;;
	*) fail "stdout is $(readlink "/proc/$pid/fd/1"), not a pty"; return ;;
	esac
	pm_do checkpoint "$ctr" || return
	before=$(last_out)
	pm_do restore "$ctr" || return
	check_restored "${before:-1}" || return
	case $(readlink "/proc/$pid/fd/1") in
	/dev/pts/*) pass ;;
	*) fail "restored stdout is $(readlink "/proc/$pid/fd/1"), not a pty" ;;
	esac
}

case_leave-running() {
	local n before
	start || return
	pm_do checkpoint --leave-running "$ctr" || return
	n=$(count_of "/proc/$pid/root")
	wait_count "/proc/$pid/root" $((n + 3)) || { fail "not left running"; return; }
	podman stop -t 0 "$ctr" >/dev/null 2>&1
	before=$(last_out)
	# restore goes back to the dump's state: its counter, lower than $before
	pm_do restore "$ctr" || return
	check_restored 1 && pass
}

# podman's pre-copy: runc checkpoint --pre-dump into the bundle's pre-checkpoint
# dir, then a checkpoint whose parent it is (runc --parent-path)
case_pre-checkpoint() {
	local before
	"$CRIU" check --feature mem_dirty_track >/dev/null 2>&1 ||
		{ skip "this criu has no memory tracking (criu check --feature mem_dirty_track)"; return; }
	start || return
	pm_do checkpoint --pre-checkpoint "$ctr" || return
	[ "$(podman inspect -f '{{.State.Status}}' "$ctr" 2>/dev/null)" = running ] ||
		{ fail "not running after the pre-checkpoint"; return; }
	sleep 0.3
	pm_do checkpoint --with-previous "$ctr" || return
	# podman keeps no dump.log after a checkpoint that worked: the chain's link is what shows
	ls "$pm"/graph/overlay-containers/*/userdata/checkpoint/parent >/dev/null 2>&1 ||
		{ fail "the checkpoint has no parent link to the pre-checkpoint's images"; return; }
	before=$(last_out)
	pm_do restore "$ctr" || return
	check_restored "${before:-1}" && pass
}

case_export() {
	local before
	start || return
	pm_do checkpoint --export "$cwork/ctr.tar.gz" "$ctr" || return
	before=$(last_out)
	podman rm -f "$ctr" >/dev/null 2>&1
	[ -s "$cwork/ctr.tar.gz" ] || { fail "no exported tarball"; return; }
	if command -v zstd >/dev/null; then
		tar -I zstd -tf "$cwork/ctr.tar.gz" >"$cwork/ctr.list" 2>&1
		grep -q '^checkpoint/inventory.img$' "$cwork/ctr.list" ||
			{ fail "no checkpoint/inventory.img in the tarball"; return; }
	fi
	pm_do restore --import "$cwork/ctr.tar.gz" || return
	# the logs are the new container's: the count in them must still go on from $before
	check_restored "${before:-1}" && pass
}

# clone: checkpoint --leave-running --export, then restore --import --name
# a second container from it while the first one runs on (a new static IP)
case_clone() {
	local before orig
	start || return
	# read before: the original counts on after the checkpoint, the clone from where it was taken
	before=$(count_of "/proc/$pid/root")
	pm_do checkpoint --leave-running --export "$cwork/ctr.tar.gz" "$ctr" || return
	orig=$ctr
	ctr=$orig-clone
	pm_do restore --import "$cwork/ctr.tar.gz" --name "$ctr" || { ctr=$orig; return; }
	check_restored "${before:-1}" || { podman rm -f "$orig" >/dev/null 2>&1; return; }
	[ "$(podman inspect -f '{{.State.Status}}' "$orig" 2>/dev/null)" = running ] ||
		{ podman rm -f "$orig" >/dev/null 2>&1; fail "the original stopped"; return; }
	podman rm -f "$orig" >/dev/null 2>&1
	pass
}

# stats_field FILE KEY: the value of KEY in podman's --print-stats JSON.
stats_field() {
	python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
print(d["container_statistics"][0]["criu_statistics"].get(sys.argv[2], 0))' "$1" "$2" 2>/dev/null || echo 0
}

case_stats() {
	local before
	start || return
	pm_do checkpoint --print-stats "$ctr" || return
	[ "$(stats_field "$cwork/checkpoint.out" pages_written)" -gt 0 ] &&
		[ "$(stats_field "$cwork/checkpoint.out" frozen_time)" -gt 0 ] ||
		{ fail "checkpoint --print-stats: $(tr -d '\n ' <"$cwork/checkpoint.out" | head -c 300)"; return; }
	before=$(last_out)
	pm_do restore --print-stats "$ctr" || return
	[ "$(stats_field "$cwork/restore.out" pages_restored)" -gt 0 ] &&
		[ "$(stats_field "$cwork/restore.out" restore_time)" -gt 0 ] ||
		{ fail "restore --print-stats: $(tr -d '\n ' <"$cwork/restore.out" | head -c 300)"; return; }
	check_restored "${before:-1}" && pass
}

case_tcp() {
	local before got
	start /workload-tcp.sh || return
	for _ in $(seq 30); do [ -s "/proc/$pid/root/run/tcp" ] && break; sleep 0.1; done
	[ -s "/proc/$pid/root/run/tcp" ] || { fail "no data over the TCP connection before the dump"; return; }
	pm_do checkpoint --tcp-established "$ctr" || return
	before=$(last_out)
	pm_do restore --tcp-established "$ctr" || return
	check_restored "${before:-1}" || return
	for _ in $(seq 30); do
		got=$(tail -1 "/proc/$pid/root/run/tcp" 2>/dev/null)
		[ "${got:-0}" -gt "${before:-1}" ] && break
		sleep 0.1
	done
	[ "${got:-0}" -gt "${before:-1}" ] || { fail "nothing new over the TCP connection (last ${got:-none})"; return; }
	pass
}

case_userns() {
	local before
	TTY=-t PM_ARGS="-v /usr:/usr:ro --uidmap 0:200000:65536 --gidmap 0:200000:65536" start /workload.py || return
	pm_do checkpoint --tcp-established --file-locks "$ctr" || return
	before=$(last_out)
	pm_do restore --tcp-established --file-locks "$ctr" || return
	check_restored "${before:-1}" || return
	grep -q '^ *0 *200000 *65536$' "/proc/$pid/uid_map" || { fail "not in the user namespace: $(cat "/proc/$pid/uid_map")"; return; }
	sleep 0.3
	[ -e "/proc/$pid/root/run/bad" ] && { fail "the workload says: $(sort -u "/proc/$pid/root/run/bad" | tr '\n' ' ')"; return; }
	pass
}

# podman's --userns=auto takes its ranges from the "containers" entries of
# /etc/subuid and /etc/subgid: a line for the case, taken out again
subid_line="containers:600000:200000"
subid_add() {
	local f
	for f in /etc/subuid /etc/subgid; do
		grep -qx "$subid_line" "$f" 2>/dev/null || { echo "$subid_line" >>"$f"; subid_added=1; }
	done
}
subid_del() {
	local f
	[ -n "${subid_added:-}" ] || return 0
	for f in /etc/subuid /etc/subgid; do
		sed -i "/^$subid_line\$/d" "$f"
	done
	subid_added=
}

# userns-auto: a container of --userns=auto (its restore runs as its root
# there): the python workload (files, a pipe, threads, the /run tmpfs, a
# listening socket, an http keep-alive connection) and watchers on tmpfs
# the restore makes anew (an inotify watch and a fanotify inode mark on
# /run/watched, a filesystem mark on --tmpfs /watch, a mount mark on
# --tmpfs /watch2: found by path); first with one more inotify watch, on a
# dir bound from the host: refused naming it, the container running on;
# that watcher killed, in place then over --export/--import
case_userns-auto() {
	local before how map n w="ino:/run/watched fan:/run/watched fanfs:/watch fanmnt:/watch2"
	subid_add
	mkdir -p "$cwork/vol"
	# the bound dir one level down: podman mounts /usr, a bind of the same
	# filesystem, first, and the dump once named the watch "/" (its path
	# through /usr)
	PM_ARGS="-v /usr:/usr:ro --userns=auto --cap-add SYS_ADMIN --tmpfs /watch --tmpfs /watch2 -v $cwork/vol:/d/vol --env WATCHES=$(echo $w | tr ' ' ,)" \
		start /workload-userns.sh || return
	map=$(tr -s ' ' <"/proc/$pid/uid_map" | sed 's/^ //')
	case $map in "0 0 "*|"") fail "not in a user namespace of its own: $map"; return ;; esac
	fsnotify_check before $w || return
	podman container checkpoint --tcp-established --file-locks "$ctr" >"$cwork/checkpoint.out" 2>&1 &&
		{ fail "the checkpoint with a watch on /d/vol worked"; return; }
	grep -h -a Error "$pm"/graph/overlay-containers/*/userdata/dump.log | grep -q "inotify fd [0-9]* watches /d/vol " ||
		{ fail "dump.log does not name /d/vol: $(grep -h -a -m2 Error "$pm"/graph/overlay-containers/*/userdata/dump.log | tr '\n' ' ')"; return; }
	[ "$(podman inspect -f '{{.State.Status}}' "$ctr" 2>/dev/null)" = running ] || { fail "not running after the refused checkpoint"; return; }
	n=$(count_of "/proc/$pid/root")
	wait_count "/proc/$pid/root" $((n + 3)) || { fail "the counter stopped after the refused checkpoint"; return; }
	podman exec "$ctr" sh -c 'kill $(cat /run/badwatch.pid)'
	for how in inplace export; do
		if [ $how = export ]; then
			pm_do checkpoint --tcp-established --file-locks --export "$cwork/ctr.tar.gz" "$ctr" || return
			before=$(last_out)
			podman rm -f "$ctr" >/dev/null 2>&1
			pm_do restore --tcp-established --file-locks --import "$cwork/ctr.tar.gz" || return
		else
			pm_do checkpoint --tcp-established --file-locks "$ctr" || return
			before=$(last_out)
			pm_do restore --tcp-established --file-locks "$ctr" || return
		fi
		check_restored "${before:-1}" || return
		[ "$(tr -s ' ' <"/proc/$pid/uid_map" | sed 's/^ //')" = "$map" ] ||
			{ fail "$how: uid_map was $map, now $(cat "/proc/$pid/uid_map")"; return; }
		fsnotify_check $how $w || return
		sleep 0.3
		[ -e "/proc/$pid/root/run/bad" ] && { fail "$how: the workload says: $(sort -u "/proc/$pid/root/run/bad" | tr '\n' ' ')"; return; }
	done
	pass
}

# userns-clone: a container of --userns=auto cloned (checkpoint
# --leave-running --export, restore --import --name) while it runs on:
# the clone's restore runs as its root in a bundle that root can't search
# (it failed: "can't open the current directory: Permission denied");
# workload-fds.py (an inotify watch on /run among its objects)
case_userns-clone() {
	local before orig
	subid_add
	PM_ARGS="-v /usr:/usr:ro --userns=auto" start /workload-fds.py || return
	before=$(count_of "/proc/$pid/root")
	pm_do checkpoint --leave-running --file-locks --export "$cwork/ctr.tar.gz" "$ctr" || return
	orig=$ctr
	ctr=$orig-clone
	pm_do restore --file-locks --import "$cwork/ctr.tar.gz" --name "$ctr" || { podman rm -f "$orig" >/dev/null 2>&1; return; }
	check_restored "${before:-1}" || { podman rm -f "$orig" >/dev/null 2>&1; return; }
	podman exec "$ctr" touch /run/go
	for _ in $(seq 30); do [ -e "/proc/$pid/root/run/checked" ] && break; sleep 0.1; done
	podman rm -f -t 0 "$orig" >/dev/null 2>&1
	[ -e "/proc/$pid/root/run/checked" ] || { fail "the clone did not read its one-shot objects"; return; }
	[ -e "/proc/$pid/root/run/bad" ] && { fail "the clone says: $(sort -u "/proc/$pid/root/run/bad" | tr '\n' ' ')"; return; }
	pass
}

# devshm: a file in the container's /dev/shm (podman tars it itself on
# --export: devshm-checkpoint.tar) survives an export/import
case_devshm() {
	local before
	start || return
	echo "shm-$token" >"/proc/$pid/root/dev/shm/data"
	pm_do checkpoint --export "$cwork/ctr.tar.gz" "$ctr" || return
	before=$(last_out)
	podman rm -f "$ctr" >/dev/null 2>&1
	pm_do restore --import "$cwork/ctr.tar.gz" || return
	check_restored "${before:-1}" || return
	[ "$(cat "/proc/$pid/root/dev/shm/data" 2>/dev/null)" = "shm-$token" ] ||
		{ fail "/dev/shm/data is gone"; return; }
	pass
}

# volume: a named volume and a bind of a host file, written by the
# workload while it runs (the file stays open in the shell)
case_volume() {
	local before
	echo host >"$cwork/hostfile"
	podman volume create "vol$$" >/dev/null 2>&1
	PM_ARGS="-v vol$$:/data -v $cwork/hostfile:/hostfile" start /workload-vol.sh || { podman volume rm -f "vol$$" >/dev/null 2>&1; return; }
	pm_do checkpoint "$ctr" || { podman volume rm -f "vol$$" >/dev/null 2>&1; return; }
	before=$(last_out)
	pm_do restore "$ctr" || { podman volume rm -f "vol$$" >/dev/null 2>&1; return; }
	check_restored "${before:-1}" || { podman volume rm -f "vol$$" >/dev/null 2>&1; return; }
	sleep 0.3
	[ "$(tail -1 "/proc/$pid/root/data/log")" -gt "${before:-1}" ] 2>/dev/null ||
		{ fail "the volume's log does not go on: $(tail -1 "/proc/$pid/root/data/log")"; podman rm -f -t 0 "$ctr" >/dev/null 2>&1; podman volume rm -f "vol$$" >/dev/null 2>&1; return; }
	grep -q "^[0-9]" "$cwork/hostfile" || { fail "the host file is not written after the restore"; }
	podman rm -f -t 0 "$ctr" >/dev/null 2>&1
	podman volume rm -f "vol$$" >/dev/null 2>&1
	grep -q "^[0-9]" "$cwork/hostfile" && pass
}

# readonly: --read-only root with --tmpfs /tmp holding a file
case_readonly() {
	local before
	PM_ARGS="--read-only --tmpfs /tmp" start || return
	echo "tmp-$token" >"/proc/$pid/root/tmp/data"
	pm_do checkpoint "$ctr" || return
	before=$(last_out)
	pm_do restore "$ctr" || return
	check_restored "${before:-1}" || return
	[ "$(cat "/proc/$pid/root/tmp/data" 2>/dev/null)" = "tmp-$token" ] || { fail "/tmp/data is gone"; return; }
	touch "/proc/$pid/root/ro-probe" 2>/dev/null && { fail "the root is writable after the restore"; return; }
	pass
}

# keep: checkpoint --keep leaves the images; restore --keep too
case_keep() {
	local before
	start || return
	pm_do checkpoint --keep "$ctr" || return
	before=$(last_out)
	ls "$pm"/graph/overlay-containers/*/userdata/checkpoint/inventory.img >/dev/null 2>&1 ||
		{ fail "no images kept"; return; }
	pm_do restore --keep "$ctr" || return
	check_restored "${before:-1}" && pass
}

# rootfs: a file written in the container's root (rootfs-diff.tar) and one
# deleted (deleted.files) carry over an export/import; then --ignore-rootfs
case_rootfs() {
	local before
	start || return
	echo "root-$token" >"/proc/$pid/root/etc/data"
	rm -f "/proc/$pid/root/etc/group"
	pm_do checkpoint --export "$cwork/ctr.tar.gz" "$ctr" || return
	before=$(last_out)
	podman rm -f "$ctr" >/dev/null 2>&1
	pm_do restore --import "$cwork/ctr.tar.gz" || return
	check_restored "${before:-1}" || return
	[ "$(cat "/proc/$pid/root/etc/data" 2>/dev/null)" = "root-$token" ] || { fail "/etc/data is gone"; return; }
	[ -e "/proc/$pid/root/etc/group" ] && { fail "/etc/group is back"; return; }
	pass
}

# publish: restore --import --publish a new port map of a clone
case_publish() {
	local before orig
	PM_ARGS="-p 127.0.0.1:18080:8080" start /workload-http.sh || return
	pm_do checkpoint --leave-running --export "$cwork/ctr.tar.gz" "$ctr" || return
	orig=$ctr
	ctr=$orig-pub
	pm_do restore --import "$cwork/ctr.tar.gz" --name "$ctr" --publish 127.0.0.1:18081:8080 || { ctr=$orig; return; }
	pid=$(ctr_pid)
	busybox wget -q -O - http://127.0.0.1:18081/run/token 2>/dev/null | grep -q "$token" ||
		{ podman rm -f -t 0 "$orig" >/dev/null 2>&1; fail "no answer on the new port"; return; }
	busybox wget -q -O - http://127.0.0.1:18080/run/token 2>/dev/null | grep -q "$token" ||
		{ podman rm -f -t 0 "$orig" >/dev/null 2>&1; fail "no answer from the original"; return; }
	podman rm -f -t 0 "$orig" >/dev/null 2>&1
	pass
}

# python: the host's python3 (/usr bound read-only) runs workload.py: SysV
# and POSIX shm, a flock, a zombie, threads, an http server with a
# keep-alive client; checkpoint --tcp-established --file-locks and restore;
# the workload checks its own state each round (/run/bad)
case_python() {
	local before
	PM_ARGS="-v /usr:/usr:ro" start /workload.py || return
	pm_do checkpoint --tcp-established --file-locks "$ctr" || return
	before=$(last_out)
	pm_do restore --tcp-established --file-locks "$ctr" || return
	check_restored "${before:-1}" || return
	sleep 0.3
	[ -e "/proc/$pid/root/run/bad" ] && { fail "the workload says: $(sort -u "/proc/$pid/root/run/bad" | tr '\n' ' ')"; return; }
	pass
}

# python-export: the same, through --export/--import (podman's tarballs of
# /dev/shm and of the rootfs changes put the files back)
case_python-export() {
	local before
	PM_ARGS="-v /usr:/usr:ro" start /workload.py || return
	pm_do checkpoint --tcp-established --file-locks --export "$cwork/ctr.tar.gz" "$ctr" || return
	before=$(last_out)
	podman rm -f "$ctr" >/dev/null 2>&1
	pm_do restore --tcp-established --file-locks --import "$cwork/ctr.tar.gz" || return
	check_restored "${before:-1}" || return
	sleep 0.3
	[ -e "/proc/$pid/root/run/bad" ] && { fail "the workload says: $(sort -u "/proc/$pid/root/run/bad" | tr '\n' ' ')"; return; }
	pass
}

# python-pre: --pre-checkpoint then --with-previous of the python workload
case_python-pre() {
	local before
	"$CRIU" check --feature mem_dirty_track >/dev/null 2>&1 ||
		{ skip "this criu has no memory tracking"; return; }
	PM_ARGS="-v /usr:/usr:ro" start /workload.py || return
	pm_do checkpoint --pre-checkpoint "$ctr" || return
	sleep 0.3
	pm_do checkpoint --with-previous --tcp-established --file-locks "$ctr" || return
	before=$(last_out)
	pm_do restore --tcp-established --file-locks "$ctr" || return
	check_restored "${before:-1}" || return
	sleep 0.3
	[ -e "/proc/$pid/root/run/bad" ] && { fail "the workload says: $(sort -u "/proc/$pid/root/run/bad" | tr '\n' ' ')"; return; }
	pass
}

# hostconn: a client on the host holds a TCP connection to the container
# (its address, or with nat its published port on 127.0.0.1) across
# checkpoint/restore --tcp-established (in place).
# nat: the last container of podman's bridge network going (the checkpoint)
# takes the bridge down with it (netavark), and the kernel then drops the
# conntrack entries MASQUERADE made through it: the restored socket's
# packets reach the host un-NATed and get a reset, whatever criu did. So
# another container ("keeper") stays on the network meanwhile.
case_hostconn-nat() {
	HOSTCONN_KEEPER=1 HOSTCONN_ADDR=127.0.0.1:18090 case_hostconn
}

case_hostconn() {
	local before
	local addr=${HOSTCONN_ADDR:-}
	[ -n "${HOSTCONN_KEEPER:-}" ] && podman run -d --name "keeper$$" "$image" sleep 1000 >/dev/null
	PM_ARGS="-v /usr:/usr:ro -p 127.0.0.1:18090:8001" start /workload.py || return
	[ -n "$addr" ] || addr=$(podman inspect -f '{{.NetworkSettings.IPAddress}}' "$ctr"):8001
	python3 - "$cwork" "$addr" >"$cwork/client.out" 2>&1 <<'PY' &
import socket, sys, time
h, p = sys.argv[2].rsplit(":", 1)
s = socket.create_connection((h, int(p)))
open(sys.argv[1] + "/connected", "w").close()
while True:
    d = s.recv(100)
    if not d:
        print("closed"); break
    print(d.decode().strip(), flush=True)
PY
	cpid=$!
	for _ in $(seq 30); do [ -e "$cwork/connected" ] && break; sleep 0.1; done
	sleep 0.3
	pm_do checkpoint --tcp-established --file-locks "$ctr" || { kill $cpid; return; }
	before=$(tail -1 "$cwork/client.out")
	pm_do restore --tcp-established --file-locks "$ctr" || { kill $cpid; return; }
	check_restored 1 || { kill $cpid; return; }
	sleep 0.5
	kill $cpid 2>/dev/null; wait $cpid 2>/dev/null
	podman rm -f -t 0 "keeper$$" >/dev/null 2>&1
	[ "$(tail -1 "$cwork/client.out")" != "$before" ] && ! grep -q closed "$cwork/client.out" ||
		{ fail "the host's connection does not go on: $(tail -2 "$cwork/client.out" | tr '\n' ' '); the workload says: $(sort -u "/proc/$pid/root/run/bad" 2>&1 | tr '\n' ' ')"; return; }
	pass
}

# ignore: --export with --ignore-rootfs --ignore-volumes, restored from a
# volume that is still there (the workload's open log in it)
case_ignore() {
	local before
	podman volume create "vol$$" >/dev/null 2>&1
	echo host >"$cwork/hostfile"
	PM_ARGS="-v vol$$:/data -v $cwork/hostfile:/hostfile" start /workload-vol.sh || { podman volume rm -f "vol$$" >/dev/null 2>&1; return; }
	pm_do checkpoint --ignore-rootfs --ignore-volumes --export "$cwork/ctr.tar.gz" "$ctr" || { podman volume rm -f "vol$$" >/dev/null 2>&1; return; }
	before=$(last_out)
	podman rm -f "$ctr" >/dev/null 2>&1
	pm_do restore --ignore-rootfs --ignore-volumes --import "$cwork/ctr.tar.gz" || { podman volume rm -f "vol$$" >/dev/null 2>&1; return; }
	check_restored "${before:-1}" || { podman volume rm -f "vol$$" >/dev/null 2>&1; return; }
	podman rm -f -t 0 "$ctr" >/dev/null 2>&1
	podman volume rm -f "vol$$" >/dev/null 2>&1
	pass
}

# fuse: --device /dev/fuse, held open by the workload (a character device
# fd, no fuse mount)
case_fuse() {
	local before
	[ -c /dev/fuse ] || { skip "no /dev/fuse"; return; }
	PM_ARGS="--device /dev/fuse" start /workload-fuse.sh || return
	pm_do checkpoint "$ctr" || return
	before=$(last_out)
	pm_do restore "$ctr" || return
	check_restored "${before:-1}" && pass
}

# health: a container with a healthcheck (podman runs it with exec, a
# process that comes and goes in the container)
case_health() {
	local before st
	PM_ARGS="--health-cmd /bin/true --health-interval 1s" start || return
	pm_do checkpoint "$ctr" || return
	before=$(last_out)
	pm_do restore "$ctr" || return
	check_restored "${before:-1}" || return
	podman healthcheck run "$ctr" >/dev/null 2>&1 || { fail "podman healthcheck run fails after the restore"; return; }
	pass
}

# python-notcp: the python workload's TCP connections without
# --tcp-established (podman refuses that flag with restore --name, so no
# clone of it): the checkpoint fails naming the socket, the container runs on
case_python-notcp() {
	local n
	PM_ARGS="-v /usr:/usr:ro" start /workload.py || return
	podman container checkpoint --file-locks "$ctr" >"$cwork/checkpoint.out" 2>&1 &&
		{ fail "the checkpoint of established TCP connections without --tcp-established worked"; return; }
	grep -h -a Error "$pm"/graph/overlay-containers/*/userdata/dump.log 2>/dev/null | grep -q -i 'tcp.*established\|established.*tcp' ||
		{ fail "dump.log does not name the connection: $(grep -h -a -m3 Error "$pm"/graph/overlay-containers/*/userdata/dump.log | tr '\n' ' ')"; return; }
	[ "$(podman inspect -f '{{.State.Status}}' "$ctr" 2>/dev/null)" = running ] || { fail "not running after the refused checkpoint"; return; }
	n=$(count_of "/proc/$pid/root")
	wait_count "/proc/$pid/root" $((n + 3)) || { fail "the counter stopped after the refused checkpoint"; return; }
	[ -e "/proc/$pid/root/run/bad" ] && { fail "the workload says: $(sort -u "/proc/$pid/root/run/bad" | tr '\n' ' ')"; return; }
	pass
}

# rootfs-open: a file of the container's root (the overlay's upper layer)
# held open and written: over export/import podman puts it back from
# rootfs-diff.tar (whole-second mtimes)
case_rootfs-open() {
	local before
	start /workload-log.sh || return
	pm_do checkpoint --export "$cwork/ctr.tar.gz" "$ctr" || return
	before=$(last_out)
	podman rm -f "$ctr" >/dev/null 2>&1
	pm_do restore --import "$cwork/ctr.tar.gz" || return
	check_restored "${before:-1}" || return
	sleep 0.3
	[ "$(tail -1 "/proc/$pid/root/var/app.log")" -gt "${before:-1}" ] 2>/dev/null ||
		{ fail "/var/app.log does not go on: $(tail -1 "/proc/$pid/root/var/app.log")"; return; }
	pass
}

# pre-export: --pre-checkpoint --export, then --with-previous --export;
# restored elsewhere with --import-previous and --import
case_pre-export() {
	local before
	"$CRIU" check --feature mem_dirty_track >/dev/null 2>&1 || { skip "no memory tracking"; return; }
	PM_ARGS="-v /usr:/usr:ro" start /workload.py || return
	pm_do checkpoint --pre-checkpoint --export "$cwork/pre.tar.gz" "$ctr" || return
	sleep 0.3
	pm_do checkpoint --with-previous --tcp-established --file-locks --export "$cwork/ctr.tar.gz" "$ctr" || return
	before=$(last_out)
	podman rm -f "$ctr" >/dev/null 2>&1
	pm_do restore --tcp-established --file-locks --import-previous "$cwork/pre.tar.gz" --import "$cwork/ctr.tar.gz" || return
	check_restored "${before:-1}" || return
	sleep 0.3
	[ -e "/proc/$pid/root/run/bad" ] && { fail "the workload says: $(sort -u "/proc/$pid/root/run/bad" | tr '\n' ' ')"; return; }
	pass
}

# nonet-tty: the python workload with --network none and a terminal (-t)
case_nonet-tty() {
	local before
	TTY=-t PM_ARGS="-v /usr:/usr:ro --network none" start /workload.py || return
	pm_do checkpoint --tcp-established --file-locks "$ctr" || return
	before=$(last_out)
	pm_do restore --tcp-established --file-locks "$ctr" || return
	check_restored "${before:-1}" || return
	sleep 0.3
	[ -e "/proc/$pid/root/run/bad" ] && { fail "the workload says: $(sort -u "/proc/$pid/root/run/bad" | tr '\n' ' ')"; return; }
	pass
}

# confined: --init (catatonit is pid 1, the workload its child),
# no capabilities, no_new_privs
case_confined() {
	local before w
	PM_ARGS="--init --cap-drop all --security-opt no-new-privileges" start || return
	pm_do checkpoint "$ctr" || return
	before=$(last_out)
	pm_do restore "$ctr" || return
	check_restored "${before:-1}" || return
	w=$(cat "/proc/$pid/task/$pid/children" | awk '{print $1}')
	[ -n "$w" ] && grep -q '^NoNewPrivs:.*1' "/proc/$w/status" &&
		grep -q '^CapEff:.*0000000000000000' "/proc/$w/status" ||
		{ fail "the workload (pid ${w:-none}) lost its no_new_privs or its empty capabilities"; return; }
	pass
}

# deleted: a file of the root (overlay upper layer) opened, deleted and
# written on: in place, then through --export/--import
case_deleted() {
	local before
	start /workload-del.sh || return
	pm_do checkpoint "$ctr" || return
	before=$(last_out)
	pm_do restore "$ctr" || return
	check_restored "${before:-1}" || return
	deleted_check "$before" || return
	pm_do checkpoint --export "$cwork/ctr.tar.gz" "$ctr" || return
	before=$(last_out)
	podman rm -f "$ctr" >/dev/null 2>&1
	pm_do restore --import "$cwork/ctr.tar.gz" || return
	check_restored "${before:-1}" || return
	deleted_check "$before" && pass
}

deleted_check() {
	local f=/proc/$pid/fd/9
	sleep 0.3
	case $(readlink "$f") in
	*"(deleted)") ;;
	*) fail "fd 9 is $(readlink "$f"), not the deleted file"; return 1 ;;
	esac
	[ -e "/proc/$pid/root/var/del.log" ] && { fail "/var/del.log came back"; return 1; }
	[ "$(head -1 "$f")" = start ] || { fail "the deleted file lost its start: $(head -1 "$f")"; return 1; }
	[ "$(tail -1 "$f")" -gt "$1" ] 2>/dev/null || { fail "the deleted file does not go on: $(tail -1 "$f")"; return 1; }
}

# tmpfs: --tmpfs /data with a file open and written and one open and deleted,
# in place and through --export/--import
case_tmpfs() {
	local before
	PM_ARGS="--tmpfs /data" start /workload-tmpfs.sh || return
	echo "keep-$token" >"/proc/$pid/root/data/keep"
	for how in inplace export; do
		if [ $how = export ]; then
			pm_do checkpoint --export "$cwork/ctr.tar.gz" "$ctr" || return
			before=$(last_out)
			podman rm -f "$ctr" >/dev/null 2>&1
			pm_do restore --import "$cwork/ctr.tar.gz" || return
		else
			pm_do checkpoint "$ctr" || return
			before=$(last_out)
			pm_do restore "$ctr" || return
		fi
		check_restored "${before:-1}" || return
		sleep 0.3
		[ "$(cat "/proc/$pid/root/data/keep" 2>/dev/null)" = "keep-$token" ] || { fail "$how: /data/keep is gone"; return; }
		[ "$(tail -1 "/proc/$pid/root/data/log")" -gt "${before:-1}" ] 2>/dev/null ||
			{ fail "$how: /data/log does not go on: $(tail -1 "/proc/$pid/root/data/log")"; return; }
		[ "$(head -1 "/proc/$pid/root/data/log")" = 1 ] || { fail "$how: /data/log lost its start"; return; }
		[ "$(tail -1 "/proc/$pid/fd/9")" -gt "${before:-1}" ] 2>/dev/null && [ "$(head -1 "/proc/$pid/fd/9")" = 1 ] ||
			{ fail "$how: the deleted /data/gone is not as it was: $(head -1 "/proc/$pid/fd/9") .. $(tail -1 "/proc/$pid/fd/9")"; return; }
	done
	pass
}

# tree: a writer and a reader joined by a pipe beside the counter
case_tree() {
	local before n
	start /workload-tree.sh || return
	pm_do checkpoint "$ctr" || return
	before=$(last_out)
	pm_do restore "$ctr" || return
	check_restored "${before:-1}" || return
	n=$(cat "/proc/$pid/root/run/piped")
	sleep 0.5
	[ "$(cat "/proc/$pid/root/run/piped")" -gt "${n:-0}" ] 2>/dev/null || { fail "the pipe's reader does not go on"; return; }
	pass
}

# cg_of PID CONTROLLER: the cgroup dir of PID in that v1 hierarchy (or v2)
cg_of() {
	local p
	p=$(awk -F: -v c="$2" '$2 == c || ($1 == 0 && c == "") { print $3 }' "/proc/$1/cgroup")
	echo "/sys/fs/cgroup/$2$p"
}

limits_of() {
	local p=$1
	if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
		cat "$(cg_of "$p" "")"/{memory.max,cpu.max,pids.max}
	else
		cat "$(cg_of "$p" memory)/memory.limit_in_bytes" "$(cg_of "$p" cpu,cpuacct)/cpu.cfs_quota_us" \
			"$(cg_of "$p" cpu,cpuacct)/cpu.cfs_period_us" "$(cg_of "$p" pids)/pids.max" 2>/dev/null ||
		cat "$(cg_of "$p" memory)/memory.limit_in_bytes" "$(cg_of "$p" cpu)/cpu.cfs_quota_us" \
			"$(cg_of "$p" cpu)/cpu.cfs_period_us" "$(cg_of "$p" pids)/pids.max"
	fi
}

# limits: --memory --cpus --pids-limit are the restored container's too
case_limits() {
	local before l0 l1
	PM_ARGS="--memory 300m --cpus 0.5 --pids-limit 77" start || return
	l0=$(limits_of "$pid" | tr '\n' ' ')
	case $l0 in *77*) ;; *) fail "no limits before: $l0"; return ;; esac
	pm_do checkpoint "$ctr" || return
	before=$(last_out)
	pm_do restore "$ctr" || return
	check_restored "${before:-1}" || return
	l1=$(limits_of "$pid" | tr '\n' ' ')
	[ "$l0" = "$l1" ] || { fail "limits were $l0, now $l1"; return; }
	pm_do checkpoint --export "$cwork/ctr.tar.gz" "$ctr" || return
	before=$(last_out)
	podman rm -f "$ctr" >/dev/null 2>&1
	pm_do restore --import "$cwork/ctr.tar.gz" || return
	check_restored "${before:-1}" || return
	l1=$(limits_of "$pid" | tr '\n' ' ')
	[ "$l0" = "$l1" ] || { fail "after --import limits were $l0, now $l1"; return; }
	pass
}

# bigmem: 200 MiB of memory and 4 threads, over --export/--import on the
# same host; the workload checks its memory and threads (/run/bad)
case_bigmem() {
	local before
	PM_ARGS="-v /usr:/usr:ro ${BIGMEM_ARGS:-}" start /workload-mem.py || return
	pm_do checkpoint --export "$cwork/ctr.tar.gz" "$ctr" || return
	before=$(last_out)
	podman rm -f "$ctr" >/dev/null 2>&1
	pm_do restore --import "$cwork/ctr.tar.gz" || return
	check_restored "${before:-1}" || return
	sleep 1.5
	[ -e "/proc/$pid/root/run/bad" ] && { fail "the workload says: $(sort -u "/proc/$pid/root/run/bad" | tr '\n' ' ')"; return; }
	[ "$(ls "/proc/$pid/task" | wc -l)" = 5 ] || { fail "$(ls "/proc/$pid/task" | wc -l) threads, not 5"; return; }
	pass
}

# fds: workload-fds.py's objects (eventfd, epoll, inotify watch, signalfd, memfd,
# pipe and socketpair data, OFD lock, unlinked mapped shm, a stopped child,
# a removed cwd), in place and through --export/--import (--file-locks);
# the stopped child once hung the checkpoint (v1 freezer)
case_fds() {
	local before
	PM_ARGS="-v /usr:/usr:ro" start /workload-fds.py || return
	for how in inplace export; do
		if [ $how = export ]; then
			pm_do checkpoint --file-locks --export "$cwork/ctr.tar.gz" "$ctr" || return
			before=$(last_out)
			podman rm -f "$ctr" >/dev/null 2>&1
			pm_do restore --file-locks --import "$cwork/ctr.tar.gz" || return
		else
			pm_do checkpoint --file-locks "$ctr" || return
			before=$(last_out)
			pm_do restore --file-locks "$ctr" || return
		fi
		check_restored "${before:-1}" || return
		[ -e "/proc/$pid/root/run/bad" ] && { fail "$how: the workload says: $(sort -u "/proc/$pid/root/run/bad" | tr '\n' ' ')"; return; }
	done
	touch "/proc/$pid/root/run/go"
	for _ in $(seq 30); do [ -e "/proc/$pid/root/run/checked" ] && break; sleep 0.1; done
	[ -e "/proc/$pid/root/run/checked" ] || { fail "the workload did not read its one-shot objects"; return; }
	[ -e "/proc/$pid/root/run/bad" ] && { fail "the workload says: $(sort -u "/proc/$pid/root/run/bad" | tr '\n' ' ')"; return; }
	pass
}

# inotify: an inotify watch on a dir of a tmpfs the restore makes anew (a
# new inode: no file handle finds it), in place and through export/import
case_inotify() {
	local before how
	PM_ARGS="-v /usr:/usr:ro ${WATCH:+-e WATCH=$WATCH}" start /workload-inotify.py || return
	for how in before inplace export; do
		if [ $how = export ]; then
			pm_do checkpoint --export "$cwork/ctr.tar.gz" "$ctr" || return
			before=$(last_out)
			podman rm -f "$ctr" >/dev/null 2>&1
			pm_do restore --import "$cwork/ctr.tar.gz" || return
		elif [ $how = inplace ]; then
			pm_do checkpoint "$ctr" || return
			before=$(last_out)
			pm_do restore "$ctr" || return
		fi
		[ $how = before ] || check_restored "${before:-1}" || return
		touch "/proc/$pid/root${WATCH:-/run/watched}/new-$how"
		for _ in $(seq 30); do grep -q "^new-$how$" "/proc/$pid/root/run/events" 2>/dev/null && break; sleep 0.1; done
		grep -q "^new-$how$" "/proc/$pid/root/run/events" 2>/dev/null ||
			{ fail "$how: inotifyd saw no new file: $(cat "/proc/$pid/root/run/events" 2>&1 | tr '\n' ' ')"; return; }
	done
	pass
}

# fsnotify_check HOW SPEC...: a file made in each SPEC's dir (by podman exec:
# host root is no user of a tmpfs of a container's user namespace) is seen
fsnotify_check() {
	local how=$1 spec
	shift
	for spec; do podman exec "$ctr" touch "${spec#*:}/new-$how-${spec%%:*}"; done
	for spec; do
		for _ in $(seq 30); do grep -qx "$spec new-$how-${spec%%:*}" "/proc/$pid/root/run/events" 2>/dev/null && break; sleep 0.1; done
		grep -qx "$spec new-$how-${spec%%:*}" "/proc/$pid/root/run/events" 2>/dev/null ||
			{ fail "$how: $spec saw no new file: $(tr '\n' ' ' <"/proc/$pid/root/run/events" 2>&1)"; return 1; }
	done
}

# fsnotify: fanotify marks on tmpfs the restore makes anew (an inode mark
# on a dir of /run, a filesystem mark on --tmpfs /watch, a mount mark on
# --tmpfs /watch2) and an inotify watch and a fanotify inode mark on a dir
# bound from the host (found again by handle); in place, then over
# --export/--import
case_fsnotify() {
	local before how w="fan:/run/watched fanfs:/watch fanmnt:/watch2 ino:/vol fan:/vol"
	mkdir -p "$cwork/vol"
	PM_ARGS="-v /usr:/usr:ro --cap-add SYS_ADMIN --tmpfs /watch --tmpfs /watch2 -v $cwork/vol:/vol --env WATCHES=$(echo $w | tr ' ' ,)" \
		start /workload-fsnotify.py || return
	fsnotify_check before $w || return
	for how in inplace export; do
		if [ $how = export ]; then
			pm_do checkpoint --export "$cwork/ctr.tar.gz" "$ctr" || return
			before=$(last_out)
			podman rm -f "$ctr" >/dev/null 2>&1
			pm_do restore --import "$cwork/ctr.tar.gz" || return
		else
			pm_do checkpoint "$ctr" || return
			before=$(last_out)
			pm_do restore "$ctr" || return
		fi
		check_restored "${before:-1}" || return
		fsnotify_check $how $w || return
	done
	pass
}

# inotify-root: a watch on a dir of the container's root (an overlay,
# whose files no handle opens): refused by name, the container runs on
case_inotify-root() {
	local n
	WATCH=/var/spool PM_ARGS="-v /usr:/usr:ro -e WATCH=/var/spool" start /workload-inotify.py || return
	podman container checkpoint "$ctr" >"$cwork/checkpoint.out" 2>&1 && { fail "the checkpoint worked"; return; }
	grep -h -a Error "$pm"/graph/overlay-containers/*/userdata/dump.log 2>/dev/null | grep -q "can't open files by handle" ||
		{ fail "dump.log does not say why: $(grep -h -a -m3 Error "$pm"/graph/overlay-containers/*/userdata/dump.log | tr '\n' ' ')"; return; }
	[ "$(podman inspect -f '{{.State.Status}}' "$ctr" 2>/dev/null)" = running ] || { fail "not running after the refused checkpoint"; return; }
	n=$(count_of "/proc/$pid/root")
	wait_count "/proc/$pid/root" $((n + 3)) || { fail "the counter stopped after the refused checkpoint"; return; }
	pass
}

# delexe: the workload's executable is a deleted file of the overlay root;
# restored in place (the copy's contents in the images), or refused by name
case_delexe() {
	local before n
	start /workload-delexe.sh || return
	case $(readlink "/proc/$pid/exe") in *"(deleted)") ;; *) fail "exe is $(readlink "/proc/$pid/exe")"; return ;; esac
	if podman container checkpoint "$ctr" >"$cwork/checkpoint.out" 2>&1; then
		before=$(last_out)
		pm_do restore "$ctr" || return
		check_restored "${before:-1}" || return
		cmp -s "/proc/$pid/exe" /bin/busybox || { fail "the restored exe is not the busybox copy"; return; }
	else
		grep -h -a Error "$pm"/graph/overlay-containers/*/userdata/dump.log | head -3 | sed 's/^/    /'
		[ "$(podman inspect -f '{{.State.Status}}' "$ctr" 2>/dev/null)" = running ] || { fail "not running after the refused checkpoint"; return; }
		n=$(count_of "/proc/$pid/root")
		wait_count "/proc/$pid/root" $((n + 3)) || { fail "the counter stopped after the refused checkpoint"; return; }
	fi
	pass
}

# pod: a container in a pod (its network, ipc and uts namespaces are the
# infra container's): checkpoint --export, then restore --import --pod
# into a new pod
case_pod() {
	local before
	podman pod create --name "pod$$" >/dev/null 2>&1 || { fail "podman pod create"; return; }
	PM_ARGS="--pod pod$$" start || { podman pod rm -f "pod$$" >/dev/null 2>&1; return; }
	pm_do checkpoint --export "$cwork/ctr.tar.gz" "$ctr" || { podman pod rm -f "pod$$" >/dev/null 2>&1; return; }
	before=$(last_out)
	podman rm -f "$ctr" >/dev/null 2>&1
	podman pod create --name "pod2$$" >"$cwork/pod2.out" 2>&1 && podman pod start "pod2$$" >>"$cwork/pod2.out" 2>&1 ||
		{ podman pod rm -f "pod$$" >/dev/null 2>&1; fail "the second pod: $(tail -2 "$cwork/pod2.out" | tr '\n' ' ')"; return; }
	pm_do restore --import "$cwork/ctr.tar.gz" --pod "$(podman pod inspect -f "{{.Id}}" "pod2$$")" || { podman pod rm -f "pod$$" "pod2$$" >/dev/null 2>&1; return; }
	ctr=$(podman ps -q --filter pod="pod2$$" --filter ancestor="$image" | head -1)
	check_restored "${before:-1}" || { podman pod rm -f "pod$$" "pod2$$" >/dev/null 2>&1; return; }
	[ "$(readlink /proc/$pid/ns/net)" = "$(readlink /proc/$(podman inspect -f '{{.State.Pid}}' "$(podman pod inspect -f '{{.InfraContainerID}}' "pod2$$")")/ns/net)" ] ||
		{ podman pod rm -f "pod$$" "pod2$$" >/dev/null 2>&1; fail "not in the new pod's network namespace"; return; }
	podman pod rm -f "pod$$" "pod2$$" >/dev/null 2>&1
	ctr=
	pass
}

# bigmem-limit: the same under --memory 240m, near what it uses: the
# restore must fit in the limit it restores into
case_bigmem-limit() { BIGMEM_ARGS="--memory 240m --memory-swap 240m" case_bigmem; }

# voldel: a file of a bind-mounted host dir opened, deleted and written on
case_voldel() {
	local before f
	mkdir -p "$cwork/vol"
	PM_ARGS="-v $cwork/vol:/vol" start /workload-voldel.sh || return
	pm_do checkpoint "$ctr" || return
	before=$(last_out)
	pm_do restore "$ctr" || return
	check_restored "${before:-1}" || return
	sleep 0.3
	f=/proc/$pid/fd/9
	case $(readlink "$f") in *"(deleted)") ;; *) fail "fd 9 is $(readlink "$f")"; return ;; esac
	[ "$(head -1 "$f")" = start ] && [ "$(tail -1 "$f")" -gt "${before:-1}" ] 2>/dev/null ||
		{ fail "the deleted file is not as it was: $(head -1 "$f") .. $(tail -1 "$f")"; return; }
	[ -z "$(ls -A "$cwork/vol")" ] || { fail "the host dir has $(ls -A "$cwork/vol" | tr '\n' ' ')"; return; }
	pass
}

# stopped: a job stopped by SIGSTOP (the v1 freezer once hung the checkpoint
# on it); stopped after the restore, running on at SIGCONT
case_stopped() {
	local before sp st
	start /workload-stop.sh || return
	pm_do checkpoint "$ctr" || return
	before=$(last_out)
	pm_do restore "$ctr" || return
	check_restored "${before:-1}" || return
	sp=$(host_pid_of "$pid" "$(cat "/proc/$pid/root/run/stopped")")
	[ -n "$sp" ] || { fail "the stopped job is gone"; return; }
	st=$(awk '{print $3}' "/proc/$sp/stat")
	[ "$st" = T ] || { fail "the stopped job is $st ($(grep TracerPid "/proc/$sp/status"))"; return; }
	kill -CONT "$sp"
	sleep 0.3
	st=$(awk '{print $3}' "/proc/$sp/stat")
	[ "$st" = S ] || { fail "the job is $st after SIGCONT"; return; }
	pass
}

# exec: a process started with podman exec -d lives in the container's pid
# namespace but is no child of its init: the checkpoint must take it or
# refuse, not lose it
case_exec() {
	local before
	start || return
	podman exec -d "$ctr" sh -c 'echo $$ > /run/exec.pid; exec sleep 100000' >/dev/null 2>&1 || { fail "podman exec -d"; return; }
	sleep 0.5
	if podman container checkpoint "$ctr" >"$cwork/checkpoint.out" 2>&1; then
		before=$(last_out)
		pm_do restore "$ctr" || return
		check_restored "${before:-1}" || return
		nsenter -t "$pid" -p -m ps 2>/dev/null | grep -q 'sleep 100000' ||
			{ fail "the exec'd process is gone after the restore"; return; }
	else
		echo "    (refused: $(grep -h -a Error "$pm"/graph/overlay-containers/*/userdata/dump.log | head -1))"
		[ "$(podman inspect -f '{{.State.Status}}' "$ctr" 2>/dev/null)" = running ] || { fail "not running after the refused checkpoint"; return; }
	fi
	pass
}

case_cleanup() {
	[ -n "${ctr:-}" ] && podman rm -f -t 0 "$ctr" >/dev/null 2>&1
	ctr=
	subid_del
}

run_cases "$ALL" "$*"
summary
