"""A client of the swrk protocol written from the wire format alone: a
small protobuf codec for the messages of images/rpc.proto, and the
socketpair + `criu swrk FD` plumbing every client does. Independent of the
C side on purpose, so that it also checks the field numbers."""

import array
import os
import socket
import struct
import subprocess

# message: {field name: (number, kind, repeated, submessage)}
MSG = {
    "criu_req": {
        "type": (1, "enum", False, None),
        "opts": (2, "msg", False, "criu_opts"),
        "notify_success": (3, "bool", False, None),
        "keep_open": (4, "bool", False, None),
        "features": (5, "msg", False, "criu_features"),
        "pid": (6, "int32", False, None),
    },
    "criu_resp": {
        "type": (1, "enum", False, None),
        "success": (2, "bool", False, None),
        "dump": (3, "msg", False, "criu_dump_resp"),
        "restore": (4, "msg", False, "criu_restore_resp"),
        "notify": (5, "msg", False, "criu_notify"),
        "ps": (6, "msg", False, "criu_page_server_info"),
        "cr_errno": (7, "int32", False, None),
        "features": (8, "msg", False, "criu_features"),
        "cr_errmsg": (9, "string", False, None),
        "version": (10, "msg", False, "criu_version"),
        "status": (11, "int32", False, None),
    },
    "criu_opts": {
        "images_dir_fd": (1, "int32", False, None),
        "pid": (2, "int32", False, None),
        "leave_running": (3, "bool", False, None),
        "ext_unix_sk": (4, "bool", False, None),
        "tcp_established": (5, "bool", False, None),
        "evasive_devices": (6, "bool", False, None),
        "shell_job": (7, "bool", False, None),
        "file_locks": (8, "bool", False, None),
        "log_level": (9, "int32", False, None),
        "log_file": (10, "string", False, None),
        "ps": (11, "msg", False, "criu_page_server_info"),
        "notify_scripts": (12, "bool", False, None),
        "root": (13, "string", False, None),
        "parent_img": (14, "string", False, None),
        "track_mem": (15, "bool", False, None),
        "auto_dedup": (16, "bool", False, None),
        "work_dir_fd": (17, "int32", False, None),
        "link_remap": (18, "bool", False, None),
        "cpu_cap": (20, "uint32", False, None),
        "exec_cmd": (22, "string", True, None),
        "ext_mnt": (23, "msg", True, "kv"),
        "manage_cgroups": (24, "bool", False, None),
        "cg_root": (25, "msg", True, "cgroup_root"),
        "rst_sibling": (26, "bool", False, None),
        "inherit_fd": (27, "msg", True, "inherit_fd"),
        "skip_mnt": (31, "string", True, None),
        "manage_cgroups_mode": (34, "enum", False, None),
        "ghost_limit": (35, "uint32", False, None),
        "irmap_scan_paths": (36, "string", True, None),
        "external": (37, "string", True, None),
        "empty_ns": (38, "uint32", False, None),
        "join_ns": (39, "msg", True, "join_ns"),
        "cgroup_props": (41, "string", False, None),
        "cgroup_props_file": (42, "string", False, None),
        "freeze_cgroup": (44, "string", False, None),
        "timeout": (45, "uint32", False, None),
        "tcp_skip_in_flight": (46, "bool", False, None),
        "weak_sysctls": (47, "bool", False, None),
        "lazy_pages": (48, "bool", False, None),
        "status_fd": (49, "int32", False, None),
        "orphan_pts_master": (50, "bool", False, None),
        "config_file": (51, "string", False, None),
        "tcp_close": (52, "bool", False, None),
        "lsm_profile": (53, "string", False, None),
        "lsm_mount_context": (63, "string", False, None),
        "pre_dump_mode": (61, "enum", False, None),
        "network_lock": (64, "enum", False, None),
        "mntns_compat_mode": (65, "bool", False, None),
        "leave_stopped": (69, "bool", False, None),
    },
    "criu_page_server_info": {
        "address": (1, "string", False, None), "port": (2, "int32", False, None),
        "pid": (3, "int32", False, None), "fd": (4, "int32", False, None),
    },
    "criu_dump_resp": {"restored": (1, "bool", False, None)},
    "criu_restore_resp": {"pid": (1, "int32", False, None)},
    "criu_notify": {"script": (1, "string", False, None), "pid": (2, "int32", False, None)},
    "criu_features": {
        "mem_track": (1, "bool", False, None), "lazy_pages": (2, "bool", False, None),
        "pidfd_store": (3, "bool", False, None),
    },
    "criu_version": {
        "major_number": (1, "int32", False, None), "minor_number": (2, "int32", False, None),
        "gitid": (3, "string", False, None), "sublevel": (4, "int32", False, None),
        "extra": (5, "int32", False, None), "name": (6, "string", False, None),
    },
    "kv": {"key": (1, "string", False, None), "val": (2, "string", False, None)},
    "cgroup_root": {"ctrl": (1, "string", False, None), "path": (2, "string", False, None)},
    "inherit_fd": {"key": (1, "string", False, None), "fd": (2, "int32", False, None)},
    "join_ns": {"ns": (1, "string", False, None), "ns_file": (2, "string", False, None),
                "extra_opt": (3, "string", False, None)},
}

