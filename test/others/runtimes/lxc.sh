#!/bin/bash
# End to end: `lxc-checkpoint` (dump) and `lxc-checkpoint -r` (restore) of
# a container made with LXC's busybox template, through our criu's
# command line (LXC execs the `criu` it finds on PATH: ours goes first).
#
#   test/others/runtimes/lxc.sh [CASE...]     (KEEP=1 keeps the work dirs)
#
# Cases:
#   stop          lxc-checkpoint -s (the container stops), then -r
#   leave-running lxc-checkpoint (left running), lxc-stop -k, then -r
#   tcp           as stop, with a TCP connection open inside (LXC always
#                 passes --tcp-established)
#   veth          as stop, with eth0 a veth on a bridge of the host (LXC
#                 restores it with --external veth[eth0]:HOST@BRIDGE); pings
#   init          busybox init (syslogd, a respawned workload, a shell on the
#                 console: its controlling terminal, LXC's --external tty)
#   userns        an unprivileged container (lxc.idmap; root:400000:65536
#                 goes in /etc/subuid and /etc/subgid for the case)
#   init-userns   init's case in an unprivileged container
#   python        the python workload (podman.sh's) as init, with /usr bound
#                 read-only and a tmpfs of its own over LXC's /dev/shm
#   unpriv        an unprivileged container with python's workload, a veth on
#                 a bridge and lxc.cgroup limits: all as they were after -s/-r
# Checks as runc.sh: the counter (in /run/count, a tmpfs) goes on from
# where it was, the token in the tmpfs is still there; LXC sees the
# container RUNNING with the restored init.
#
# The containers live in a private lxcpath (-P) under /tmp; their network
# is "empty" (a namespace of their own with lo only; veth: a bridge made
# for the case), and lxc.tty.max is 0:
# LXC 5.0.2's monitor of a restored container dereferences its unallocated
# tty table when a command client (lxc-info) goes away and dies (SIGSEGV),
# whatever criu did.
set -uo pipefail
rt=lxc
. "$(dirname "$0")/lib.sh"
ALL="stop leave-running tcp veth init userns init-userns python unpriv"

[ "$(id -u)" = 0 ] || { echo "SKIP lxc: needs root"; exit 0; }
need_pkgs lxc busybox-static || { echo "SKIP lxc: can't install lxc"; exit 0; }
[ -x "$CRIU" ] || { echo "FAIL lxc: no criu at $CRIU"; exit 1; }
# LXC finds busybox on PATH for its template
command -v busybox >/dev/null || export PATH="$PATH:/bin"

lxc_state() { lxc-info -P "$cwork" -n "$ctr" -s 2>/dev/null | awk '{print $2}'; }
ctr_pid() { lxc-info -P "$cwork" -n "$ctr" -p 2>/dev/null | awk '{print $2}'; }

