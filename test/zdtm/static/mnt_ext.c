// SPDX-License-Identifier: GPL-2.0-only
/*
 * External mounts, given both ways: e1 is dumped with
 * --external mnt[PATH]:key1 and restored with --external mnt[key1]:ALT1,
 * e2 with -M PATH:key2 and -M key2:ALT2 (see the desc). At dump the
 * mounts' directories (src1, src2) say "dump", at restore the
 * directories the keys map to (alt1, alt2) say "restore": after restore
 * e1 and e2 are binds of those, read-only e2 as it was, and the tmpfs
 * mounted inside e1 is there again on top. Keys that name no mount
 * (runc passes every device path) are ignored at both ends.
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

int main(int argc, char **argv)
{
	static const char *const dirs[] = { "src1", "src2", "alt1", "alt2", "e1", "e2", "src1/sub", "alt1/sub" };
	struct statvfs sv;
	struct stat a, b;

	test_init(argc, argv);
	snprintf(dir, sizeof(dir), "%s", test_dir());
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (mkdir(P(dirs[i]), 0755))
			test_bug("mkdir %s", dirs[i]);
	put(P("src1/marker"), "dump");
	put(P("src2/marker"), "dump");
	put(P("alt1/marker"), "restore");
	put(P("alt2/marker"), "restore");
	zdtm_mntns();
	if (mount(P("src1"), P("e1"), NULL, MS_BIND, NULL) || mount(P("src2"), P("e2"), NULL, MS_BIND, NULL) ||
	    mount(NULL, P("e2"), NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) ||
	    mount("zdtm-in-ext", P("e1/sub"), "tmpfs", 0, "size=1m"))
		test_bug("mounts");
	put(P("e1/sub/inner"), "inner");
	if (!holds(P("e1/marker"), "dump") || !holds(P("e2/marker"), "dump"))
		test_bug("markers");

	test_daemon();
	test_waitsig();

	if (!holds(P("e1/marker"), "restore") || stat(P("e1"), &a) || stat(P("alt1"), &b) || a.st_ino != b.st_ino)
		fail("e1 is not a bind of alt1");
	if (!holds(P("e2/marker"), "restore") || stat(P("e2"), &a) || stat(P("alt2"), &b) || a.st_ino != b.st_ino ||
	    statvfs(P("e2"), &sv) || !(sv.f_flag & ST_RDONLY))
		fail("e2 is not a read-only bind of alt2");
	if (!holds(P("e1/sub/inner"), "inner"))
		fail("the tmpfs inside e1");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
