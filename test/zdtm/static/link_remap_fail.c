// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test with --link-remap: a file whose open name was removed
 * (it has another link) is linked back at dump, then a userfaultfd (fd 90),
 * a kind criu refuses, makes the dump fail. The temporary link must be gone again: afterwards
 * the directory holds no link-remap file and the fd is still the file.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	char x[4096], y[4096], left[4400];
	int fd, in, n;

	test_init(argc, argv);
	test_path(x, sizeof(x), "lrf.x");
	test_path(y, sizeof(y), "lrf.y");
	fd = open(x, O_RDWR | O_CREAT | O_TRUNC, 0644);
	/* user-mode-only faults need no privilege */
	in = syscall(SYS_userfaultfd, O_CLOEXEC | 1 /* UFFD_USER_MODE_ONLY */);
	if (fd < 0 || in < 0 || dup2(in, 90) != 90 || close(in) || link(x, y) || unlink(x))
		test_bug("setup");

	test_daemon();
	test_waitsig();

	n = zdtm_dir_count(test_dir(), ".criu-link-remap.", left, sizeof(left));
	if (n < 0)
		fail("opendir");
	else if (n)
		failv("%s is left behind", left);
	if (!zdtm_fd_is_path(fd, y, 1))
		failv("the fd is not the file at %s any more", y);
	unlink(y);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
