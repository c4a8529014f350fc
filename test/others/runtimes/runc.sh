#!/bin/bash
# End to end: `runc checkpoint` / `runc restore` of a `runc spec` busybox
# container through our criu's swrk protocol (runc --criu points at it).
#
#   test/others/runtimes/runc.sh [CASE...]     (KEEP=1 keeps the work dirs)
#
# Cases:
#   pipes         terminal false: stdio pipes (descriptors.json, inherit_fd)
#   tty           terminal true: console socket, orphan pts master
#   leave-running checkpoint --leave-running, then kill and restore
#   pre-dump      checkpoint --pre-dump, then --parent-path ../pre
#   cgroups-soft, cgroups-full, cgroups-strict
#                 --manage-cgroups-mode at checkpoint and restore
#   tcp           --tcp-established with a connection on 127.0.0.1 inside
#   lazy          checkpoint --lazy-pages --page-server 127.0.0.1:PORT --status-fd:
#                 restored as another container with restore --lazy-pages and
#                 criu lazy-pages --page-server taking the pages from the
#                 checkpoint, which ends once every page is across
#   file-locks    --file-locks with a flock held by the container's init
#   auto-dedup    --pre-dump, then --parent-path ../pre --auto-dedup
#   page-server   --page-server 127.0.0.1:PORT to a criu page-server on the
#                 host (reached from criu's network namespace, not the
#                 container's)
#   pre-dump-page-server  --pre-dump and then the dump (--parent-path ../pre),
#                 each to a page server on the host
#   pid-file      restore --bundle --pid-file (the file names the restored init)
#   empty-ns      --empty-ns network at checkpoint and restore
#   ext-unix-sk   --ext-unix-sk: the container logs to a datagram socket of
#                 the host (bound in the host's network namespace), as to /dev/log
#   confined      a spec with seccomp, no_new_privs, ambient caps, rlimits,
#                 oom_score_adj, hostname, ipc/mqueue sysctls, cwd: all as before
#   userns        a user namespace (0 -> 200000): runc binds the devices
#   userns-tty    the same with terminal true: the console's slave is owned
#                 by the container's root (saved as the container sees it)
#   userns-leave-running userns-pre-dump: leave-running's and pre-dump's
#                 cases in that user namespace
#   restore-as    restored under another name: runc's cgroup path is the new one
#   twice         checkpoint --leave-running, then two restores under new
#                 names from the same images while the original runs on
#   cgroupns-as   a cgroup namespace, restored under another name
#                 (--manage-cgroups-mode full): its root and its cgroup
#                 mounts are the new container's cgroup, not the old one's
#   stopped       a SIGSTOPped job (the freezer once hung the checkpoint)
#   stopped-pre   the same with a --pre-dump first (still stopped after it)
# Each checks that the container's state survived: its counter (in memory,
# copied to /run/count on a tmpfs) goes on from where it was, the token it
# wrote once in that tmpfs is still there, and its output goes on where
# runc put it (the new stdout pipe, or the new console master).
set -uo pipefail
rt=runc
. "$(dirname "$0")/lib.sh"
ALL="pipes tty leave-running killed-checkpoint pre-dump cgroups-soft cgroups-full cgroups-strict tcp lazy file-locks auto-dedup
	page-server pre-dump-page-server pid-file empty-ns ext-unix-sk confined userns userns-tty userns-leave-running userns-pre-dump restore-as twice cgroupns-as stopped stopped-pre"

[ "$(id -u)" = 0 ] || { echo "SKIP runc: needs root"; exit 0; }
need_pkgs runc busybox-static python3 || { echo "SKIP runc: can't install runc"; exit 0; }
[ -x "$CRIU" ] || { echo "FAIL runc: no criu at $CRIU"; exit 1; }

runc_() { runc --root "$cwork/state" --criu "$CRIU" "$@"; }

