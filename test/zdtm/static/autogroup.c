// SPDX-License-Identifier: GPL-2.0-only
/*
 * The nice of a session's autogroup (/proc/PID/autogroup: what `nice`
 * changes for a desktop session, and renice of a session's group): a
 * child makes a session of its own and sets its autogroup's nice to 7.
 * After C/R it reads 7 again. Without autogroups (no
 * /proc/self/autogroup) it passes empty.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "zdtmtst.h"

/* The autogroup nice of @pid, -100 if there is none. */
static int ag_nice(pid_t pid)
{
	char path[64], buf[64] = {};
	int fd, nice = -100;
	char *n;

	snprintf(path, sizeof(path), "/proc/%d/autogroup", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -100;
	if (read(fd, buf, sizeof(buf) - 1) > 0 && (n = strstr(buf, " nice ")))
		sscanf(n, " nice %d", &nice);
	close(fd);
	return nice;
}

int main(int argc, char **argv)
{
	int p[2], status;
	pid_t child;
	char c;

	test_init(argc, argv);
	if (pipe(p))
		test_bug("pipe");
	child = fork();
	if (child < 0)
		test_bug("fork");
	if (!child) {
		int fd;

		if (setsid() < 0)
			_exit(1);
		fd = open("/proc/self/autogroup", O_WRONLY);
		if (fd >= 0 && write(fd, "7", 1) != 1)
			_exit(2);
		if (write(p[1], "", 1) != 1)
			_exit(3);
		while (1)
			pause();
	}
	if (read(p[0], &c, 1) != 1)
		test_bug("the child failed to start");
	if (ag_nice(child) == -100)
		test_msg("no autogroups here: nothing to check\n");

	test_daemon();
	test_waitsig();

	if (ag_nice(child) != -100 && ag_nice(child) != 7)
		failv("the session's autogroup nice is %d", ag_nice(child));
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
