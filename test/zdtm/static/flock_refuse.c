// SPDX-License-Identifier: GPL-2.0-only
/*
 * A file lock (flock, exclusive) held at fd 33: locks are not supported
 * yet, so the dump must refuse it naming the lock and the fd, and leave
 * the task running with its lock: another open file description still
 * can't take the lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	char path[4096];
	int fd, other;

	test_init(argc, argv);
	test_path(path, sizeof(path), "flock.file");
	fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || dup2(fd, 33) != 33 || flock(33, LOCK_EX))
		test_bug("flock");
	close(fd);

	test_daemon();
	test_waitsig();

	other = open(path, O_RDONLY);
	errno = 0;
	if (other < 0 || flock(other, LOCK_SH | LOCK_NB) != -1 || errno != EWOULDBLOCK)
		failv("the lock is not held any more");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
