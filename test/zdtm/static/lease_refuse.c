// SPDX-License-Identifier: GPL-2.0-only
/*
 * A read lease (F_SETLEASE) at fd 37: even with --file-locks the dump must
 * refuse it, naming the lease and the fd, and leave the task running with
 * its lease (F_GETLEASE still says F_RDLCK) and fd 37 still reading the
 * file's bytes.
 */
#include <fcntl.h>
#include <string.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	char path[4096], buf[8] = "";
	int fd;

	test_init(argc, argv);
	test_path(path, sizeof(path), "lease.file");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, "leased", 6) != 6 || close(fd))
		test_bug("file");
	/* a read lease needs a read-only fd and no writer */
	fd = open(path, O_RDONLY);
	if (fd < 0 || dup2(fd, 37) != 37 || fcntl(37, F_SETLEASE, F_RDLCK))
		test_bug("F_SETLEASE");
	close(fd);

	test_daemon();
	test_waitsig();

	if (fcntl(37, F_GETLEASE) != F_RDLCK)
		failv("the lease is gone: %d", fcntl(37, F_GETLEASE));
	if (pread(37, buf, 6, 0) != 6 || memcmp(buf, "leased", 6))
		fail("fd 37 reads '%s'", buf);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
