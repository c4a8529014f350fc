// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test (root): fanotify fd 80 has a FAN_MODIFY event queued that
 * the task has not read. The dump must refuse, naming the pid, "fanotify"
 * and fd 80, without taking the event: after SIGTERM it is still there,
 * with its mask and an event fd that is the file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/fanotify.h>

#include "zdtmtst.h"

#define FAN_FD	80

int main(int argc, char **argv)
{
	char buf[4096] __attribute__((aligned(8))), path[4096], link[64], target[4096];
	struct fanotify_event_metadata *md = (void *)buf;
	ssize_t len, l = -1;
	int fd, g;

	test_init(argc, argv);
	test_path(path, sizeof(path), "fanotify_queued.file");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	g = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY);
	if (fd < 0 || g < 0 || dup2(g, FAN_FD) != FAN_FD)
		test_bug("create %s, fanotify_init", path);
	close(g);
	if (fanotify_mark(FAN_FD, FAN_MARK_ADD, FAN_MODIFY, AT_FDCWD, path) || write(fd, "x", 1) != 1)
		test_bug("mark and write %s", path);
	close(fd);

	test_daemon();
	test_waitsig();

	len = read(FAN_FD, buf, sizeof(buf));
	if (len != (ssize_t)sizeof(*md) || md->mask != FAN_MODIFY || md->fd < 0) {
		failv("read %zd bytes, mask %#llx, want one FAN_MODIFY event", len,
		      len > 0 ? (unsigned long long)md->mask : 0ULL);
	} else {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", md->fd);
		l = readlink(link, target, sizeof(target) - 1);
		if (l < 0 || (target[l] = '\0', strcmp(target, path)))
			failv("the event's fd is not %s", path);
	}
	if (test_failures)
		return 1;
	pass();
	return 0;
}
