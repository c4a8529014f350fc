// SPDX-License-Identifier: GPL-2.0-only
/*
 * --link-remap. "lr.x" and "lr.y" are two links of one file; the task
 * opens it as lr.x, maps it MAP_SHARED and removes lr.x (nlink stays 1).
 * A 512 KiB O_TMPFILE file is open too: it has no links left, so it is
 * never linked back (that would take from the task the right to link it
 * in) but saved whole. lr.x is linked back at dump under a temporary name. After C/R: the
 * lr.x fd and mapping are still the file at lr.y (a write by path shows
 * through both), /proc shows "lr.x (deleted)", the big file's contents
 * are back and it has no links, and no temporary link is left; the big
 * file is still an O_TMPFILE one: the task can link it in.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "zdtmtst.h"

#define BIG	(512 << 10)

int main(int argc, char **argv)
{
	char x[4096], y[4096], dir[4096], want[4200], lnk[4200], path[64], buf[4];
	static char big[BIG];
	struct stat sf;
	volatile char *map;
	int fx, fy, ft;
	ssize_t n;

	test_init(argc, argv);
	test_path(x, sizeof(x), "lr.x");
	/* the other link in another directory: one beside the removed name would be found */
	test_path(dir, sizeof(dir), "lr.d");
	test_path(y, sizeof(y), "lr.d/lr.y");
	if (mkdir(dir, 0755))
		test_bug("mkdir");
	fx = open(x, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fx < 0 || ftruncate(fx, 8192) || pwrite(fx, "data", 4, 0) != 4 || link(x, y) || unlink(x))
		test_bug("links");
	map = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fx, 0);
	ft = open(test_dir(), O_TMPFILE | O_RDWR, 0600);
	zdtm_fill(big, BIG, 61);
	if (map == MAP_FAILED || ft < 0 || pwrite(ft, big, BIG, 0) != BIG)
		test_bug("tmpfile");

	test_daemon();
	test_waitsig();

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fx);
	snprintf(want, sizeof(want), "%s (deleted)", x);
	n = readlink(path, lnk, sizeof(lnk) - 1);
	if (n < 0 || (lnk[n] = '\0', strcmp(lnk, want)))
		failv("the fd shows '%s', not '%s'", n < 0 ? "?" : lnk, want);
	if (!zdtm_fd_is_path(fx, y, 1))
		failv("the fd is not the file at %s, with one link", y);
	fy = open(y, O_RDWR);
	if (fy < 0 || pwrite(fy, "Y", 1, 100) != 1)
		fail("writing by path");
	if (pread(fx, buf, 1, 100) != 1 || buf[0] != 'Y' || map[100] != 'Y' || memcmp((char *)map, "data", 4))
		failv("the fd or the mapping is not the file at %s", y);
	memset(big, 0, BIG);
	if (fstat(ft, &sf) || sf.st_nlink != 0 || sf.st_size != BIG || pread(ft, big, BIG, 0) != BIG ||
	    zdtm_check(big, BIG, 61) != (size_t)-1)
		failv("the O_TMPFILE file is not back (nlink %ld, size %ld)", (long)sf.st_nlink, (long)sf.st_size);
	n = zdtm_dir_count(test_dir(), ".criu-link-remap.", NULL, 0);
	if (n != 0)
		failv("%zd link-remap files are left in %s", n, test_dir());
	/* still an O_TMPFILE file: it can be linked in (and dumped again) */
	test_path(lnk, sizeof(lnk), "lr.tmp");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", ft);
	if (linkat(AT_FDCWD, path, AT_FDCWD, lnk, AT_SYMLINK_FOLLOW))
		fail("the O_TMPFILE file can't be linked in any more");
	else if (!zdtm_fd_is_path(ft, lnk, 1))
		fail("the O_TMPFILE file linked in is not the file");
	unlink(lnk);
	unlink(y);
	rmdir(dir);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
