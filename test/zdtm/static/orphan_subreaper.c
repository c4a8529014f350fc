// SPDX-License-Identifier: GPL-2.0-only
/*
 * An orphan re-parented to a subreaper in the tree: the test process sets
 * PR_SET_CHILD_SUBREAPER, its child A makes its own group and forks B,
 * then A exits and is reaped: B's parent is now the test process and B's
 * group (A's) has no leader. After C/R, B says (on SIGUSR1, by its exit
 * code) that getppid() is still the subreaper, and the subreaper reaps it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

static pid_t subreaper;

static void on_usr1(int sig)
{
	_exit(getppid() == subreaper ? 7 : 3);
}

int main(int argc, char **argv)
{
	int p[2], status;
	pid_t a, b;
	char c;

	test_init(argc, argv);
	subreaper = getpid();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) || pipe(p))
		test_bug("setup");

	a = zdtm_fork();
	if (a == 0) {
		setpgid(0, 0);
		b = fork();
		if (b == 0) {
			sigset_t none;

			signal(SIGUSR1, on_usr1);
			sigemptyset(&none);
			while (getppid() != subreaper)
				usleep(1000);
			write(p[1], &b, 1);
			while (1)
				sigsuspend(&none);
		}
		_exit(b < 0);
	}
	if (waitpid(a, &status, 0) != a || status)
		test_bug("child a");
	if (read(p[0], &c, 1) != 1)
		test_bug("read");
	b = -1;
	/* the orphan is our only child now */
	for (int i = 0; i < 1000 && b < 0; i++) {
		char path[64], *buf;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", subreaper, subreaper);
		if (zdtm_read_file(path, &buf) >= 0) {
			b = atoi(buf) > 0 ? atoi(buf) : -1;
			free(buf);
		}
	}
	if (b < 0 || getpgid(b) != a)
		test_bug("orphan");

	test_daemon();
	test_waitsig();

	if (prctl(PR_GET_CHILD_SUBREAPER, &status) || status != 1)
		failv("not a subreaper any more");
	if (getpgid(b) != a)
		failv("orphan %d is in group %d, want %d", b, getpgid(b), a);
	kill(b, SIGUSR1);
	alarm(10);
	if (zdtm_reap(b, &status) != 7)
		failv("orphan %d: status %#x (3: wrong parent)", b, status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