start() {
	local script=${1:-workload.sh}
	ctr=c$$
	cat >"$cwork/net.conf" <<'EOF'
lxc.apparmor.profile = unconfined
EOF
	[ -n "${LXC_IDMAP:-}" ] && printf 'lxc.idmap = u 0 %s 65536\nlxc.idmap = g 0 %s 65536\n' "$LXC_IDMAP" "$LXC_IDMAP" >>"$cwork/net.conf"
	if [ -n "${bridge:-}" ]; then
		cat >>"$cwork/net.conf" <<EOF
lxc.net.0.type = veth
lxc.net.0.link = $bridge
lxc.net.0.flags = up
lxc.net.0.name = eth0
lxc.net.0.ipv4.address = 10.231.7.2/24
EOF
	else
		echo "lxc.net.0.type = empty" >>"$cwork/net.conf"
	fi
	lxc-create -P "$cwork" -n "$ctr" -f "$cwork/net.conf" -t busybox >"$cwork/create.out" 2>&1 ||
		{ fail "lxc-create -t busybox: $(tail -1 "$cwork/create.out")"; return 1; }
	workload_sh >"$cwork/$ctr/rootfs/workload.sh"
	workload_tcp_sh >"$cwork/$ctr/rootfs/workload-tcp.sh"
	sed -i 's/^lxc.tty.max = .*/lxc.tty.max = 0/' "$cwork/$ctr/config"
	if [ "$script" = init ]; then
		# busybox init as the container's init: syslogd from rcS, the
		# workload respawned, a shell waiting on the console
		cat >"$cwork/$ctr/rootfs/etc/inittab" <<'EOF'
::sysinit:/etc/init.d/rcS
::respawn:/bin/sh /workload.sh
console::askfirst:/bin/sh
EOF
		printf '#!/bin/sh\n/bin/syslogd -n -O /run/messages &\nlogger -t rcS started\n' >"$cwork/$ctr/rootfs/etc/init.d/rcS"
		echo "lxc.mount.entry = tmpfs run tmpfs defaults,create=dir 0 0" >>"$cwork/$ctr/config"
	elif [ "$script" = workload.py ]; then
		# the host's python3: /usr bound read-only, lib and lib64 into it
		cp "$(dirname "$0")/workload.py" "$cwork/$ctr/rootfs/"
		sed -i '/^lxc.mount.entry = .* lib\(64\)\? /d; /^lxc.mount.entry = .* usr\/lib\(64\)\? /d' "$cwork/$ctr/config"
		rm -rf "$cwork/$ctr/rootfs/lib" "$cwork/$ctr/rootfs/lib64" "$cwork/$ctr/rootfs/usr"
		mkdir -p "$cwork/$ctr/rootfs/usr" "$cwork/$ctr/rootfs/dev/shm"
		ln -s usr/lib "$cwork/$ctr/rootfs/lib"
		ln -s usr/lib64 "$cwork/$ctr/rootfs/lib64"
		cat >>"$cwork/$ctr/config" <<EOF
lxc.init.cmd = /usr/bin/python3 /workload.py
lxc.mount.entry = /usr usr none ro,bind 0 0
lxc.mount.entry = tmpfs run tmpfs defaults,create=dir 0 0
lxc.mount.entry = tmpfs dev/shm tmpfs defaults,create=dir 0 0
EOF
	else
		cat >>"$cwork/$ctr/config" <<EOF
lxc.init.cmd = /bin/sh /$script
lxc.mount.entry = tmpfs run tmpfs defaults,create=dir 0 0
EOF
	fi
	# a case's own lines (LXC_CONF)
	[ -z "${LXC_CONF:-}" ] || printf '%s\n' "$LXC_CONF" >>"$cwork/$ctr/config"
	lxc-start -P "$cwork" -n "$ctr" -d -o "$cwork/start.log" || { fail "lxc-start"; return 1; }
	pid=$(ctr_pid)
	[ -n "$pid" ] && wait_count "/proc/$pid/root" 5 || { fail "the container does not count"; return 1; }
	token=$(cat "/proc/$pid/root/run/token")
}

lxc_ck() {
	lxc-checkpoint -P "$cwork" -n "$ctr" -D "$cwork/img" ${LXC_CK_V:+-v} "$@" -o "$cwork/lxc.log" >"$cwork/ck.out" 2>&1 ||
		{ fail "lxc-checkpoint $*: $(grep -h -v '^ ' "$cwork/ck.out" | tail -2 | tr '\n' ' ')"; return 1; }
}

check_restored() {
	local before=$1 now
	for _ in $(seq 20); do [ "$(lxc_state)" = RUNNING ] && break; sleep 0.1; done
	[ "$(lxc_state)" = RUNNING ] || { fail "LXC does not see it running ($(lxc_state))"; return 1; }
	pid=$(ctr_pid)
	now=$(count_of "/proc/$pid/root")
	[ "$now" -ge "$before" ] || { fail "the counter started again ($now after $before)"; return 1; }
	[ "$(cat "/proc/$pid/root/run/token" 2>/dev/null)" = "$token" ] ||
		{ fail "the token in the tmpfs is gone"; return 1; }
	wait_count "/proc/$pid/root" $((now + 3)) || { fail "the counter does not go on (stuck at $now)"; return 1; }
}

case_stop() {
	local before
	start || return
	# the dump's count is at least this one
	before=$(count_of "/proc/$pid/root")
	lxc_ck -s || return
	[ "$(lxc_state)" = STOPPED ] || { fail "still $(lxc_state) after lxc-checkpoint -s"; return; }
	lxc_ck -r || return
	check_restored "${before:-1}" && pass
}

case_leave-running() {
	local n
	start || return
	lxc_ck || return
	[ "$(lxc_state)" = RUNNING ] || { fail "not left running ($(lxc_state))"; return; }
	n=$(count_of "/proc/$pid/root")
	wait_count "/proc/$pid/root" $((n + 3)) || { fail "not left running: the counter stopped"; return; }
	lxc-stop -P "$cwork" -n "$ctr" -k || { fail "lxc-stop -k"; return; }
	lxc_ck -r || return
	check_restored 1 && pass
}

