// SPDX-License-Identifier: GPL-2.0-only
/*
 * A file opened O_RDWR, then made append-only (chattr +a): the kernel
 * opens it for writing only with O_APPEND from now on and keeps the fd
 * from taking O_APPEND off, so restore could not make that fd again: the
 * dump must refuse, naming it, and the test goes on with its fd.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <unistd.h>

#include "zdtmtst.h"

#define APPEND_FD	40

static int set_flags(int fd, int flags)
{
	return ioctl(fd, FS_IOC_SETFLAGS, &flags);
}

int main(int argc, char **argv)
{
	char file[600];
	int fd;

	test_init(argc, argv);
	snprintf(file, sizeof(file), "%s/f", test_dir());
	fd = open(file, O_CREAT | O_RDWR, 0644);
	if (fd < 0 || write(fd, "0123456789", 10) != 10 || zdtm_fd_at(fd, APPEND_FD) < 0 ||
	    lseek(APPEND_FD, 2, SEEK_SET) != 2)
		test_bug("the file");
	if (set_flags(APPEND_FD, FS_APPEND_FL))
		test_bug("chattr +a");

	test_daemon();
	test_waitsig();

	if (lseek(APPEND_FD, 0, SEEK_CUR) != 2 || (fcntl(APPEND_FD, F_GETFL) & O_APPEND))
		fail("the fd's offset or flags");
	if (set_flags(APPEND_FD, 0))
		fail("chattr -a");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
