// SPDX-License-Identifier: GPL-2.0-only
/*
 * A waiter inside the tree, with --file-locks: the child is blocked in
 * F_SETLKW on the write lock the parent holds on [0, 10) at fd 42. The
 * freeze interrupts its wait and it waits again after restore: the lock is
 * still the parent's (the child reports through a pipe only once it got
 * it, and nothing came before SIGTERM); once the parent unlocks, the child
 * gets the lock and a probe from another process sees it held by the child.
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
	struct pollfd pfd;
	char path[4096], c;
	int fd, got[2], done[2], status;
	pid_t kid;

	test_init(argc, argv);
	test_path(path, sizeof(path), "waited.file");
	fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || dup2(fd, 42) != 42 || close(fd) || fcntl(42, F_SETLK, &fl))
		test_bug("lock");
	if (pipe(got) || pipe(done))
		test_bug("pipe");

	kid = zdtm_fork();
	if (kid == 0) {
		close(got[0]);
		close(done[1]);
		if (fcntl(42, F_SETLKW, &fl))
			_exit(1);
		if (write(got[1], "g", 1) != 1 || read(done[0], &c, 1) != 1)
			_exit(2);
		_exit(0);
	}
	close(got[1]);
	close(done[0]);
	test_daemon();
	test_waitsig();

	pfd = (struct pollfd){ .fd = got[0], .events = POLLIN };
	if (poll(&pfd, 1, 0) != 0)
		failv("the child got the lock while the parent held it");
	fl.l_type = F_UNLCK;
	if (fcntl(42, F_SETLK, &fl))
		fail("unlock");
	if (read(got[0], &c, 1) != 1 || c != 'g') {
		failv("the child did not get the lock");
	} else {
		pid_t probe = fork();

		if (probe == 0) {
			struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
			int f = open(path, O_RDWR);

			_exit(f < 0 || fcntl(f, F_GETLK, &q) || q.l_type != F_WRLCK || q.l_pid != kid ||
			      q.l_start != 0 || q.l_len != 10);
		}
		if (probe < 0 || zdtm_reap(probe, &status))
			failv("the lock is not the child's");
	}
	if (write(done[1], "d", 1) != 1)
		fail("write");
	if (zdtm_reap(kid, &status))
		failv("the child failed (status %x)", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
