// SPDX-License-Identifier: GPL-2.0-only
/*
 * flock locks with --file-locks: file A locked exclusive through fd 33
 * (dup'ed at 36, and inherited by a child, so three fds share the one
 * description), file B locked shared through two descriptions at 34 and
 * 35. After restore: fdinfo shows the same locks at the same fds; another
 * description can't lock A at all and can share B but not own it; each
 * owner can unlock its own: B is free only once both 34 and 35 unlocked,
 * A stays locked while the child still holds the description after the
 * parent closed its fds, and is free once the child unlocked it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>

#include "zdtmtst.h"

static char path_a[4096], path_b[4096];

static int has_lock(int fd, const char *what)
{
	char name[64], *info;
	int ret;

	snprintf(name, sizeof(name), "/proc/self/fdinfo/%d", fd);
	if (zdtm_read_file(name, &info) < 0)
		return 0;
	ret = strstr(info, what) != NULL;
	free(info);
	return ret;
}

/* 0 if a new description of @path can take @op, else errno. */
static int try_lock(const char *path, int op)
{
	int fd = open(path, O_RDONLY), ret = 0;

	if (fd < 0)
		return -1;
	if (flock(fd, op | LOCK_NB))
		ret = errno;
	close(fd);
	return ret;
}

int main(int argc, char **argv)
{
	int fd, pfd[2], status;
	pid_t kid;
	char c;

	test_init(argc, argv);
	test_path(path_a, sizeof(path_a), "flock.a");
	test_path(path_b, sizeof(path_b), "flock.b");
	fd = open(path_a, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || dup2(fd, 33) != 33 || dup2(33, 36) != 36 || flock(33, LOCK_EX))
		test_bug("flock on A");
	close(fd);
	fd = open(path_b, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || dup2(fd, 34) != 34 || flock(34, LOCK_SH))
		test_bug("flock on B");
	close(fd);
	fd = open(path_b, O_RDONLY);
	if (fd < 0 || dup2(fd, 35) != 35 || flock(35, LOCK_SH))
		test_bug("flock on B again");
	close(fd);
	if (pipe(pfd))
		test_bug("pipe");

	kid = zdtm_fork();
	if (kid == 0) {
		close(pfd[1]);
		close(34);
		close(35);
		close(36);
		/* the parent says when; then the lock goes with our unlock */
		if (read(pfd[0], &c, 1) != 1)
			_exit(1);
		if (flock(33, LOCK_UN))
			_exit(2);
		_exit(0);
	}
	close(pfd[0]);
	test_daemon();
	test_waitsig();

	if (!has_lock(33, "FLOCK  ADVISORY  WRITE") || !has_lock(36, "FLOCK  ADVISORY  WRITE"))
		failv("fd 33/36 show no exclusive flock");
	if (!has_lock(34, "FLOCK  ADVISORY  READ") || !has_lock(35, "FLOCK  ADVISORY  READ"))
		failv("fd 34/35 show no shared flock");
	if (try_lock(path_a, LOCK_SH) != EWOULDBLOCK)
		failv("A can be locked by someone else");
	if (try_lock(path_b, LOCK_SH))
		failv("B can't be shared");
	if (try_lock(path_b, LOCK_EX) != EWOULDBLOCK)
		failv("B can be locked exclusive by someone else");

	if (flock(34, LOCK_UN))
		fail("unlock 34");
	if (try_lock(path_b, LOCK_EX) != EWOULDBLOCK)
		failv("B is free while 35 still holds it");
	if (flock(35, LOCK_UN))
		fail("unlock 35");
	if (try_lock(path_b, LOCK_EX))
		failv("B is still locked after both unlocked");

	close(33);
	close(36);
	if (try_lock(path_a, LOCK_SH) != EWOULDBLOCK)
		failv("A is free while the child holds its description");
	if (write(pfd[1], "g", 1) != 1)
		fail("waking the child");
	if (zdtm_reap(kid, &status))
		failv("the child failed (status %x)", status);
	if (try_lock(path_a, LOCK_EX))
		failv("A is still locked after the child unlocked it");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
