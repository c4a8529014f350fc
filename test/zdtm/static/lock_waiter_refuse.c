// SPDX-License-Identifier: GPL-2.0-only
/*
 * A process outside the tree blocked waiting for a POSIX write lock the
 * test holds (a grandchild whose parent exited, so it belongs to the
 * runner now): it would get the lock as soon as the dump killed us, so
 * even with --file-locks the dump must refuse, naming the waiter and the
 * lock's fd (41). Afterwards the lock is still ours (the waiter is still
 * listed in /proc/locks), and once we unlock, the waiter gets it and goes.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "zdtmtst.h"

static char path[4096];

static int waiters(unsigned long ino)
{
	char *buf, *line, needle[64];
	int n = 0;

	if (zdtm_read_file("/proc/locks", &buf) < 0)
		return -1;
	snprintf(needle, sizeof(needle), ":%lu ", ino);
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		n += strstr(line, "->") && strstr(line, needle);
	free(buf);
	return n;
}

static int wait_waiters(unsigned long ino, int want)
{
	for (int i = 0; i < 500; i++) {
		if (waiters(ino) == want)
			return 0;
		usleep(10000);
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
	struct stat st;
	int fd, status;
	pid_t kid;

	test_init(argc, argv);
	test_path(path, sizeof(path), "waited.file");
	fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || dup2(fd, 41) != 41 || close(fd))
		test_bug("open");
	/* after the close: closing any fd of the file drops our POSIX locks on it */
	if (fcntl(41, F_SETLK, &fl) || fstat(41, &st))
		test_bug("lock");

	kid = zdtm_fork();
	if (kid == 0) {
		if (fork() == 0) {
			int w;

			/* nothing of ours may stay open in it: it leaves the tree */
			for (int i = 0; i < 1024; i++)
				close(i);
			w = open(path, O_RDWR);
			if (w < 0 || fcntl(w, F_SETLKW, &fl))
				_exit(1);
			_exit(0);
		}
		_exit(0);
	}
	if (waitpid(kid, &status, 0) != kid)
		test_bug("waitpid");
	if (wait_waiters(st.st_ino, 1))
		test_bug("the waiter does not wait");
	test_daemon();
	test_waitsig();

	if (waiters(st.st_ino) != 1)
		failv("the waiter is not waiting any more");
	fl.l_type = F_UNLCK;
	if (fcntl(41, F_SETLK, &fl))
		fail("unlock");
	if (wait_waiters(st.st_ino, 0))
		failv("the waiter did not get the lock");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
