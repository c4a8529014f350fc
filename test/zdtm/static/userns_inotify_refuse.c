// SPDX-License-Identifier: GPL-2.0-only
/*
 * An inotify watch in a tree with a user namespace of its own (the uns
 * flavor): restore would open the watched file by handle, which needs
 * capabilities in criu's user namespace, so the dump refuses the fd by
 * name. The watch still reports a change afterwards.
 */
#include <fcntl.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct inotify_event ev[4];
	char path[4096];
	int fd, in;

	test_init(argc, argv);
	test_path(path, sizeof(path), "watched");
	fd = open(path, O_CREAT | O_RDWR, 0600);
	in = zdtm_fd_at(inotify_init1(IN_NONBLOCK), 77);
	if (fd < 0 || in < 0 || inotify_add_watch(in, path, IN_MODIFY) < 0)
		test_bug("inotify");
	test_daemon();
	test_waitsig();
	if (write(fd, "x", 1) != 1)
		fail("write");
	if (read(in, ev, sizeof(ev)) <= 0)
		fail("no IN_MODIFY after the failed dump");
	close(fd);
	unlink(path);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