case_tcp() {
	local got last
	start workload-tcp.sh || return
	for _ in $(seq 30); do [ -s "/proc/$pid/root/run/tcp" ] && break; sleep 0.1; done
	[ -s "/proc/$pid/root/run/tcp" ] || { fail "no data over the TCP connection before the dump"; return; }
	lxc_ck -s || return
	lxc_ck -r || return
	check_restored 1 || return
	last=$(count_of "/proc/$pid/root")
	for _ in $(seq 30); do
		got=$(tail -1 "/proc/$pid/root/run/tcp" 2>/dev/null)
		[ "${got:-0}" -ge "$last" ] && break
		sleep 0.1
	done
	[ "${got:-0}" -ge "$last" ] || { fail "nothing new over the TCP connection (last ${got:-none})"; return; }
	pass
}

# veth: the container's eth0 is a veth on a bridge of the host; LXC
# restores with --external veth[eth0]:HOSTSIDE@BRIDGE
case_veth() {
	local before
	bridge=h2br$$
	ip link add "$bridge" type bridge && ip addr add 10.231.7.1/24 dev "$bridge" && ip link set "$bridge" up ||
		{ fail "can't make bridge $bridge"; return; }
	start || return
	busybox ping -c3 -W2 10.231.7.2 >/dev/null 2>&1 || { fail "no ping to the container before the checkpoint: $(ip -o addr show dev "$bridge"; ip -o link show master "$bridge"; nsenter -t "$pid" -n ip -o addr)"; return; }
	before=$(count_of "/proc/$pid/root")
	lxc_ck -s || return
	lxc_ck -r || return
	check_restored "${before:-1}" || return
	ip -o link show master "$bridge" | grep -q veth || { fail "no veth on $bridge after the restore"; return; }
	busybox ping -c3 -W2 10.231.7.2 >/dev/null 2>&1 || { fail "no ping to the restored container"; return; }
	pass
}