# bundle TERMINAL: a `runc spec` bundle running the workload, with a tmpfs on /run.
bundle() {
	mkdir -p "$cwork/bundle"
	busybox_rootfs "$cwork/bundle/rootfs"
	workload_sh >"$cwork/bundle/rootfs/workload.sh"
	workload_tcp_sh >"$cwork/bundle/rootfs/workload-tcp.sh"
	workload_lock_sh >"$cwork/bundle/rootfs/workload-lock.sh"
	[ ! -x "$cwork/lockhold" ] || cp "$cwork/lockhold" "$cwork/bundle/rootfs/"
	workload_log_sh >"$cwork/bundle/rootfs/workload-log.sh"
	[ ! -f "$cwork/wl" ] || cp "$cwork/wl" "$cwork/bundle/rootfs/workload-ext.sh"
	[ ! -x "$cwork/logconn" ] || cp "$cwork/logconn" "$cwork/bundle/rootfs/"
	(cd "$cwork/bundle" && runc spec) || return 1
	SPEC_PY=${SPEC_PY:-} python3 - "$cwork/bundle/config.json" "$1" "${2:-/workload.sh}" "$cwork/ext" <<'PY'
import json, os, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = sys.argv[2] == "true"
c["process"]["args"] = ["sh", sys.argv[3]]
c["mounts"].append({"destination": "/run", "type": "tmpfs", "source": "tmpfs",
                    "options": ["nosuid", "nodev", "mode=755"]})
if os.path.isdir(sys.argv[4]):
    # at the same path as on the host, as /dev/log is: the socket's name means the same inside
    c["mounts"].append({"destination": sys.argv[4], "type": "bind", "source": sys.argv[4], "options": ["rbind"]})
# a case's own changes to the spec (SPEC_PY: python on c)
exec(os.environ.get("SPEC_PY", ""))
json.dump(c, open(p, "w"), indent=1)
PY
}

# A console socket keeping every pty master runc sends and copying what
# comes out of them to a file (recvtty-like).
console_start() {
	python3 - "$cwork/console.sock" "$cwork/out" <<'PY' &
import array, os, select, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(4)
out = open(sys.argv[2], "ab", buffering=0)
masters = []
while True:
    r, _, _ = select.select([s] + masters, [], [])
    for f in r:
        if f is s:
            c, _ = s.accept()
            msg, anc, _, _ = c.recvmsg(1024, socket.CMSG_LEN(4))
            for lvl, typ, data in anc:
                fds = array.array("i"); fds.frombytes(data[:4]); masters.append(fds[0])
            c.close()
        else:
            try:
                d = os.read(f, 4096)
            except OSError:
                d = b""
            if d:
                out.write(d)
            else:
                masters.remove(f)
PY
	console_pid=$!
	for _ in $(seq 50); do [ -S "$cwork/console.sock" ] && return 0; sleep 0.1; done
	return 1
}

# stdio_run CMD...: CMD with pipes for stdio: stdin from a pipe, stdout
# and stderr to a cat appending to $cwork/out.
stdio_run() {
	"$@" 0< <(:) 1> >(exec cat >>"$cwork/out") 2>&1
}

ctr_pid() { runc_ state "$ctr" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])' 2>/dev/null; }

last_out() { tr '\r' '\n' <"$cwork/out" 2>/dev/null | grep -a '^count ' | tail -1 | cut -d' ' -f2; }

start() {
	local terminal=$1
	ctr=e2e-$case-$$
	console_pid=
	bundle "$terminal" "${2:-}" || { fail "runc spec"; return 1; }
	cd "$cwork/bundle"
	if [ "$terminal" = true ]; then
		console_start || { fail "console socket"; return 1; }
		runc_ run -d --console-socket "$cwork/console.sock" "$ctr" </dev/null >/dev/null 2>"$cwork/run.err" ||
			{ fail "runc run: $(tail -1 "$cwork/run.err")"; return 1; }
	else
		stdio_run runc_ run -d "$ctr" || { fail "runc run"; return 1; }
	fi
	pid=$(ctr_pid)
	[ -n "$pid" ] && wait_count "/proc/$pid/root" 5 || { fail "the container does not count"; return 1; }
	token=$(cat "/proc/$pid/root/run/token")
}

# checkpoint ARGS...
checkpoint() {
	runc_ checkpoint --image-path "$cwork/img" --work-path "$cwork/work" "$@" "$ctr" \
		>"$cwork/checkpoint.out" 2>&1 || { fail "runc checkpoint $*: $(tail -2 "$cwork/checkpoint.out")"; return 1; }
	[ -f "$cwork/img/inventory.img" ] || { fail "no inventory.img"; return 1; }
}

