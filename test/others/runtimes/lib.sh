# Shared by the runtime end-to-end scripts (sourced, bash).
#
# Each script runs cases by name (all of them by default) and prints one
# line per case: "PASS <rt>/<case>", "FAIL <rt>/<case>: why" or
# "SKIP <rt>/<case>: why", then "<rt>: N passed, N failed, N skipped".
# Our criu goes first on PATH for the runtimes (nothing on the system is
# changed for good: podman gets a containers.conf of its own through
# CONTAINERS_CONF, runc is given --criu).

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
CRIU=${CRIU:-$top/build/criu/criu}
export PATH="$(dirname "$CRIU"):$PATH"
keep=${KEEP:-}
npass=0 nfail=0 nskip=0

# need_pkgs PKG...: installs the Debian packages the script needs (once).
need_pkgs() {
	local miss=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || miss+=("$p")
	done
	[ ${#miss[@]} = 0 ] && return 0
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq "${miss[@]}" >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null && apt-get install -y -qq "${miss[@]}" >/dev/null 2>&1; }
}

# busybox_rootfs DIR: a root with a static busybox and its applets.
busybox_rootfs() {
	local d=$1 c
	mkdir -p "$d"/{bin,sbin,proc,sys,dev,tmp,etc,run,root}
	cp /bin/busybox "$d/bin/"
	for c in $(/bin/busybox --list); do
		[ -e "$d/bin/$c" ] || ln -s busybox "$d/bin/$c"
	done
	echo "root:x:0:0:root:/root:/bin/sh" >"$d/etc/passwd"
	echo "root:x:0:" >"$d/etc/group"
}

# The workload every container runs: a counter kept in the shell's memory,
# written to /run/count (a tmpfs) and to stdout, and a token written once
# in /run/token.
workload_sh() {
	cat <<'EOF'
head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > /run/token
i=0
while :; do
	i=$((i+1)); echo $i > /run/count; echo "count $i"
	sleep 0.05
done
EOF
}

# The TCP variant: a connection on 127.0.0.1 inside the container. nc is
# the client, reading the counter from a fifo the loop writes; the server
# nc writes what it gets in /run/tcp, which goes on only if the connection
# made before the dump still works.
workload_tcp_sh() {
	cat <<'EOF'
head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > /run/token
# lo may be down in a fresh network namespace (LXC's "empty" network)
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null
# the server's stdin must not end (nc closes the connection then)
sleep 2147483647 | nc -l -p 4242 > /run/tcp &
sleep 0.3
mkfifo /run/fifo
nc 127.0.0.1 4242 < /run/fifo &
exec 6>/run/fifo
i=0
while :; do
	i=$((i+1)); echo $i > /run/count; echo $i >&6; echo "count $i"
	sleep 0.05
done
EOF
}

pass() { echo "PASS $rt/$case"; npass=$((npass + 1)); }
skip() { echo "SKIP $rt/$case: $*"; nskip=$((nskip + 1)); }
fail() {
	echo "FAIL $rt/$case: $*"
	nfail=$((nfail + 1))
	local f
	for f in $(find "$cwork" -name '*.log' 2>/dev/null); do
		grep -h -m5 'Error' "$f" | sed "s|^|    $(basename "$f"): |"
	done
}

# The state a container's root ($1: its root as /proc/PID/root) shows.
count_of() { cat "$1/run/count" 2>/dev/null || echo 0; }

# wait_count ROOT MIN: waits up to 5 s for the counter to pass MIN.
wait_count() {
	local n
	for _ in $(seq 50); do
		n=$(count_of "$1")
		[ "$n" -gt "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# host_pid_of INIT NSPID: the host pid of the process NSPID of the pid
# namespace of INIT (a host pid), or nothing.
host_pid_of() {
	local ns p
	ns=$(readlink "/proc/$1/ns/pid")
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$ns" ] || continue
		[ "$(awk '$1 == "NSpid:" { print $NF }' "$p/status" 2>/dev/null)" = "$2" ] && { echo "${p#/proc/}"; return; }
	done
}

summary() {
	echo "$rt: $npass passed, $nfail failed, $nskip skipped"
	[ $nfail = 0 ]
}

# run_cases "all cases" "asked cases": runs case_<name> for each.
run_cases() {
	local all=$1 asked=$2 c
	[ -n "$asked" ] || asked=$all
	# interrupted: the case's container goes too (the EXIT traps do the rest)
	trap 'case_cleanup; exit 130' INT TERM
	for c in $asked; do
		case=$c
		run_one_case "$c"
		# a machine busy with other work fails a runtime's own timeouts now
		# and then: a case counts as failed when it fails twice in a row
		if [ "$nfail" -gt "${before_fail:-0}" ] && [ -z "${NO_RETRY:-}" ]; then
			nfail=$before_fail
			echo "    ($rt/$c failed once: tried again)"
			run_one_case "$c"
		fi
	done
}

run_one_case() {
	before_fail=$nfail
	cwork=$(mktemp -d "/tmp/$rt-e2e-$1.XXXXXX")
	"case_$1"
	case_cleanup
	[ -n "$keep" ] || rm -rf "$cwork"
}
