// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: an unlinked file of 2 MiB, more than --ghost-limit
 * (1 MiB), and no --link-remap: the dump must fail naming the file, the
 * fd and the limit (see ghost_big_refuse.desc). Afterwards the fd still
 * reads the contents and the file is still unlinked.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "zdtmtst.h"

#define BIG	(2 << 20)
#define FD	71

int main(int argc, char **argv)
{
	static char buf[BIG];
	char path[4096];
	struct stat st;
	int fd;

	test_init(argc, argv);
	test_path(path, sizeof(path), "ghost_big_refuse.file");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	zdtm_fill(buf, BIG, 71);
	if (fd < 0 || pwrite(fd, buf, BIG, 0) != BIG || dup2(fd, FD) != FD || close(fd) || unlink(path))
		test_bug("file");

	test_daemon();
	test_waitsig();

	if (fstat(FD, &st) || st.st_nlink != 0 || st.st_size != BIG || pread(FD, buf, BIG, 0) != BIG ||
	    zdtm_check(buf, BIG, 71) != (size_t)-1)
		failv("the unlinked file changed");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
