// SPDX-License-Identifier: GPL-2.0-only
/*
 * An inotify fd (77) of the task watching a file for every event, and for
 * IN_OPEN the directory the file is in; the file is held open by the
 * task's child and mapped by the task. Restoring them opens the file
 * again (the child's fd after the task made the inotify fd, the mapping
 * after all fds), which must not leave events behind: after C/R the queue
 * is empty, and a new open of the file by the task gives exactly two
 * events: IN_OPEN on wd 1 (the file) and on wd 2 (the directory, with
 * the file's name).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define INOTIFY_FD	77

int main(int argc, char **argv)
{
	char path[4200], dir[4096], buf[4096] __attribute__((aligned(8)));
	struct inotify_event *ev = (void *)buf;
	int fd, status, seen = 0, go[2];
	ssize_t len;
	void *map;
	pid_t kid;

	test_init(argc, argv);
	/* a directory of its own: the runner's pidfile and the test's outfile make events in the test's */
	test_path(dir, sizeof(dir), "inotify_restore_quiet.d");
	if (mkdir(dir, 0755) && errno != EEXIST)
		test_bug("mkdir %s", dir);
	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "0123456789", 10) != 10)
		test_bug("create %s", path);
	map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		test_bug("mmap");
	close(fd);

	if (pipe(go))
		test_bug("pipe");
	kid = zdtm_fork();
	if (kid == 0) {
		close(go[0]);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			_exit(1);
		close(go[1]);
		pause();
		_exit(0);
	}
	/* the child has the file open before the watches are made */
	if (zdtm_wait_ready(go))
		test_bug("the child can't open the file");
	if (zdtm_fd_at(inotify_init1(IN_NONBLOCK), INOTIFY_FD) < 0)
		test_bug("inotify_init1");
	if (inotify_add_watch(INOTIFY_FD, path, IN_ALL_EVENTS) != 1 ||
	    inotify_add_watch(INOTIFY_FD, dir, IN_OPEN) != 2)
		test_bug("inotify_add_watch");

	test_daemon();
	test_waitsig();

	errno = 0;
	len = read(INOTIFY_FD, buf, sizeof(buf));
	if (len != -1 || errno != EAGAIN)
		failv("events were queued by the restore (%zd bytes, first wd %d mask %#x)", len,
		      len > 0 ? ev->wd : 0, len > 0 ? ev->mask : 0);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		fail("open");
	len = read(INOTIFY_FD, buf, sizeof(buf));
	for (char *p = buf; len > 0 && p < buf + len; p += sizeof(*ev) + ev->len) {
		ev = (void *)p;
		if (ev->mask == IN_OPEN && ev->wd == 1 && !ev->len)
			seen |= 1;
		else if (ev->mask == IN_OPEN && ev->wd == 2 && ev->len &&
			 !strcmp(ev->name, "file"))
			seen |= 2;
		else
			seen |= 4;
	}
	if (seen != 3)
		failv("a new open gave %zd bytes of events (%#x); want IN_OPEN on wd 1 and 2", len, seen);
	close(fd);
	kill(kid, SIGKILL);
	waitpid(kid, &status, 0);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