# restore TERMINAL ARGS...
restore() {
	local terminal=$1
	shift
	if [ "$terminal" = true ]; then
		runc_ restore -d --console-socket "$cwork/console.sock" --image-path "$cwork/img" \
			--work-path "$cwork/work" "$@" "$ctr" </dev/null >"$cwork/restore.out" 2>&1
	else
		stdio_run runc_ restore -d --image-path "$cwork/img" --work-path "$cwork/work" "$@" "$ctr"
	fi || { fail "runc restore $*: $(grep -a 'level=error' "$cwork/out" "$cwork/restore.out" 2>/dev/null | tail -2)"; return 1; }
}

# check_restored BEFORE: the state went on from BEFORE.
check_restored() {
	local before=$1 now out
	runc_ state "$ctr" 2>/dev/null | grep -q '"status": "running"' || { fail "runc does not see it running"; return 1; }
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
	fail "no output after the restore where runc put stdout (last: ${out:-none})"
	return 1
}

dump_restore() {
	local terminal=$1 before
	shift
	start "$terminal" || return
	checkpoint "$@" || return
	before=$(last_out)
	restore "$terminal" "$@" || return
	check_restored "${before:-1}" && pass
}

case_pipes() { dump_restore false; }
case_tty() { dump_restore true; }

case_leave-running() {
	local n before
	start false || return
	# the dump's count is at least this one
	before=$(count_of "/proc/$pid/root")
	checkpoint --leave-running || return
	n=$(count_of "/proc/$pid/root")
	wait_count "/proc/$pid/root" $((n + 3)) || { fail "not left running"; return; }
	runc_ kill "$ctr" KILL
	for _ in $(seq 50); do runc_ delete "$ctr" 2>/dev/null && break; sleep 0.1; done
	restore false || return
	check_restored "$before" && pass
}

# runc checkpoint --leave-running with criu SIGKILLed half-way, at a few delays: the container
# counts on, untraced and not stopped, and a checkpoint after that works
case_killed-checkpoint() {
	local n st d cpid
	start false || return
	for d in 0.005 0.01 0.015 0.02 0.025 0.03 0.035 0.04; do
		runc_ checkpoint --image-path "$cwork/img" --work-path "$cwork/work" --leave-running "$ctr" \
			>"$cwork/checkpoint.out" 2>&1 &
		cpid=$!
		sleep "$d"
		pkill -KILL -f -- "--root $cwork/state" 2>/dev/null	# runc, and criu swrk under it
		pkill -KILL -f "^$CRIU swrk" 2>/dev/null
		wait "$cpid" 2>/dev/null
		# a SIGKILLed criu lets go of its tracees as its exit ends, not at once
		for _ in $(seq 50); do
			st=$(awk '/^State:/ {print $2} /^TracerPid:/ {print $2}' "/proc/$pid/status" | tr '\n' ' ')
			case "$st" in "S 0 "|"R 0 ") break ;; esac
			sleep 0.1
		done
		case "$st" in
		"S 0 "|"R 0 ") ;;
		*) fail "after a checkpoint killed at $d s the container's init is '$st' (state, tracer $(cat /proc/${st#* }/cmdline 2>/dev/null | tr '\0' ' '))"; return ;;
		esac
		n=$(count_of "/proc/$pid/root")
		wait_count "/proc/$pid/root" $((n + 2)) || { fail "the container stopped counting after a kill at $d s"; return; }
		rm -rf "$cwork/img" "$cwork/work"
	done
	checkpoint --leave-running || return
	n=$(count_of "/proc/$pid/root")
	wait_count "/proc/$pid/root" $((n + 2)) || { fail "not left running by the last checkpoint"; return; }
	pass
}

case_pre-dump() {
	local before
	# runc asks criu for memory tracking first (FEATURE_CHECK mem_track)
	"$CRIU" check --feature mem_dirty_track >/dev/null 2>&1 ||
		{ skip "this criu has no memory tracking (criu check --feature mem_dirty_track)"; return; }
	# RUNC_PREDUMP=0 leaves it out
	[ "${RUNC_PREDUMP:-1}" != 0 ] || { skip "RUNC_PREDUMP=0"; return; }
	start false || return
	runc_ checkpoint --pre-dump --image-path "$cwork/pre" --work-path "$cwork/prework" "$ctr" \
		>"$cwork/pre.out" 2>&1 || { fail "runc checkpoint --pre-dump: $(tail -1 "$cwork/pre.out")"; return; }
	sleep 0.3
	checkpoint --parent-path ../pre || return
	[ -L "$cwork/img/parent" ] || { fail "no parent link in the images"; return; }
	# the dump took only what changed since the pre-dump (or a live round after it): the chain is used
	grep -q "pages unchanged since the previous dump left out" "$cwork/work/dump.log" ||
		{ fail "the dump did not use the pre-dump's images (no unchanged pages in work/dump.log)"; return; }
	before=$(last_out)
	restore false || return
	check_restored "${before:-1}" && pass
}

