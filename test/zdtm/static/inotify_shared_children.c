// SPDX-License-Identifier: GPL-2.0-only
/*
 * An inotify fd (77, IN_MODIFY on a file as wd 1) made by the task and
 * inherited by two children; the task then closed its own, so no
 * ancestor of the children holds it. After C/R the children hold one
 * instance again: the task writes the file, the first child (woken by
 * SIGUSR1) reads the event (wd 1, IN_MODIFY) and exits, and the second
 * (woken next) finds the shared queue empty.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define INOTIFY_FD	77

static int reader(void)
{
	char buf[4096] __attribute__((aligned(8)));
	struct inotify_event *ev = (void *)buf;
	ssize_t len;

	if (zdtm_wait_usr1())
		return 2;
	len = read(INOTIFY_FD, buf, sizeof(buf));
	if (len != (ssize_t)sizeof(*ev) || ev->wd != 1 || ev->mask != IN_MODIFY)
		return 3;
	return 0;
}

static int checker(void)
{
	char buf[4096];

	if (zdtm_wait_usr1())
		return 2;
	errno = 0;
	if (read(INOTIFY_FD, buf, sizeof(buf)) != -1 || errno != EAGAIN)
		return 4;
	return 0;
}

static void reap(pid_t kid, const char *who)
{
	int status;

	if (zdtm_wake_and_reap(kid, &status))
		failv("the %s failed (status %#x)", who, status);
}

int main(int argc, char **argv)
{
	char path[4096];
	pid_t kid[2];
	int fd;

	test_init(argc, argv);
	test_path(path, sizeof(path), "inotify_shared_children.file");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		test_bug("create %s", path);
	close(fd);

	if (zdtm_fd_at(inotify_init1(IN_NONBLOCK), INOTIFY_FD) < 0)
		test_bug("inotify_init1");
	if (inotify_add_watch(INOTIFY_FD, path, IN_MODIFY) != 1)
		test_bug("inotify_add_watch");
	zdtm_block_usr1(true);
	for (int i = 0; i < 2; i++) {
		kid[i] = zdtm_fork();
		if (kid[i] == 0)
			_exit(i ? checker() : reader());
	}
	zdtm_block_usr1(false);
	close(INOTIFY_FD);
	test_daemon();
	test_waitsig();

	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, "x", 1) != 1)
		test_bug("write %s", path);
	close(fd);
	reap(kid[0], "child reading the event");
	reap(kid[1], "child finding the queue empty");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