TYPES = {"EMPTY": 0, "DUMP": 1, "RESTORE": 2, "CHECK": 3, "PRE_DUMP": 4, "PAGE_SERVER": 5,
         "NOTIFY": 6, "CPUINFO_DUMP": 7, "CPUINFO_CHECK": 8, "FEATURE_CHECK": 9, "VERSION": 10,
         "WAIT_PID": 11, "PAGE_SERVER_CHLD": 12, "SINGLE_PRE_DUMP": 13}


def varint(v):
    if v < 0:
        v += 1 << 64
    out = bytearray()
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(num, wire):
    return varint(num << 3 | wire)


def encode(name, d):
    out = bytearray()
    schema = MSG[name]
    for fname, val in d.items():
        if isinstance(fname, int):      # raw field number: for unknown fields
            out += key(fname, 0) + varint(val)
            continue
        num, kind, rep, sub = schema[fname]
        for v in (val if rep else [val]):
            if kind in ("int32", "uint32", "enum"):
                out += key(num, 0) + varint(int(v))
            elif kind == "bool":
                out += key(num, 0) + varint(1 if v else 0)
            elif kind == "string":
                b = v.encode() if isinstance(v, str) else v
                out += key(num, 2) + varint(len(b)) + b
            else:
                b = encode(sub, v)
                out += key(num, 2) + varint(len(b)) + b
    return bytes(out)


def read_varint(buf, i):
    v = shift = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7f) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def decode(name, buf):
    schema = MSG[name]
    bynum = {f[0]: (n, f) for n, f in schema.items()}
    d = {}
    i = 0
    while i < len(buf):
        k, i = read_varint(buf, i)
        num, wire = k >> 3, k & 7
        if wire == 0:
            v, i = read_varint(buf, i)
        elif wire == 2:
            ln, i = read_varint(buf, i)
            v = bytes(buf[i:i + ln])
            i += ln
        elif wire == 5:
            v = buf[i:i + 4]
            i += 4
        elif wire == 1:
            v = buf[i:i + 8]
            i += 8
        else:
            raise ValueError("bad wire type %d" % wire)
        if num not in bynum:
            d.setdefault("_unknown", []).append(num)
            continue
        fname, (_, kind, rep, sub) = bynum[num]
        if kind in ("int32", "enum"):
            v = v - (1 << 64) if v >= 1 << 63 else v
        elif kind == "bool":
            v = bool(v)
        elif kind == "string":
            v = v.decode()
        elif kind == "msg":
            v = decode(sub, v)
        if rep:
            d.setdefault(fname, []).append(v)
        else:
            d[fname] = v
    return d


class Swrk:
    """criu swrk on one end of a socketpair; the other end is ours."""

    def __init__(self, criu, pass_fds=(), sock=None, env=None, stderr=None):
        if sock is None:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        else:
            ours, theirs = sock
        self.sk = ours
        fds = (theirs.fileno(),) + tuple(pass_fds)
        self.p = subprocess.Popen([criu, "swrk", str(theirs.fileno())], pass_fds=fds,
                                  stdin=subprocess.DEVNULL, stderr=stderr, env=env)
        theirs.close()

    def send_raw(self, data):
        self.sk.send(data)

    def send(self, req):
        self.send_raw(encode("criu_req", req))

    def recv(self, timeout=60):
        self.sk.settimeout(timeout)
        fds = array.array("i")
        msg, anc, _flags, _addr = self.sk.recvmsg(1 << 16, socket.CMSG_LEN(4 * fds.itemsize))
        got = []
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                a = array.array("i")
                a.frombytes(data[:len(data) - len(data) % a.itemsize])
                got += list(a)
        if not msg:
            return None
        r = decode("criu_resp", msg)
        r["_size"] = len(msg)
        r["_fds"] = got
        return r

    def call(self, req, on_notify=None):
        """Send req; answer notifications (on_notify(resp) -> bool); return the final reply."""
        self.send(req)
        while True:
            r = self.recv()
            if r is None:
                return None
            if r.get("type") == TYPES["NOTIFY"] and "notify" in r:
                ok = on_notify(r) if on_notify else True
                for fd in r["_fds"]:
                    os.close(fd)
                if ok is None:          # the callback vanished
                    return r
                self.send({"type": TYPES["NOTIFY"], "notify_success": bool(ok)})
                continue
            return r

    def close(self, timeout=60):
        self.sk.close()
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            return None


def score(v):
    """How clients rank a VERSION reply (go-criu, libcriu)."""
    s = v["major_number"] * 10000 + v["minor_number"] * 100 + v.get("sublevel", 0)
    if "gitid" in v:
        s = v["major_number"] * 10000 + (v["minor_number"] + 1) * 100
    return s