cgroups_case() {
	local mode=$1 before cg
	start false || return
	checkpoint --manage-cgroups-mode "$mode" || return
	before=$(last_out)
	restore false --manage-cgroups-mode "$mode" || return
	check_restored "${before:-1}" || return
	cg=$(grep -E '^[0-9]+:pids:' "/proc/$pid/cgroup" | cut -d: -f3)
	[ "$cg" = "/$ctr" ] || { fail "restored in pids cgroup $cg, not /$ctr"; return; }
	pass
}
case_cgroups-soft() { cgroups_case soft; }
case_cgroups-full() { cgroups_case full; }
case_cgroups-strict() { cgroups_case strict; }

case_tcp() {
	local before got
	start false /workload-tcp.sh || return
	for _ in $(seq 30); do [ -s "/proc/$pid/root/run/tcp" ] && break; sleep 0.1; done
	[ -s "/proc/$pid/root/run/tcp" ] || { fail "no data over the TCP connection before the dump"; return; }
	checkpoint --tcp-established || return
	before=$(last_out)
	restore false --tcp-established || return
	check_restored "${before:-1}" || return
	for _ in $(seq 30); do
		got=$(tail -1 "/proc/$pid/root/run/tcp" 2>/dev/null)
		[ "${got:-0}" -gt "${before:-1}" ] && break
		sleep 0.1
	done
	[ "${got:-0}" -gt "${before:-1}" ] || { fail "nothing new over the TCP connection (last ${got:-none})"; return; }
	pass
}

case_lazy() {
	local before port=28227 w cpt lp
	"$CRIU" check --feature lazy_pages >/dev/null 2>&1 ||
		{ skip "no lazy pages here (criu check --feature lazy_pages)"; return; }
	start false || return
	# runc wants a write-only fd: a pipe to a dd that keeps the byte
	exec {w}> >(exec dd bs=1 count=1 of="$cwork/status" 2>/dev/null)
	runc_ checkpoint --lazy-pages --page-server "127.0.0.1:$port" --status-fd "$w" \
		--image-path "$cwork/img" --work-path "$cwork/work" "$ctr" >"$cwork/checkpoint.out" 2>&1 &
	cpt=$!
	# runc writes the byte when criu says status-ready: it listens, the images are whole
	for _ in $(seq 600); do
		[ -s "$cwork/status" ] || kill -0 "$cpt" 2>/dev/null || break
		[ -s "$cwork/status" ] && break
		sleep 0.1
	done
	if [ "$(od -An -tx1 "$cwork/status" 2>/dev/null | tr -d ' ')" != 00 ]; then
		exec {w}>&-
		kill "$cpt" 2>/dev/null
		fail "no status byte from runc checkpoint --lazy-pages: $(tail -2 "$cwork/checkpoint.out")"
		return
	fi
	exec {w}>&-
	before=$(last_out)
	mkdir -p "$cwork/work2"
	"$CRIU" lazy-pages --page-server --address 127.0.0.1 --port "$port" -D "$cwork/img" -W "$cwork/work2" \
		-o lazy-pages.log -v4 </dev/null >/dev/null 2>&1 &
	lp=$!
	lazy_ctr=$ctr-r
	stdio_run runc_ restore -d --lazy-pages --image-path "$cwork/img" --work-path "$cwork/work2" "$lazy_ctr" ||
		{ kill "$lp" "$cpt" 2>/dev/null; fail "runc restore --lazy-pages: $(grep -a 'level=error' "$cwork/out" | tail -2)"; return; }
	timeout 60 tail --pid="$lp" -f /dev/null
	wait "$lp" || { fail "criu lazy-pages failed: $(grep -a Error "$cwork/work2/lazy-pages.log" | tail -2)"; return; }
	timeout 60 tail --pid="$cpt" -f /dev/null
	wait "$cpt" || { fail "runc checkpoint --lazy-pages failed: $(tail -2 "$cwork/checkpoint.out")"; return; }
	grep -q "came from the dumping host" "$cwork/work2/lazy-pages.log" ||
		{ fail "the pages did not come from the checkpoint"; return; }
	runc_ state "$ctr" >/dev/null 2>&1 && { fail "the checkpointed container is still there"; return; }
	ctr=$lazy_ctr lazy_ctr=
	check_restored "${before:-1}" && pass
}

