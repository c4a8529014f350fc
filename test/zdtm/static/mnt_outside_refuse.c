// SPDX-License-Identifier: GPL-2.0-only
/*
 * A directory open on a mount of criu's namespace that the test's own
 * mount namespace does not have (the host's /dev/shm: the test's /dev is
 * a bind of the host's /dev alone, where /dev/shm is another directory):
 * its path leads elsewhere in the tree's namespace, so the dump must
 * refuse naming the fd, and the fd stays the host's /dev/shm.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct stat before, st;
	int fd;

	test_init(argc, argv);
	fd = open("/dev/shm", O_RDONLY | O_DIRECTORY);
	if (fd < 0 || zdtm_fd_at(fd, 70) != 70 || fstat(70, &before))
		test_bug("open /dev/shm");
	zdtm_mntns();
	test_daemon();
	test_waitsig();
	if (fstat(70, &st) || st.st_dev != before.st_dev || st.st_ino != before.st_ino)
		fail("fd 70 is not the host's /dev/shm");
	if (stat("/dev/shm", &st) || st.st_dev == before.st_dev)
		fail("/dev/shm is the host's in the test's namespace");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
