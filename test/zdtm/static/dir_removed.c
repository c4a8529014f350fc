// SPDX-License-Identifier: GPL-2.0-only
/*
 * Opened directories that were removed: one opened O_RDONLY (and dup'ed),
 * one by O_PATH, both of the same directory of mode 0710, plus another
 * removed directory; all removed. After C/R the fds are still removed
 * directories with their mode, the first two are still one inode (and the
 * dup still shares the description), /proc shows "PATH (deleted)",
 * nothing can be made in them, fchdir into one works, and the paths are
 * free.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "zdtmtst.h"

static int removed_dir(int fd, int mode)
{
	struct stat st;

	return !fstat(fd, &st) && S_ISDIR(st.st_mode) && st.st_nlink == 0 && (int)(st.st_mode & 07777) == mode;
}

int main(int argc, char **argv)
{
	char a[4096], b[4096], want[4200], link[4200], path[64];
	struct stat sa, sp;
	int fa, fp, fdup, fb;
	ssize_t n;

	test_init(argc, argv);
	test_path(a, sizeof(a), "dir_removed.a");
	test_path(b, sizeof(b), "dir_removed.b");
	if (mkdir(a, 0700) || chmod(a, 0710) || mkdir(b, 0755) || chmod(b, 0755))
		test_bug("mkdir");
	fa = open(a, O_RDONLY | O_DIRECTORY);
	fp = open(a, O_PATH | O_DIRECTORY);
	fb = open(b, O_RDONLY | O_DIRECTORY);
	fdup = dup(fa);
	if (fa < 0 || fp < 0 || fb < 0 || fdup < 0 || rmdir(a) || rmdir(b))
		test_bug("open/rmdir");

	test_daemon();
	test_waitsig();

	if (!removed_dir(fa, 0710) || !removed_dir(fp, 0710) || !removed_dir(fb, 0755))
		failv("an fd is not a removed directory of its mode");
	if (fstat(fa, &sa) || fstat(fp, &sp) || sa.st_ino != sp.st_ino || sa.st_dev != sp.st_dev)
		failv("the O_RDONLY and O_PATH fds are not one directory");
	if ((fcntl(fp, F_GETFL) & O_PATH) != O_PATH)
		failv("the O_PATH fd lost O_PATH");
	if (lseek(fa, 0, SEEK_CUR) != 0 || fcntl(fdup, F_GETFD) != 0)
		fail("the dup'ed fd");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fa);
	snprintf(want, sizeof(want), "%s (deleted)", a);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0 || (link[n] = '\0', strcmp(link, want)))
		failv("fd %d shows '%s', not '%s'", fa, n < 0 ? "?" : link, want);
	errno = 0;
	if (openat(fb, "x", O_CREAT | O_RDWR, 0600) >= 0 || errno != ENOENT)
		fail("a file could be made in a removed directory");
	if (fchdir(fa))
		fail("fchdir into the removed directory");
	if (access(a, F_OK) == 0 || access(b, F_OK) == 0)
		failv("a removed directory has a name again");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