# file-locks: the container's init holds a flock (busybox has no flock
# applet: a static helper takes it on fd 7 and execs the workload)
workload_lock_sh() {
	echo 'exec /lockhold /run/lockf /bin/sh /workload.sh'
}

lockhold_build() {
	printf '%s\n' '#include <fcntl.h>' '#include <sys/file.h>' '#include <unistd.h>' \
		'int main(int c, char **v) { int fd = open(v[1], O_RDWR | O_CREAT, 0644);' \
		'if (fd < 0 || flock(fd, LOCK_EX) || dup2(fd, 7) != 7) return 1; close(fd); execv(v[2], v + 2); return 1; }' \
		>"$cwork/lockhold.c" && cc -static -O2 -o "$cwork/lockhold" "$cwork/lockhold.c"
}

case_file-locks() {
	local before ino
	lockhold_build || { skip "no static build of the lock helper (cc -static)"; return; }
	start false /workload-lock.sh || return
	ino=$(stat -L -c %i "/proc/$pid/root/run/lockf")
	grep -q "FLOCK.*WRITE $pid .*:$ino " /proc/locks || { fail "the container holds no flock before the checkpoint"; return; }
	checkpoint --file-locks || return
	before=$(last_out)
	restore false --file-locks || return
	check_restored "${before:-1}" || return
	# the tmpfs is made again: the file has a new inode
	ino=$(stat -L -c %i "/proc/$pid/root/run/lockf")
	grep -q "FLOCK.*WRITE $pid .*:$ino " /proc/locks ||
		{ fail "the restored init ($pid) holds no flock on /run/lockf ($ino): $(grep FLOCK /proc/locks | head -3)"; return; }
	pass
}

# ext-unix-sk: the container logs to a datagram socket of the host (as to
# /dev/log) through fd 8, connected by a static helper before the workload
workload_log_sh() {
	echo 'head -c 12 /dev/urandom | od -An -tx1 | tr -d " \n" > /run/token'
	echo 'i=0; while :; do i=$((i+1)); echo $i > /run/count; echo "count $i"; echo "log $i" >&8; sleep 0.05; done'
}

case_ext-unix-sk() {
	local before got srv
	printf '%s\n' '#include <string.h>' '#include <sys/socket.h>' '#include <sys/un.h>' '#include <unistd.h>' \
		'int main(int c, char **v) { struct sockaddr_un a = { .sun_family = AF_UNIX };' \
		'int s = socket(AF_UNIX, SOCK_DGRAM, 0); strcpy(a.sun_path, v[1]);' \
		'if (s < 0 || connect(s, (void *)&a, sizeof(a)) || dup2(s, 8) != 8) return 1; close(s);' \
		'execv(v[2], v + 2); return 1; }' >"$cwork/logconn.c" &&
		cc -static -O2 -o "$cwork/logconn" "$cwork/logconn.c" || { skip "no static build of the helper"; return; }
	mkdir -p "$cwork/ext"
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
out = open(sys.argv[2], "ab", buffering=0)
while True: out.write(s.recv(4096))' "$cwork/ext/log" "$cwork/extlog" &
	srv=$!
	for _ in $(seq 50); do [ -S "$cwork/ext/log" ] && break; sleep 0.1; done
	echo "exec /logconn $cwork/ext/log /bin/sh /workload-log.sh" >"$cwork/wl"
	start false /workload-ext.sh || { kill $srv; return; }
	checkpoint --ext-unix-sk || { kill $srv; return; }
	before=$(last_out)
	restore false --ext-unix-sk || { kill $srv; return; }
	check_restored "${before:-1}" || { kill $srv; return; }
	for _ in $(seq 30); do
		got=$(grep -a '^log ' "$cwork/extlog" | tail -1 | cut -d' ' -f2)
		[ "${got:-0}" -gt "${before:-1}" ] && break
		sleep 0.1
	done
	kill $srv
	[ "${got:-0}" -gt "${before:-1}" ] || { fail "the restored container logs nothing to the host's socket (last ${got:-none})"; return; }
	pass
}