# init: busybox init (the template's /sbin/init) with syslogd (a unix
# datagram socket /dev/log, its clients' messages in /run/messages), the
# workload respawned by init, and a shell asked for on the console;
# lxc-checkpoint -s and -r, then the log still takes messages
case_init() {
	local before
	start init || return
	before=$(count_of "/proc/$pid/root")
	lxc_ck -s || return
	lxc_ck -r || return
	check_restored "${before:-1}" || return
	[ "$(cat "/proc/$pid/comm")" = init ] || { fail "the container's init is $(cat "/proc/$pid/comm")"; return; }
	# the console's shell: its session's controlling terminal is the console again
	local c tty=0
	for c in $(cat /proc/$pid/task/*/children); do
		[ "$(awk '{print $6 == $1 ? $7 : 0}' "/proc/$c/stat")" != 0 ] && tty=$c
	done
	[ "$tty" != 0 ] || { fail "no session in the container has a controlling terminal"; return; }
	lxc-attach -P "$cwork" -n "$ctr" -- logger -t after restored >/dev/null 2>&1
	sleep 0.3
	grep -q 'after: restored' "/proc/$pid/root/run/messages" ||
		{ fail "syslogd does not log after the restore: $(tail -2 "/proc/$pid/root/run/messages" | tr '\n' ' ')"; return; }
	pass
}

# userns: an unprivileged container (lxc.idmap 0:400000:65536, started by
# root), lxc-checkpoint -s and -r
# LXC maps with newuidmap/newgidmap, which want the range in /etc/subuid and
# /etc/subgid for root too: a line for the case, taken out again
subid_line="root:400000:65536"
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

case_userns() {
	local before
	subid_add
	# the container's root walks down to its rootfs
	chmod 711 "$cwork"
	LXC_IDMAP=400000 start || return
	grep -q '^ *0 *400000 *65536$' "/proc/$pid/uid_map" || { fail "not in a user namespace: $(cat "/proc/$pid/uid_map")"; return; }
	before=$(count_of "/proc/$pid/root")
	lxc_ck -s || return
	lxc_ck -r || return
	check_restored "${before:-1}" || return
	grep -q '^ *0 *400000 *65536$' "/proc/$pid/uid_map" || { fail "restored out of its user namespace: $(cat "/proc/$pid/uid_map")"; return; }
	pass
}

# init-userns: init's case in an unprivileged container
case_init-userns() {
	subid_add
	chmod 711 "$cwork"
	LXC_IDMAP=400000 case_init
}

# python: the python workload (SysV and POSIX shm, a flock, a zombie,
# threads, an http keep-alive connection) as the container's init; it
# checks itself each round (/run/bad)
case_python() {
	local before
	start workload.py || return
	before=$(count_of "/proc/$pid/root")
	lxc_ck -s || return
	lxc_ck -r || return
	check_restored "${before:-1}" || return
	sleep 0.3
	[ -e "/proc/$pid/root/run/bad" ] && { fail "the workload says: $(sort -u "/proc/$pid/root/run/bad" | tr '\n' ' ')"; return; }
	pass
}

# the limits of the cgroups of PID (v1: memory, cpu, pids; v2: the one)
limits_of() {
	local cg
	if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
		cg=/sys/fs/cgroup$(awk -F: '$1 == 0 { print $3 }' "/proc/$1/cgroup")
		cat "$cg"/{memory.max,cpu.max,pids.max}
		return
	fi
	for c in memory:memory.limit_in_bytes cpu:cpu.cfs_quota_us pids:pids.max; do
		cg=$(awk -F: -v c="${c%%:*}" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' "/proc/$1/cgroup")
		cat "/sys/fs/cgroup/${c%%:*}$cg/${c#*:}" 2>/dev/null || cat "/sys/fs/cgroup/cpu,cpuacct$cg/${c#*:}"
	done
}

# unpriv: what an unprivileged container often has at once: the python
# workload (its /run and /dev/shm tmpfs hold its open files, its lock and
# its POSIX shm; threads, a pipe, sockets), eth0 a veth on a bridge of the
# host, and lxc.cgroup memory, cpu quota and pids limits; lxc-checkpoint -s
# and -r: it pings, its limits and user namespace are the same, the
# workload checks itself
case_unpriv() {
	local before l0 l1
	subid_add
	chmod 711 "$cwork"
	bridge=h2br$$
	ip link add "$bridge" type bridge && ip addr add 10.231.7.1/24 dev "$bridge" && ip link set "$bridge" up ||
		{ fail "can't make bridge $bridge"; return; }
	if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
		LXC_CONF=$'lxc.cgroup2.memory.max = 314572800\nlxc.cgroup2.cpu.max = 50000 100000\nlxc.cgroup2.pids.max = 77'
	else
		LXC_CONF=$'lxc.cgroup.memory.limit_in_bytes = 314572800\nlxc.cgroup.cpu.cfs_quota_us = 50000\nlxc.cgroup.pids.max = 77'
	fi
	LXC_IDMAP=400000 LXC_CONF=$LXC_CONF start workload.py || return
	grep -q '^ *0 *400000 *65536$' "/proc/$pid/uid_map" || { fail "not in a user namespace: $(cat "/proc/$pid/uid_map")"; return; }
	l0=$(limits_of "$pid" | tr '\n' ' ')
	case $l0 in *314572800*50000*77*) ;; *) fail "no limits before: $l0"; return ;; esac
	busybox ping -c1 -W2 10.231.7.2 >/dev/null 2>&1 || { fail "no ping to the container before the checkpoint"; return; }
	before=$(count_of "/proc/$pid/root")
	lxc_ck -s || return
	lxc_ck -r || return
	check_restored "${before:-1}" || return
	grep -q '^ *0 *400000 *65536$' "/proc/$pid/uid_map" || { fail "restored out of its user namespace: $(cat "/proc/$pid/uid_map")"; return; }
	l1=$(limits_of "$pid" | tr '\n' ' ')
	[ "$l0" = "$l1" ] || { fail "limits were $l0, now $l1"; return; }
	ip -o link show master "$bridge" | grep -q veth || { fail "no veth on $bridge after the restore"; return; }
	busybox ping -c1 -W2 10.231.7.2 >/dev/null 2>&1 || { fail "no ping to the restored container"; return; }
	sleep 0.3
	[ -e "/proc/$pid/root/run/bad" ] && { fail "the workload says: $(sort -u "/proc/$pid/root/run/bad" | tr '\n' ' ')"; return; }
	pass
}

case_cleanup() {
	if [ -n "${ctr:-}" ]; then
		lxc-stop -P "$cwork" -n "$ctr" -k >/dev/null 2>&1
		lxc-destroy -P "$cwork" -n "$ctr" -f >/dev/null 2>&1
	fi
	ctr=
	[ -z "${bridge:-}" ] || ip link del "$bridge" 2>/dev/null
	bridge=
	subid_del
}

# LXC sets clone_children at the cpuset root: set back as it was
cc=/sys/fs/cgroup/cpuset/cgroup.clone_children
cc_was=$(cat "$cc" 2>/dev/null || true)
run_cases "$ALL" "$*"
[ -n "$cc_was" ] && echo "$cc_was" >"$cc" 2>/dev/null
summary
