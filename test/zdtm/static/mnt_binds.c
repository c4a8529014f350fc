// SPDX-License-Identifier: GPL-2.0-only
/*
 * Bind mounts in the test's own mount namespace: a read-only bind of a
 * directory; a bind with nosuid, nodev, noexec, noatime and nosymfollow;
 * a bind of a file onto another file; a directory of the host stacked
 * under a tmpfs on the same mountpoint; a mount hidden below a sibling
 * mounted over its parent directory; a bind of a subdirectory of a tmpfs.
 * After restore each is the same directory or file (device and inode),
 * with the same per-mount options, stacked in the same order (the
 * covered ones show again once what covers them is unmounted), and the
 * read-only one refuses writes.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "zdtmtst.h"

static char dir[512];

static const char *P(const char *rel)
{
	static char buf[8][600];
	static int n;

	n = (n + 1) % 8;
	snprintf(buf[n], sizeof(buf[n]), "%s/%s", dir, rel);
	return buf[n];
}

static void put(const char *path, const char *text)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd))
		test_bug("write %s", path);
}

static int holds(const char *path, const char *text)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	return n == (ssize_t)strlen(text) && !memcmp(buf, text, n);
}

static void bind(const char *from, const char *to, unsigned long flags)
{
	if (mount(P(from), P(to), NULL, MS_BIND, NULL) ||
	    (flags && mount(NULL, P(to), NULL, MS_BIND | MS_REMOUNT | flags, NULL)))
		test_bug("bind %s at %s", from, to);
}

static struct stat st_src, st_f, st_tsub;

static int same(const char *path, const struct stat *want)
{
	struct stat st;

	return !stat(path, &st) && st.st_dev == want->st_dev && st.st_ino == want->st_ino;
}

int main(int argc, char **argv)
{
	static char stack_root[256];
	struct zdtm_mnt m, lower;
	struct statvfs sv;
	int fd;

	test_init(argc, argv);
	snprintf(dir, sizeof(dir), "%s", test_dir());
	if (mkdir(P("src"), 0755) || mkdir(P("ro"), 0755) || mkdir(P("flags"), 0755) || mkdir(P("stack"), 0755) ||
	    mkdir(P("ov"), 0755) || mkdir(P("ov/inner"), 0755) || mkdir(P("t"), 0755) || mkdir(P("tsub"), 0755))
		test_bug("mkdir");
	put(P("src/f"), "src");
	put(P("target"), "target");
	zdtm_mntns();

	bind("src", "ro", MS_RDONLY);
	bind("src", "flags", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NOSYMFOLLOW);
	bind("src/f", "target", 0);
	/* the host's directory below, a tmpfs on top at the same point */
	bind("src", "stack", 0);
	if (mount("zdtm-top", P("stack"), "tmpfs", 0, "size=1m"))
		test_bug("tmpfs on stack");
	put(P("stack/top"), "top");
	/* ov/inner is mounted, then ov covers it */
	bind("src", "ov/inner", 0);
	if (mount("zdtm-ov", P("ov"), "tmpfs", 0, "size=1m"))
		test_bug("tmpfs on ov");
	if (mount("zdtm-t", P("t"), "tmpfs", 0, "size=1m") || mkdir(P("t/sub"), 0700))
		test_bug("tmpfs t");
	put(P("t/sub/x"), "x");
	bind("t/sub", "tsub", 0);
	if (stat(P("src"), &st_src) || stat(P("src/f"), &st_f) || stat(P("t/sub"), &st_tsub))
		test_bug("stat");
	/* the bind's root as its filesystem names it (the test directory may be a bind itself: ns flavors) */
	if (zdtm_mountinfo(P("stack"), &m) || zdtm_mountinfo_id(m.parent, &lower))
		test_bug("stack");
	snprintf(stack_root, sizeof(stack_root), "%s", lower.root);

	test_daemon();
	test_waitsig();

	if (zdtm_mountinfo(P("ro"), &m) || strncmp(m.opts, "ro,", 3) || !same(P("ro"), &st_src))
		failv("ro: %s, not a read-only bind of src", m.opts);
	fd = open(P("ro/new"), O_CREAT | O_WRONLY, 0644);
	if (fd >= 0 || errno != EROFS)
		fail("a file could be made in the read-only bind");
	if (zdtm_mountinfo(P("flags"), &m) || !same(P("flags"), &st_src) || statvfs(P("flags"), &sv) ||
	    !(sv.f_flag & ST_NOSUID) || !(sv.f_flag & ST_NODEV) || !(sv.f_flag & ST_NOEXEC) ||
	    !(sv.f_flag & ST_NOATIME) || !strstr(m.opts, "nosymfollow") || (sv.f_flag & ST_RDONLY))
		failv("flags: %s (statvfs %#lx)", m.opts, sv.f_flag);
	if (!same(P("target"), &st_f) || !holds(P("target"), "src"))
		failv("target is not src/f bound on it");
	if (zdtm_mountinfo(P("stack"), &m) || strcmp(m.fstype, "tmpfs") || !holds(P("stack/top"), "top") ||
	    zdtm_mountinfo_id(m.parent, &lower) || strcmp(lower.point, P("stack")) || strcmp(lower.root, stack_root))
		failv("stack: the tmpfs is not stacked on the bind (%s, parent %d at %s)", m.fstype, m.parent,
		      lower.point);
	if (umount2(P("stack"), 0) || !same(P("stack"), &st_src) || !holds(P("stack/f"), "src"))
		fail("below the tmpfs on stack");
	if (zdtm_mountinfo(P("ov/inner"), &lower) || zdtm_mountinfo(P("ov"), &m) || lower.parent != m.parent ||
	    lower.id > m.id)
		failv("ov/inner (parent %d, id %d) is not below ov (parent %d, id %d)", lower.parent, lower.id,
		      m.parent, m.id);
	if (umount2(P("ov"), 0) || !same(P("ov/inner"), &st_src))
		fail("below the tmpfs on ov");
	if (zdtm_mountinfo(P("tsub"), &m) || strcmp(m.root, "/sub") || !holds(P("tsub/x"), "x") ||
	    stat(P("t/sub"), &st_tsub) || !same(P("tsub"), &st_tsub))
		failv("tsub: %s is not a bind of t/sub", m.root);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
