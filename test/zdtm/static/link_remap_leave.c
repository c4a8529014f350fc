// SPDX-License-Identifier: GPL-2.0-only
/*
 * --link-remap with --leave-running: a file open by a removed name (it
 * has another link) is linked back at dump; the tree runs on, and the
 * temporary link stays for a restore from these images. Afterwards the
 * directory holds exactly one link-remap file, of the same inode as the fd
 * (the test removes it).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	char x[4096], y[4096], dir[4096], r[4400];
	int fd, n;

	test_init(argc, argv);
	test_path(x, sizeof(x), "lrl.x");
	/* the other link in another directory: one beside the removed name would be found */
	test_path(dir, sizeof(dir), "lrl.d");
	test_path(y, sizeof(y), "lrl.d/lrl.y");
	if (mkdir(dir, 0755))
		test_bug("mkdir");
	fd = open(x, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || link(x, y) || unlink(x))
		test_bug("setup");

	test_daemon();
	test_waitsig();

	n = zdtm_dir_count(test_dir(), ".criu-link-remap.", r, sizeof(r));
	if (n != 1) {
		failv("%d link-remap files instead of one", n);
	} else {
		/* its links: y and the link-remap file */
		if (!zdtm_fd_is_path(fd, r, 2))
			failv("%s is not the file of the fd", r);
		unlink(r);
	}
	unlink(y);
	rmdir(dir);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
