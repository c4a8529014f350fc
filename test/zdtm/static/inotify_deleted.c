// SPDX-License-Identifier: GPL-2.0-only
/*
 * inotify fd 77 watches a file that was unlinked and is still open (fd
 * 76), and a directory that was removed and is still open (fd 75): the
 * watches live on as long as the inodes do. After restore a write to the
 * file reports IN_MODIFY with its wd, and closing the directory's last fd
 * reports IN_DELETE_SELF and IN_IGNORED with its wd; the wds are the same.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "zdtmtst.h"

#define INOTIFY_FD	77
#define FILE_FD		76
#define DIR_FD		75

int main(int argc, char **argv)
{
	char buf[4096] __attribute__((aligned(8))), path[4096], dir[4096];
	struct inotify_event *ev = (void *)buf;
	ssize_t len;
	int wd, dwd;

	test_init(argc, argv);
	test_path(path, sizeof(path), "inotify_deleted.file");
	test_path(dir, sizeof(dir), "inotify_deleted.dir");
	if (zdtm_fd_at(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644), FILE_FD) < 0 || mkdir(dir, 0755) ||
	    zdtm_fd_at(open(dir, O_RDONLY | O_DIRECTORY), DIR_FD) < 0 ||
	    zdtm_fd_at(inotify_init1(IN_NONBLOCK), INOTIFY_FD) < 0)
		test_bug("create %s, %s, inotify_init1", path, dir);
	wd = inotify_add_watch(INOTIFY_FD, path, IN_MODIFY);
	dwd = inotify_add_watch(INOTIFY_FD, dir, IN_DELETE_SELF);
	if (wd < 0 || dwd < 0 || unlink(path) || rmdir(dir))
		test_bug("watch and remove %s, %s", path, dir);
	/* IN_ATTRIB of the unlink (link count) */
	while (read(INOTIFY_FD, buf, sizeof(buf)) > 0)
		;

	test_daemon();
	test_waitsig();

	if (write(FILE_FD, "x", 1) != 1)
		fail("write");
	len = read(INOTIFY_FD, buf, sizeof(buf));
	if (len != (ssize_t)sizeof(*ev) || ev->wd != wd || ev->mask != IN_MODIFY)
		failv("read %zd bytes: wd %d mask %#x, want wd %d IN_MODIFY", len, len > 0 ? ev->wd : -1,
		      len > 0 ? ev->mask : 0, wd);
	close(DIR_FD);
	len = read(INOTIFY_FD, buf, sizeof(buf));
	if (len != 2 * (ssize_t)sizeof(*ev) || ev[0].wd != dwd || ev[0].mask != IN_DELETE_SELF ||
	    ev[1].wd != dwd || ev[1].mask != IN_IGNORED)
		failv("after the directory's last close: %zd bytes, wd %d mask %#x, want wd %d IN_DELETE_SELF, "
		      "IN_IGNORED", len, len > 0 ? ev->wd : -1, len > 0 ? ev->mask : 0, dwd);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
