// SPDX-License-Identifier: GPL-2.0-only
/*
 * An inotify fd (77, IN_MODIFY on a file as wd 1) shared by the task and
 * its child. After C/R both hold the same inotify instance again: the
 * parent writes the file, the child (woken by SIGUSR1) reads the event
 * through its fd, checks wd and mask and exits 0, and the parent's queue is
 * then empty, since the child consumed the event from the shared queue.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define INOTIFY_FD	77

static int child(void)
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

int main(int argc, char **argv)
{
	char path[4096], buf[64];
	int fd, status;
	pid_t kid;

	test_init(argc, argv);
	test_path(path, sizeof(path), "inotify_shared.file");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		test_bug("create %s", path);
	close(fd);

	if (zdtm_fd_at(inotify_init1(IN_NONBLOCK), INOTIFY_FD) < 0)
		test_bug("inotify_init1");
	if (inotify_add_watch(INOTIFY_FD, path, IN_MODIFY) != 1)
		test_bug("inotify_add_watch");
	zdtm_block_usr1(true);
	kid = zdtm_fork();
	if (kid == 0)
		_exit(child());
	zdtm_block_usr1(false);
	test_daemon();
	test_waitsig();

	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, "x", 1) != 1)
		test_bug("write %s", path);
	close(fd);
	if (zdtm_wake_and_reap(kid, &status))
		failv("the child did not read wd 1 IN_MODIFY through its fd (status %#x)", status);
	errno = 0;
	if (read(INOTIFY_FD, buf, sizeof(buf)) != -1 || errno != EAGAIN)
		failv("the parent still sees an event: the fds are not one inotify instance");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
