// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: a file open (fd 72) by a name that was removed while the
 * file keeps another link, in another directory. Without --link-remap
 * the dump can't reach it again and must fail, naming the fd and the
 * option (see
 * link_remap_refuse.desc). Afterwards the fd is still the file at the
 * other name.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	char x[4096], y[4096], dir[4096];
	int fd;

	test_init(argc, argv);
	test_path(x, sizeof(x), "lrr.x");
	/* the other link in another directory: one beside the removed name would be found */
	test_path(dir, sizeof(dir), "lrr.d");
	test_path(y, sizeof(y), "lrr.d/lrr.y");
	if (mkdir(dir, 0755))
		test_bug("mkdir");
	fd = open(x, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || dup2(fd, 72) != 72 || close(fd) || link(x, y) || unlink(x))
		test_bug("setup");

	test_daemon();
	test_waitsig();

	if (!zdtm_fd_is_path(72, y, 1))
		failv("fd 72 is not the file at %s any more", y);
	unlink(y);
	rmdir(dir);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