case_auto-dedup() {
	local before
	"$CRIU" check --feature mem_dirty_track >/dev/null 2>&1 || { skip "no memory tracking"; return; }
	start false || return
	runc_ checkpoint --pre-dump --image-path "$cwork/pre" --work-path "$cwork/prework" "$ctr" \
		>"$cwork/pre.out" 2>&1 || { fail "runc checkpoint --pre-dump: $(tail -1 "$cwork/pre.out")"; return; }
	sleep 0.3
	checkpoint --parent-path ../pre --auto-dedup || return
	before=$(last_out)
	restore false --auto-dedup || return
	check_restored "${before:-1}" && pass
}

case_page-server() {
	local before port=28229 ps rc
	start false || return
	mkdir -p "$cwork/img"
	# the page server listens in criu's network namespace: the address is the host's, not the container's
	"$CRIU" page-server -D "$cwork/img" --address 127.0.0.1 --port "$port" -o ps.log -v4 </dev/null >/dev/null 2>&1 &
	ps=$!
	for _ in $(seq 50); do grep -q listening "$cwork/img/ps.log" 2>/dev/null && break; sleep 0.1; done
	checkpoint --page-server "127.0.0.1:$port"
	rc=$?
	[ $rc = 0 ] || kill "$ps" 2>/dev/null
	wait "$ps" || { [ $rc = 0 ] && fail "the page server failed"; return; }
	[ $rc = 0 ] || return
	ls "$cwork/img"/pages-*.img >/dev/null 2>&1 || { fail "no pages image from the page server"; return; }
	before=$(last_out)
	restore false || return
	check_restored "${before:-1}" && pass
}

# pre-dump-page-server: both rounds go to page servers on the host, laid out
# as the images would be (srv/pre, srv/img: the dump's parent ../pre is
# the server's)
case_pre-dump-page-server() {
	local before port=28231 ps rc
	"$CRIU" check --feature mem_dirty_track >/dev/null 2>&1 || { skip "no memory tracking"; return; }
	start false || return
	mkdir -p "$cwork/srv/pre" "$cwork/srv/img"
	for r in pre img; do
		"$CRIU" page-server -D "$cwork/srv/$r" --address 127.0.0.1 --port "$port" -o ps.log -v4 \
			</dev/null >/dev/null 2>&1 &
		ps=$!
		for _ in $(seq 50); do grep -q listening "$cwork/srv/$r/ps.log" 2>/dev/null && break; sleep 0.1; done
		if [ $r = pre ]; then
			runc_ checkpoint --pre-dump --page-server "127.0.0.1:$port" --image-path "$cwork/pre" \
				--work-path "$cwork/prework" "$ctr" >"$cwork/pre.out" 2>&1
			rc=$?
			[ $rc = 0 ] || fail "runc checkpoint --pre-dump --page-server: $(tail -1 "$cwork/pre.out")"
		else
			checkpoint --page-server "127.0.0.1:$port" --parent-path ../pre
			rc=$?
		fi
		[ $rc = 0 ] || kill "$ps" 2>/dev/null
		wait "$ps" || { [ $rc = 0 ] && fail "the page server of $r failed"; return; }
		[ $rc = 0 ] || return
		sleep 0.3
	done
	grep -q "pages unchanged since the previous dump left out" "$cwork/work/dump.log" ||
		{ fail "the dump did not use the pre-dump (no unchanged pages in work/dump.log)"; return; }
	# what restore reads: the dump's own images with the server's pages, and the chain
	cp -a "$cwork/srv/img/." "$cwork/img/" && rm -rf "$cwork/pre" && cp -a "$cwork/srv/pre" "$cwork/pre" ||
		{ fail "can't put the images together"; return; }
	before=$(last_out)
	restore false || return
	check_restored "${before:-1}" && pass
}

case_pid-file() {
	local before
	start false || return
	checkpoint || return
	before=$(last_out)
	restore false --bundle "$cwork/bundle" --pid-file "$cwork/pidfile" || return
	check_restored "${before:-1}" || return
	[ "$(cat "$cwork/pidfile")" = "$pid" ] || { fail "pid file says $(cat "$cwork/pidfile"), runc state $pid"; return; }
	pass
}

case_empty-ns() {
	local before
	start false || return
	checkpoint --empty-ns network || return
	before=$(last_out)
	restore false --empty-ns network || return
	check_restored "${before:-1}" && pass
}

