#!/usr/bin/env python3
"""
The kinds of page checksum (Documentation/images.md, pagemap_head.csum_kind):

  new_dump_aes     a dump writes csum_kind 1 (the AES page hash) and restores.
  forced_xxh3      CRIU_CSUM_KIND=xxh3: no csum_kind (XXH3, as older images),
                   and it restores.
  chain_follows    a pre-dump with CRIU_CSUM_KIND=xxh3, then a dump on top
                   of it without the switch: the dump keeps the chain's kind
                   (XXH3) and the chain restores.
  chain_aes_damage a chain of AES images with a page of the dump's pages
                   file flipped: the restore refuses it naming the file.
  bad_switch       CRIU_CSUM_KIND=md5: the dump fails saying so, the task
                   runs on.

Run as root: python3 test/others/csum_kind.py
"""
import glob, json, os

from hoglib import HogSuite, alive, kill  # noqa: F401 (the cases use them)

S = HogSuite("csum_kind", 8, "CRIU_CSUM_KIND")
work, start, criu, dump, restore_ok = S.work, S.start, S.criu, S.dump, S.restore_ok


def kind(d, pid):
    r = criu({}, "show", "%s/pagemap-%d.img" % (d, pid))
    return json.loads(r.stdout)["entries"][0].get("csum_kind", 0)


def new_dump_aes():
    pid = start()
    d = work + "/a"
    r = dump({}, pid, d)
    if r.returncode:
        return "dump failed: " + r.stderr[-500:]
    if kind(d, pid) != 1:
        return "csum_kind %s, not 1" % kind(d, pid)
    return restore_ok(d, pid)


def forced_xxh3():
    pid = start()
    d = work + "/x"
    r = dump({"CRIU_CSUM_KIND": "xxh3"}, pid, d)
    if r.returncode:
        return "dump failed: " + r.stderr[-500:]
    if kind(d, pid) != 0:
        return "csum_kind %s, not absent" % kind(d, pid)
    return restore_ok(d, pid)


def chain(pre_env, name):
    pid = start()
    pre, d = work + "/%s-pre" % name, work + "/%s-dump" % name
    os.makedirs(pre)
    r = criu(pre_env, "pre-dump", "-t", str(pid), "-D", pre, "-o", "pre.log", "--track-mem")
    if r.returncode:
        return pid, None, "pre-dump failed: " + r.stderr[-500:]
    r = dump({}, pid, d, "--prev-images-dir", "../%s-pre" % name, "--track-mem")
    if r.returncode:
        return pid, None, "dump failed: " + r.stderr[-500:]
    return pid, d, None


def chain_follows():
    pid, d, why = chain({"CRIU_CSUM_KIND": "xxh3"}, "cf")
    if why:
        return why
    if kind(d, pid) != 0 or kind(work + "/cf-pre", pid) != 0:
        return "the dump did not keep the chain's kind: %s over %s" % (kind(d, pid), kind(work + "/cf-pre", pid))
    return restore_ok(d, pid)


def chain_aes_damage():
    pid, d, why = chain({}, "cd")
    if why:
        return why
    pages = sorted(glob.glob(d + "/pages-*.img"), key=os.path.getsize)[-1]
    if os.path.getsize(pages) < 4096:
        return "no pages in the dump"
    with open(pages, "r+b") as f:
        f.seek(100)
        b = f.read(1)
        f.seek(100)
        f.write(bytes([b[0] ^ 0x10]))
    r = criu({}, "restore", "-d", "-D", d, "-o", "restore.log")
    if r.returncode == 0:
        return "a damaged page restored"
    log = open(d + "/restore.log").read()
    if "damaged" not in log or os.path.basename(pages) not in log + r.stderr:
        return "refused without naming the damage: " + r.stderr[-300:]
    return None


def bad_switch():
    pid = start()
    r = dump({"CRIU_CSUM_KIND": "md5"}, pid, work + "/bad")
    if r.returncode == 0:
        return "dumped with an unknown kind"
    if "CRIU_CSUM_KIND=md5" not in r.stderr:
        return "no clear error: " + r.stderr[-300:]
    if not alive(pid):
        return "the task died"
    return None


S.run([("new_dump_aes", new_dump_aes), ("forced_xxh3", forced_xxh3), ("chain_follows", chain_follows),
       ("chain_aes_damage", chain_aes_damage), ("bad_switch", bad_switch)])
