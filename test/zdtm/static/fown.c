// SPDX-License-Identifier: GPL-2.0-only
/*
 * Signal-driven I/O: a pipe's read end with O_ASYNC, owned by the task
 * (F_SETOWN_EX) and signalling SIGRTMIN+1 (F_SETSIG). After C/R the owner,
 * the signal and O_ASYNC are back: a write into the pipe delivers
 * SIGRTMIN+1 with si_fd naming the read end.
 */
#include <fcntl.h>
#include <signal.h>

#include "zdtmtst.h"

static volatile int got, got_fd = -1;

static void on_io(int sig, siginfo_t *si, void *uc)
{
	got++;
	got_fd = si->si_fd;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_io, .sa_flags = SA_SIGINFO };
	struct f_owner_ex owner = { .type = F_OWNER_PID }, now;
	int p[2];

	test_init(argc, argv);
	owner.pid = getpid();	/* after test_init(): it forks */
	sigaction(SIGRTMIN + 1, &sa, NULL);
	if (pipe(p) || fcntl(p[0], F_SETOWN_EX, &owner) || fcntl(p[0], F_SETSIG, SIGRTMIN + 1) ||
	    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_ASYNC | O_NONBLOCK))
		test_bug("setup");

	test_daemon();
	test_waitsig();

	if (fcntl(p[0], F_GETOWN_EX, &now) || now.pid != getpid() || now.type != F_OWNER_PID)
		failv("the owner is %d (type %d)", now.pid, now.type);
	if (fcntl(p[0], F_GETSIG) != SIGRTMIN + 1 || !(fcntl(p[0], F_GETFL) & O_ASYNC))
		failv("the signal or O_ASYNC is lost");
	if (write(p[1], "x", 1) != 1)
		fail("write");
	for (int i = 0; i < 100 && !got; i++)
		usleep(10 * 1000);
	if (got != 1 || got_fd != p[0])
		failv("got %d signals, si_fd %d (want 1, %d)", got, got_fd, p[0]);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
