#!/bin/bash
# End to end: `runc checkpoint` / `runc restore` of a busybox container
# made with `runc spec`, through our criu's swrk protocol. The container
# counts in a file of its rootfs; the count must go on after the restore.
#
#   test/others/runtimes/runc.sh [--terminal] [--leave-running] [--keep]
#
# Installs runc and busybox-static (Debian) if missing. Run as root. Uses
# the build tree's criu (put first on PATH, as runc finds "criu" there).
# Not in scripts/test yet: it needs the container work (namespaces, mounts,
# cgroups) to pass; Documentation/rpc.md says where it stops today.
set -uo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
terminal=false
leave=
keep=
for a in "$@"; do
	case "$a" in
	--terminal) terminal=true ;;
	--leave-running) leave=--leave-running ;;
	--keep) keep=1 ;;
	*) echo "unknown option $a" >&2; exit 2 ;;
	esac
done

need=()
command -v runc >/dev/null || need+=(runc)
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
	apt-get install -y "${need[@]}" >/dev/null 2>&1 ||
		{ apt-get update >/dev/null && apt-get install -y "${need[@]}" >/dev/null; } || exit 1
fi
export PATH="$top/build/criu:$PATH"
[ "$(command -v criu)" = "$top/build/criu/criu" ] || { echo "build criu first" >&2; exit 1; }

work=$(mktemp -d /tmp/runc-e2e.XXXXXX)
ctr=criu-e2e-$$
root="$work/state"
runc_() { runc --root "$root" "$@"; }
cleanup() {
	runc_ kill "$ctr" KILL >/dev/null 2>&1
	sleep 0.2
	runc_ delete -f "$ctr" >/dev/null 2>&1
	[ -n "$keep" ] || rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL runc${terminal:+ terminal=$terminal}: $*"; for f in "$work"/img/dump.log "$work"/work/dump.log "$work"/work/restore.log; do [ -f "$f" ] && grep -m3 Error "$f"; done; echo "runc: 0 passed, 1 failed"; exit 1; }

# a busybox rootfs and `runc spec`, counting in /count
mkdir -p "$work/bundle/rootfs/bin" "$work/img" "$work/work"
cp /bin/busybox "$work/bundle/rootfs/bin/"
for c in sh sleep cat echo; do ln -s busybox "$work/bundle/rootfs/bin/$c"; done
mkdir -p "$work/bundle/rootfs"/{proc,sys,dev,tmp,etc}
cd "$work/bundle" && runc spec || fail "runc spec"
python3 - "$terminal" <<'PY' || fail "editing config.json"
import json, sys
c = json.load(open("config.json"))
c["process"]["terminal"] = sys.argv[1] == "true"
c["process"]["args"] = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /count; sleep 0.05; done"]
c["root"]["readonly"] = False
json.dump(c, open("config.json", "w"), indent=1)
PY

if $terminal; then
	# a console socket that keeps the pty master runc sends (recvtty-like)
	python3 - "$work/console.sock" <<'PY' &
import array, os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(4)
held = []
while True:
    c, _ = s.accept()
    msg, anc, _, _ = c.recvmsg(1024, socket.CMSG_LEN(4))
    for lvl, typ, data in anc:
        fds = array.array("i"); fds.frombytes(data[:4]); held.append(fds[0])
PY
	console_pid=$!
	trap 'kill $console_pid 2>/dev/null; cleanup' EXIT
	sleep 0.5
	runc_ run -d --console-socket "$work/console.sock" "$ctr" || fail "runc run"
else
	runc_ run -d "$ctr" </dev/null >/dev/null 2>&1 || fail "runc run"
fi
sleep 0.5
count() { cat "$work/bundle/rootfs/count" 2>/dev/null || echo 0; }
a=$(count)
[ "$a" -gt 0 ] || fail "the container does not count"

runc_ checkpoint --image-path "$work/img" --work-path "$work/work" $leave "$ctr" 2>"$work/checkpoint.err" ||
	fail "runc checkpoint: $(tail -3 "$work/checkpoint.err")"
[ -f "$work/img/inventory.img" ] || fail "no inventory.img"
if [ -n "$leave" ]; then
	b=$(count); sleep 0.3
	[ "$(count)" -gt "$b" ] || fail "not left running"
	runc_ kill "$ctr" KILL; sleep 0.3; runc_ delete -f "$ctr"
fi
before=$(count)
runc_ restore -d --image-path "$work/img" --work-path "$work/work" "$ctr" </dev/null >/dev/null 2>"$work/restore.err" ||
	fail "runc restore: $(tail -3 "$work/restore.err")"
sleep 0.5
after=$(count)
[ "$after" -gt "$before" ] || fail "the count did not go on ($before, then $after)"
runc_ state "$ctr" | grep -q '"status": "running"' || fail "runc does not see it running"
echo "PASS runc terminal=$terminal${leave:+ leave-running}"
echo "runc: 1 passed, 0 failed"
