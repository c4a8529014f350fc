// SPDX-License-Identifier: GPL-2.0-only
/*
 * An unlinked file (a "ghost"): 300 KiB with a hole in the middle, open
 * read-write at an offset and once more read-only (two descriptions of
 * one inode), then unlinked. After C/R it is still unlinked, its contents
 * and hole are back, writes through one fd are seen through the other,
 * and the name is free.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "zdtmtst.h"

static char buf[100 << 10];

int main(int argc, char **argv)
{
	char path[4096], probe[4];
	struct stat st;
	int rw, ro;

	test_init(argc, argv);
	test_path(path, sizeof(path), "ghost.file");
	rw = open(path, O_RDWR | O_CREAT | O_TRUNC, 0640);
	ro = open(path, O_RDONLY);
	if (rw < 0 || ro < 0)
		test_bug("open");
	zdtm_fill(buf, sizeof(buf), 11);
	if (pwrite(rw, buf, sizeof(buf), 0) != sizeof(buf) || pwrite(rw, buf, sizeof(buf), 200 << 10) != sizeof(buf) ||
	    lseek(rw, 777, SEEK_SET) != 777 || unlink(path))
		test_bug("fill");

	test_daemon();
	test_waitsig();

	if (fstat(rw, &st) || st.st_nlink != 0 || st.st_size != 300 << 10 || (st.st_mode & 0777) != 0640)
		failv("the ghost has nlink %ld size %ld mode %o", (long)st.st_nlink, (long)st.st_size, st.st_mode & 0777);
	if (lseek(rw, 0, SEEK_CUR) != 777)
		failv("the offset is lost");
	if (pread(ro, buf, sizeof(buf), 200 << 10) != sizeof(buf) || zdtm_check(buf, sizeof(buf), 11) != (size_t)-1)
		failv("the contents are lost");
	if (pread(ro, buf, 4096, 150 << 10) != 4096 || zdtm_check_zero(buf, 4096) != (size_t)-1)
		failv("the hole is not zero");
	if (pwrite(rw, "abc", 3, 10) != 3 || pread(ro, probe, 3, 10) != 3 || memcmp(probe, "abc", 3))
		failv("the two fds are not one inode");
	if (access(path, F_OK) == 0)
		failv("the file has a name again");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
