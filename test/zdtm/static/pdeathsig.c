// SPDX-License-Identifier: GPL-2.0-only
/*
 * The parent-death signal. A child sets PR_SET_PDEATHSIG to SIGUSR2 and
 * a grandchild to SIGRTMIN+1. After C/R both still read theirs back, and
 * when the child dies the grandchild really gets its signal.
 */
#include <signal.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "zdtmtst.h"

static int report[2];

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	char c = 'k';

	if (write(report[1], &c, 1) != 1)
		_exit(9);
	_exit(0);
}

static int grandchild(void)
{
	struct sigaction sa = { .sa_sigaction = on_rt, .sa_flags = SA_SIGINFO };
	int s = 0;

	sigaction(SIGRTMIN + 1, &sa, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGRTMIN + 1))
		_exit(1);
	{
		pid_t me = getpid();

		if (write(report[1], &me, sizeof(me)) != sizeof(me))
			_exit(1);
	}
	for (;;) {
		pause();
		if (prctl(PR_GET_PDEATHSIG, &s) || s != SIGRTMIN + 1)
			_exit(3);
	}
}

int main(int argc, char **argv)
{
	struct pollfd pfd;
	pid_t child, gc;
	char c = 0;
	int st, r;

	test_init(argc, argv);
	if (pipe(report))
		test_bug("pipe");
	zdtm_block_usr1(true);
	child = zdtm_fork();
	if (!child) {
		int s = 0;

		if (prctl(PR_SET_PDEATHSIG, SIGUSR2))
			_exit(1);
		if (!zdtm_fork())
			grandchild();
		if (zdtm_wait_usr1())
			_exit(2);
		if (prctl(PR_GET_PDEATHSIG, &s) || s != SIGUSR2)
			_exit(3);
		_exit(0);	/* the grandchild gets its signal now */
	}
	if (read(report[0], &gc, sizeof(gc)) != sizeof(gc))
		test_bug("grandchild not ready");

	test_daemon();
	test_waitsig();

	if ((r = zdtm_wake_and_reap(child, &st)) != 0)
		failv("child: pdeathsig lost (exit %d)", r);
	pfd = (struct pollfd){ .fd = report[0], .events = POLLIN };
	if (poll(&pfd, 1, 2000) != 1 || read(report[0], &c, 1) != 1 || c != 'k') {
		failv("the grandchild did not get its parent-death signal (%c)", c);
		kill(gc, SIGKILL);
	}
	if (test_failures)
		return 1;
	pass();
	return 0;
}
