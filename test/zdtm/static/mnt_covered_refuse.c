// SPDX-License-Identifier: GPL-2.0-only
/*
 * The test (in a mount namespace of its own) opens d/f, then mounts a
 * tmpfs over d/: the file is on the mount d/ is in, but no path from
 * that mount's root reaches it any more without entering the tmpfs.
 * Restore could not open it on its own mount: the dump must refuse,
 * naming the fd, and the test goes on with its file.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

#define COVERED_FD	40

int main(int argc, char **argv)
{
	char dir[600], file[700], buf[8] = "";
	int fd;

	test_init(argc, argv);
	zdtm_mntns();
	snprintf(dir, sizeof(dir), "%s/d", test_dir());
	snprintf(file, sizeof(file), "%s/f", dir);
	if (mkdir(dir, 0755))
		test_bug("mkdir");
	fd = open(file, O_CREAT | O_RDWR, 0644);
	if (fd < 0 || write(fd, "0123456789", 10) != 10 || zdtm_fd_at(fd, COVERED_FD) < 0 ||
	    lseek(COVERED_FD, 2, SEEK_SET) != 2)
		test_bug("the file");
	if (mount("zdtm-cover", dir, "tmpfs", 0, "size=1m"))
		test_bug("cover");

	test_daemon();
	test_waitsig();

	if (lseek(COVERED_FD, 0, SEEK_CUR) != 2 || read(COVERED_FD, buf, 3) != 3 || memcmp(buf, "234", 3))
		fail("the covered file's fd: offset or data");
	if (umount2(dir, 0))
		fail("umount");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
