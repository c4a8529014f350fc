// SPDX-License-Identifier: GPL-2.0-only
/*
 * O_PATH descriptors and namespace files held as fds:
 *  - fd 40: O_PATH|O_NOFOLLOW of a symlink (the link itself, not its target);
 *  - fd 41: O_PATH of a regular file, fd 42: O_PATH of a directory;
 *  - fds 43-47: /proc/self/ns/{net,uts,mnt,pid_for_children,user}.
 * After restore each names the same object: the symlink's text and type,
 * the file's and directory's inodes, and the namespaces we live in
 * (the inode of /proc/self/ns/X), with their flags.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "zdtmtst.h"

static const char *const ns[] = { "net", "uts", "mnt", "pid_for_children", "user" };

/* open() at fd @at exactly. */
static int open_at(const char *path, int flags, int at)
{
	int fd = open(path, flags);

	if (fd < 0 || dup2(fd, at) != at || close(fd))
		return -1;
	return at;
}

int main(int argc, char **argv)
{
	char link[4096], file[4096], dir[4096], buf[4096], path[64];
	struct stat st[3], now;
	int flags[8];

	test_init(argc, argv);
	test_path(file, sizeof(file), "opath.file");
	test_path(dir, sizeof(dir), "opath.dir");
	test_path(link, sizeof(link), "opath.link");
	if (close(open(file, O_CREAT | O_WRONLY, 0600)) || mkdir(dir, 0700) || symlink("opath.file", link))
		test_bug("making the files");
	if (open_at(link, O_PATH | O_NOFOLLOW, 40) < 0 || open_at(file, O_PATH, 41) < 0 ||
	    open_at(dir, O_PATH | O_DIRECTORY, 42) < 0)
		test_bug("O_PATH opens");
	for (int i = 0; i < 3; i++)
		if (fstatat(40 + i, "", &st[i], AT_EMPTY_PATH))
			test_bug("fstatat");
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		snprintf(path, sizeof(path), "/proc/self/ns/%s", ns[i]);
		if (open_at(path, O_RDONLY, 43 + i) < 0)
			test_bug("open %s", path);
	}
	for (int i = 0; i < 8; i++)
		flags[i] = fcntl(40 + i, F_GETFL);

	test_daemon();
	test_waitsig();

	for (int i = 0; i < 3; i++) {
		if (fstatat(40 + i, "", &now, AT_EMPTY_PATH) || now.st_ino != st[i].st_ino ||
		    (now.st_mode & S_IFMT) != (st[i].st_mode & S_IFMT))
			fail("fd %d: not the same object (inode %lu, mode %o)", 40 + i, (unsigned long)now.st_ino,
			     now.st_mode);
	}
	memset(buf, 0, sizeof(buf));
	if (readlinkat(40, "", buf, sizeof(buf) - 1) < 0 || strcmp(buf, "opath.file"))
		fail("the symlink at fd 40 reads '%s'", buf);
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		struct stat want;

		snprintf(path, sizeof(path), "/proc/self/ns/%s", ns[i]);
		if (stat(path, &want) || fstat(43 + i, &now) || now.st_ino != want.st_ino || now.st_dev != want.st_dev)
			fail("fd %zu is not our %s namespace", 43 + i, ns[i]);
	}
	for (int i = 0; i < 8; i++)
		if (fcntl(40 + i, F_GETFL) != flags[i])
			failv("fd %d: flags %o, were %o", 40 + i, fcntl(40 + i, F_GETFL), flags[i]);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
