// SPDX-License-Identifier: GPL-2.0-only
/*
 * OFD locks (F_OFD_SETLK) with --file-locks on two open file descriptions
 * of one file: d1 (fd 50, dup'ed at 52) write-locks [0, 10), d2 (fd 51)
 * read-locks [20, 30) and write-locks [40, EOF). After restore a third
 * description asks F_OFD_GETLK and must get each lock's type, start and
 * length (pid -1, as for every OFD lock); the locks belong to their own
 * description: d1 may lock [0, 10) again (through 50 and 52), d2 may not,
 * d1 can't write-lock d2's read range until d2 unlocks it; after each
 * owner unlocks, the third description gets the ranges.
 */
#include <errno.h>
#include <fcntl.h>

#include "zdtmtst.h"

#ifndef F_OFD_GETLK
#define F_OFD_GETLK	36
#define F_OFD_SETLK	37
#endif

static int ofd(int fd, int cmd, short type, off_t start, off_t len, struct flock *out)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
	int ret = fcntl(fd, cmd, &fl);

	if (out)
		*out = fl;
	return ret ? errno : 0;
}

static void expect(int fd, const char *what, short ptype, off_t pstart, off_t plen, short type, off_t start,
		   off_t len)
{
	struct flock fl;

	if (ofd(fd, F_OFD_GETLK, ptype, pstart, plen, &fl)) {
		fail("%s: F_OFD_GETLK", what);
		return;
	}
	if (fl.l_type != type) {
		failv("%s: lock type %d, expected %d", what, fl.l_type, type);
		return;
	}
	if (type != F_UNLCK && (fl.l_start != start || fl.l_len != len || fl.l_pid != -1))
		failv("%s: lock %ld+%ld of %d, expected %ld+%ld of -1", what, (long)fl.l_start, (long)fl.l_len,
		      fl.l_pid, (long)start, (long)len);
}

static void expect_set(int fd, const char *what, short type, off_t start, off_t len, int err)
{
	int ret = ofd(fd, F_OFD_SETLK, type, start, len, NULL);

	if (ret != err)
		failv("%s: F_OFD_SETLK says %d, expected %d", what, ret, err);
}

int main(int argc, char **argv)
{
	char path[4096];
	int fd, d3;

	test_init(argc, argv);
	test_path(path, sizeof(path), "ofd.locks");
	fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, 4096) || dup2(fd, 50) != 50 || dup2(fd, 52) != 52)
		test_bug("d1");
	close(fd);
	fd = open(path, O_RDWR);
	if (fd < 0 || dup2(fd, 51) != 51)
		test_bug("d2");
	close(fd);
	if (ofd(50, F_OFD_SETLK, F_WRLCK, 0, 10, NULL) || ofd(51, F_OFD_SETLK, F_RDLCK, 20, 10, NULL) ||
	    ofd(51, F_OFD_SETLK, F_WRLCK, 40, 0, NULL))
		test_bug("locking");

	test_daemon();
	test_waitsig();

	d3 = open(path, O_RDWR);
	if (d3 < 0) {
		fail("open");
		return 1;
	}
	expect(d3, "d1 write", F_WRLCK, 0, 10, F_WRLCK, 0, 10);
	expect(d3, "d2 read", F_WRLCK, 20, 10, F_RDLCK, 20, 10);
	expect(d3, "d2 read, read probe", F_RDLCK, 20, 10, F_UNLCK, 0, 0);
	expect(d3, "d2 write to EOF", F_WRLCK, 40, 10, F_WRLCK, 40, 0);
	expect(d3, "gap", F_WRLCK, 10, 10, F_UNLCK, 0, 0);

	expect_set(51, "d2 over d1's lock", F_WRLCK, 0, 10, EAGAIN);
	expect_set(50, "d1 over its own lock", F_WRLCK, 0, 10, 0);
	expect_set(52, "d1 (dup) over its own lock", F_WRLCK, 0, 10, 0);
	expect_set(50, "d1 over d2's read lock", F_WRLCK, 20, 10, EAGAIN);
	expect_set(51, "d2 unlocks its read lock", F_UNLCK, 20, 10, 0);
	expect_set(50, "d1 after d2 unlocked", F_WRLCK, 20, 10, 0);
	expect_set(50, "d1 unlocks", F_UNLCK, 0, 0, 0);
	expect_set(d3, "d3 over d2's write lock", F_WRLCK, 100, 10, EAGAIN);
	expect_set(51, "d2 unlocks its write lock", F_UNLCK, 40, 0, 0);
	expect_set(d3, "d3 over everything", F_WRLCK, 0, 0, 0);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
