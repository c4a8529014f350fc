// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative: fd 60 is a FIFO opened by a name that was then unlinked, while
 * the FIFO keeps another link. A FIFO made again at restore would not be
 * the one reachable by that other name, so the dump must fail naming the
 * fd. Afterwards the FIFO still carries data from the other name to fd 60.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	char path[4096], other[4096], buf[8];
	int fd, wr;

	test_init(argc, argv);
	test_path(path, sizeof(path), "fifo_unlinked_refuse.fifo");
	test_path(other, sizeof(other), "fifo_unlinked_refuse.link");
	unlink(path);
	unlink(other);
	if (mkfifo(path, 0600) || link(path, other))
		test_bug("mkfifo and link");
	fd = open(path, O_RDONLY | O_NONBLOCK);
	if (fd < 0 || dup2(fd, 60) != 60 || unlink(path))
		test_bug("open and unlink");
	close(fd);

	test_daemon();
	test_waitsig();

	wr = open(other, O_WRONLY | O_NONBLOCK);
	if (wr < 0 || write(wr, "abc", 3) != 3 || read(60, buf, sizeof(buf)) != 3 || memcmp(buf, "abc", 3))
		fail("the FIFO no longer carries data from its other name to fd 60");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
