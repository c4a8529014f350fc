// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: inotify fd 77 watches a file that was unlinked and is
 * still open (so the watch lives on). The inode can't be found again at
 * restore: the dump must refuse, naming the pid, "inotify", fd 77 and the
 * deletion. After SIGTERM the watch still reports a write with its wd.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/inotify.h>

#include "zdtmtst.h"

#define INOTIFY_FD	77

int main(int argc, char **argv)
{
	char buf[4096] __attribute__((aligned(8))), path[4096];
	struct inotify_event *ev = (void *)buf;
	ssize_t len;
	int fd, wd, ifd;

	test_init(argc, argv);
	test_path(path, sizeof(path), "inotify_deleted.file");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ifd = inotify_init1(IN_NONBLOCK);
	if (fd < 0 || ifd < 0 || dup2(ifd, INOTIFY_FD) != INOTIFY_FD)
		test_bug("create %s, inotify_init1", path);
	close(ifd);
	wd = inotify_add_watch(INOTIFY_FD, path, IN_MODIFY);
	if (wd < 0 || unlink(path))
		test_bug("watch and unlink %s", path);
	/* IN_ATTRIB of the unlink (link count) */
	while (read(INOTIFY_FD, buf, sizeof(buf)) > 0)
		;

	test_daemon();
	test_waitsig();

	if (write(fd, "x", 1) != 1)
		fail("write");
	len = read(INOTIFY_FD, buf, sizeof(buf));
	if (len != (ssize_t)sizeof(*ev) || ev->wd != wd || ev->mask != IN_MODIFY)
		failv("read %zd bytes: wd %d mask %#x, want wd %d IN_MODIFY", len, len > 0 ? ev->wd : -1,
		      len > 0 ? ev->mask : 0, wd);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
