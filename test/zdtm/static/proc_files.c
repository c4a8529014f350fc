// SPDX-License-Identifier: GPL-2.0-only
/*
 * /proc/PID/... files of the tree's tasks, opened by other tasks of the
 * tree (and by the task itself), at an offset: the parent holds its
 * child's status (fd 40), stat at offset 3 (fd 41) and its own comm via
 * /proc/self (fd 42) and /proc/meminfo (fd 43); the child holds its
 * parent's status (fd 40). After restore each refers to the same task
 * (its Pid line, its comm), reads on from the same offset, and the child
 * must be forked after the parent's fds are placed.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "zdtmtst.h"

/* The Pid: line of a status file at @fd, read from its start. */
static int status_pid(int fd)
{
	char buf[4096], *p;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, "\nPid:");
	return p ? atoi(p + 5) : -1;
}

static int open_at(const char *path, int fd, off_t pos)
{
	int f = open(path, O_RDONLY);

	if (f < 0 || dup2(f, fd) != fd || close(f) || lseek(fd, pos, SEEK_SET) != pos)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	char path[64], buf[64], want[64];
	int go[2], done[2], status;
	pid_t kid, me;

	test_init(argc, argv);
	me = getpid();
	if (pipe(go) || pipe(done))
		test_bug("pipe");
	kid = zdtm_fork();
	if (kid == 0) {
		char c;

		snprintf(path, sizeof(path), "/proc/%d/status", me);
		if (open_at(path, 40, 0))
			_exit(2);
		if (write(done[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		_exit(status_pid(40) == me ? 0 : 1);
	}
	snprintf(path, sizeof(path), "/proc/%d/status", kid);
	if (open_at(path, 40, 0))
		test_bug("%s", path);
	snprintf(path, sizeof(path), "/proc/%d/stat", kid);
	if (open_at(path, 41, 3) || open_at("/proc/self/comm", 42, 0) || open_at("/proc/meminfo", 43, 5))
		test_bug("opens");
	if (read(done[0], buf, 1) != 1)
		test_bug("the child");

	test_daemon();
	test_waitsig();

	if (status_pid(40) != kid)
		failv("fd 40 shows pid %d, not the child %d", status_pid(40), kid);
	if (lseek(41, 0, SEEK_CUR) != 3)
		failv("fd 41 is at %ld", (long)lseek(41, 0, SEEK_CUR));
	memset(buf, 0, sizeof(buf));
	snprintf(want, sizeof(want), "%d (", kid);
	if (pread(41, buf, sizeof(buf) - 1, 0) <= 0 || strncmp(buf, want, strlen(want)))
		fail("fd 41 reads '%.20s', not the child's stat", buf);
	memset(buf, 0, sizeof(buf));
	if (read(42, buf, sizeof(buf) - 1) <= 0 || strncmp(buf, "proc_files", 10))
		fail("fd 42 reads '%s', not our comm", buf);
	if (lseek(43, 0, SEEK_CUR) != 5)
		failv("fd 43 is at %ld", (long)lseek(43, 0, SEEK_CUR));
	if (write(go[1], "g", 1) != 1 || waitpid(kid, &status, 0) != kid)
		fail("the child");
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		failv("the child's fd 40 is not our status (%x)", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