# confinement PID: what a container's init shows of how it is confined
confinement() {
	local p=$1 s
	grep -E '^(Seccomp|Seccomp_filters|NoNewPrivs|Cap(Inh|Prm|Eff|Bnd|Amb)|Uid|Gid|Groups|Umask)' "/proc/$p/status"
	echo "oom_score_adj $(cat "/proc/$p/oom_score_adj")"
	grep -E '^Max (open files|processes|core)' "/proc/$p/limits"
	echo "hostname $(nsenter -t "$p" -u hostname)"
	for s in kernel/msgmax kernel/msgmnb kernel/shmmax kernel/sem kernel/shm_rmid_forced fs/mqueue/msg_max; do
		echo "$s $(nsenter -t "$p" -i cat "/proc/sys/$s")"
	done
	echo "cwd $(readlink "/proc/$p/cwd")"
	# mount point, options, fs, super options (runc's masked files are
	# binds of its /dev/null at checkpoint, of the host's at restore)
	awk '$4 != "/null" { print $5, $6, $(NF-2), $NF }' "/proc/$p/mountinfo" | sort
}

# confined_case TERMINAL: the container keeps how it is confined
confined_case() {
	local before
	start "$1" || return
	confinement "$pid" >"$cwork/confinement.before"
	checkpoint || return
	before=$(last_out)
	restore "$1" || return
	check_restored "${before:-1}" || return
	confinement "$pid" >"$cwork/confinement.after"
	diff "$cwork/confinement.before" "$cwork/confinement.after" >"$cwork/confinement.diff" ||
		{ fail "not confined as before: $(tr '\n' ' ' <"$cwork/confinement.diff" | head -c 600)"; return; }
	pass
}

