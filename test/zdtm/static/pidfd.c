// SPDX-License-Identifier: GPL-2.0-only
/*
 * pidfds: one for a child at fd 40, one for the task itself at fd 41
 * (non-blocking, close-on-exec). After C/R fd 40 still refers to the
 * child: a signal sent through it reaches the child, poll on it says when
 * the child is gone and waitid(P_PIDFD) reaps it; fd 41 refers to us.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "zdtmtst.h"

static int fdinfo_pid(int fd)
{
	char path[64], *buf, *p;
	int pid = -1;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (zdtm_read_file(path, &buf) < 0)
		return -1;
	p = strstr(buf, "Pid:");
	if (p)
		pid = atoi(p + 4);
	free(buf);
	return pid;
}

int main(int argc, char **argv)
{
	struct pollfd pfd = { .fd = 40, .events = POLLIN };
	siginfo_t si;
	pid_t kid;
	int a, b;

	test_init(argc, argv);
	kid = fork();
	if (kid == 0) {
		signal(SIGUSR1, SIG_DFL);
		for (;;)
			pause();
	}
	a = syscall(SYS_pidfd_open, kid, 0);
	b = syscall(SYS_pidfd_open, getpid(), O_NONBLOCK);
	if (a < 0 || b < 0 || dup2(a, 40) != 40 || dup2(b, 41) != 41)
		test_bug("pidfd_open");
	close(a);
	close(b);
	fcntl(41, F_SETFD, FD_CLOEXEC);
	test_daemon();
	test_waitsig();

	if (fdinfo_pid(40) != kid || fdinfo_pid(41) != getpid())
		failv("the pidfds refer to %d and %d, want %d and %d", fdinfo_pid(40), fdinfo_pid(41), kid, getpid());
	if (!(fcntl(41, F_GETFL) & O_NONBLOCK) || !(fcntl(41, F_GETFD) & FD_CLOEXEC) || (fcntl(40, F_GETFD) & FD_CLOEXEC))
		failv("pidfd flags changed");
	if (poll(&pfd, 1, 0) != 0)
		failv("the child looks gone already");
	if (syscall(SYS_pidfd_send_signal, 40, SIGUSR1, NULL, 0))
		fail("pidfd_send_signal");
	if (poll(&pfd, 1, 5000) != 1)
		failv("poll on the pidfd did not see the child go");
	if (waitid(P_PIDFD, 40, &si, WEXITED) || si.si_pid != kid || si.si_status != SIGUSR1)
		failv("waitid(P_PIDFD) gave pid %d status %d", si.si_pid, si.si_status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
