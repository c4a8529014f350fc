// SPDX-License-Identifier: GPL-2.0-only
/*
 * A parent watches its child, which is in a group stop, all the time:
 * from the moment the parent runs again after the restore, the child must
 * be stopped ('T'), never in the restore's traced stop ('t'): criu once
 * let the tree's tasks go in their order, the parent before its stopped
 * child (a podman container's workload saw its stopped child as 't').
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

/*
 * The child's state from its stat file, held open and read with pread():
 * an fd opened and closed in the loop would be caught by the runner's
 * /proc snapshots now open at one offset, now at another.
 */
static char state_of(int fd)
{
	char buf[512], *p;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return '?';
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] ? p[2] : '?';
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	stop = 1;
}

int main(int argc, char **argv)
{
	unsigned long seen_t = 0, rounds = 0;
	char last = 0, path[64];
	int status, fd;
	pid_t c;

	test_init(argc, argv);
	c = fork();
	if (c < 0)
		test_bug("fork");
	if (c == 0) {
		raise(SIGSTOP);
		_exit(0);
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", c);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		test_bug("open %s", path);
	while (state_of(fd) != 'T')
		usleep(1000);
	signal(SIGTERM, on_term);
	test_daemon();
	while (!stop) {
		char s = state_of(fd);

		if (s != 'T') {
			seen_t++;
			last = s;
		}
		rounds++;
	}
	if (seen_t) {
		failv("the stopped child was seen %lu times of %lu as '%c', not 'T'", seen_t, rounds, last);
		return 1;
	}
	kill(c, SIGCONT);
	if (waitpid(c, &status, 0) != c || !WIFEXITED(status)) {
		failv("the child did not run on at SIGCONT");
		return 1;
	}
	pass();
	return 0;
}