case_confined() {
	SPEC_PY='
c["hostname"] = "confined"
c["process"]["oomScoreAdj"] = 345
c["process"]["noNewPrivileges"] = True
c["process"]["cwd"] = "/tmp"
c["process"]["capabilities"]["ambient"] = ["CAP_NET_BIND_SERVICE"]
c["process"]["capabilities"]["inheritable"] = ["CAP_NET_BIND_SERVICE"]
c["process"]["rlimits"].append({"type": "RLIMIT_CORE", "hard": 12345, "soft": 1234})
c["linux"]["sysctl"] = {"kernel.msgmax": "9999", "kernel.shmmax": "123456789", "kernel.sem": "251 32000 33 129",
                        "fs.mqueue.msg_max": "77", "kernel.shm_rmid_forced": "1"}
c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                         "syscalls": [{"names": ["mknod", "keyctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
' confined_case false
}

USERNS_PY='
c["linux"]["namespaces"].append({"type": "user"})
c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
'
# the container's root must reach its rootfs under the work dir
case_userns() { chmod 755 "$cwork"; SPEC_PY=$USERNS_PY confined_case false; }
case_userns-tty() { chmod 755 "$cwork"; SPEC_PY=$USERNS_PY confined_case true; }
case_userns-leave-running() { chmod 755 "$cwork"; SPEC_PY=$USERNS_PY case_leave-running; }
case_userns-pre-dump() { chmod 755 "$cwork"; SPEC_PY=$USERNS_PY case_pre-dump; }

# restore_as NAME ARGS...: restores the images as container NAME
restore_as() {
	local name=$1
	shift
	stdio_run runc_ restore -d --image-path "$cwork/img" --work-path "$cwork/work-$name" "$@" "$name" ||
		{ fail "runc restore as $name: $(grep -a 'level=error' "$cwork/out" | tail -2)"; return 1; }
}

case_restore-as() {
	local before cg
	start false || return
	checkpoint || return
	before=$(last_out)
	ctr=$ctr-new
	restore_as "$ctr" || return
	check_restored "${before:-1}" || return
	cg=$(grep -E '^[0-9]+:pids:' "/proc/$pid/cgroup" | cut -d: -f3)
	[ "$cg" = "/$ctr" ] || { fail "restored in pids cgroup $cg, not /$ctr"; return; }
	pass
}

case_twice() {
	local before n
	start false || return
	# read before: the original counts on after the checkpoint, the clones from where it was taken
	before=$(count_of "/proc/$pid/root")
	checkpoint --leave-running || return
	orig=$ctr
	for n in a b; do
		ctr=$orig-$n
		restore_as "$ctr" || return
		check_restored "${before:-1}" || return
		[ $n = b ] || first=$ctr
	done
	runc_ state "$orig" 2>/dev/null | grep -q '"status": "running"' || { fail "the original stopped"; return; }
	pass
}

case_cgroupns-as() {
	local before old root inside
	SPEC_PY='c["linux"]["namespaces"].append({"type": "cgroup"})' start false || return
	old=$ctr
	checkpoint --manage-cgroups-mode full || return
	before=$(last_out)
	ctr=$ctr-new
	restore_as "$ctr" --manage-cgroups-mode full || return
	check_restored "${before:-1}" || return
	root=$(awk '$5 == "/sys/fs/cgroup/pids" { print $4 }' "/proc/$pid/mountinfo")
	[ "$root" = "/$ctr" ] || { fail "its /sys/fs/cgroup/pids is cgroup $root, not /$ctr"; return; }
	inside=$(nsenter -t "$pid" -C cat "/proc/$pid/cgroup" | grep -E '^[0-9]+:pids:' | cut -d: -f3)
	[ "$inside" = / ] || { fail "it sees itself in pids cgroup $inside, not in its namespace's root"; return; }
	[ ! -d "/sys/fs/cgroup/pids/$old" ] || { rmdir "/sys/fs/cgroup/pids/$old"; fail "the old container's cgroup was made again"; return; }
	pass
}

# stopped: a SIGSTOPped job in the container (runc freezes the cgroup for
# criu: the seize of a stopped task once hung there); stopped after the
# restore, running on at SIGCONT
case_stopped() {
	local before sp st
	SPEC_PY='c["process"]["args"] = ["sh", "-c", "sleep 100000 & echo $! > /run/stopped; kill -STOP $!; exec sh /workload.sh"]' \
		start false || return
	if [ -n "${STOPPED_PRE:-}" ]; then
		runc_ checkpoint --pre-dump --image-path "$cwork/pre" --work-path "$cwork/prework" "$ctr" \
			>"$cwork/pre.out" 2>&1 || { fail "runc checkpoint --pre-dump: $(tail -1 "$cwork/pre.out")"; return; }
		sp=$(host_pid_of "$pid" "$(cat "/proc/$pid/root/run/stopped")")
		st=$(awk '{print $3}' "/proc/$sp/stat")
		[ "$st" = T ] || { fail "the stopped job is $st after the pre-dump"; return; }
		sleep 0.3
	fi
	checkpoint ${STOPPED_PRE:+--parent-path ../pre} || return
	before=$(last_out)
	restore false || return
	check_restored "${before:-1}" || return
	sp=$(host_pid_of "$pid" "$(cat "/proc/$pid/root/run/stopped")")
	[ -n "$sp" ] || { fail "the stopped job is gone"; return; }
	st=$(awk '{print $3}' "/proc/$sp/stat")
	[ "$st" = T ] || { fail "the stopped job is $st"; return; }
	kill -CONT "$sp"
	sleep 0.3
	st=$(awk '{print $3}' "/proc/$sp/stat")
	[ "$st" = S ] || { fail "the job is $st after SIGCONT"; return; }
	pass
}

case_stopped-pre() {
	"$CRIU" check --feature mem_dirty_track >/dev/null 2>&1 || { skip "no memory tracking"; return; }
	STOPPED_PRE=1 case_stopped
}

case_cleanup() {
	cd /
	for c in ${orig:-} ${first:-}; do
		runc_ kill "$c" KILL >/dev/null 2>&1
		for _ in $(seq 20); do runc_ delete -f "$c" >/dev/null 2>&1 && break; sleep 0.1; done
	done
	orig= first=
	if [ -n "${lazy_ctr:-}" ]; then
		runc_ kill "$lazy_ctr" KILL >/dev/null 2>&1
		for _ in $(seq 20); do runc_ delete -f "$lazy_ctr" >/dev/null 2>&1 && break; sleep 0.1; done
	fi
	lazy_ctr=
	if [ -n "${ctr:-}" ]; then
		runc_ kill "$ctr" KILL >/dev/null 2>&1
		for _ in $(seq 20); do runc_ delete -f "$ctr" >/dev/null 2>&1 && break; sleep 0.1; done
	fi
	[ -n "${console_pid:-}" ] && kill "$console_pid" 2>/dev/null
	ctr= console_pid=
}

run_cases "$ALL" "$*"
summary
