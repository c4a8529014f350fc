// SPDX-License-Identifier: GPL-2.0-only
/*
 * Signal-driven input on a pty's slave: O_ASYNC, owned by the task
 * (F_SETOWN_EX), signalling SIGRTMIN+1 (F_SETSIG). After C/R what the
 * master writes delivers SIGRTMIN+1 with si_fd naming the slave: O_ASYNC
 * is armed (the tty's fasync list), not only shown by F_GETFL.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <termios.h>

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
	struct termios t;
	int m, s;

	test_init(argc, argv);
	owner.pid = getpid();	/* after test_init(): it forks */
	sigaction(SIGRTMIN + 1, &sa, NULL);
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m))
		test_bug("ptmx");
	s = open(ptsname(m), O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (s < 0 || tcgetattr(s, &t))
		test_bug("open the slave");
	cfmakeraw(&t);
	if (tcsetattr(s, TCSANOW, &t) || fcntl(s, F_SETOWN_EX, &owner) || fcntl(s, F_SETSIG, SIGRTMIN + 1) ||
	    fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_ASYNC))
		test_bug("setup");

	test_daemon();
	test_waitsig();

	if (fcntl(s, F_GETOWN_EX, &now) || now.pid != getpid() || now.type != F_OWNER_PID)
		failv("the owner is %d (type %d)", now.pid, now.type);
	if (fcntl(s, F_GETSIG) != SIGRTMIN + 1 || !(fcntl(s, F_GETFL) & O_ASYNC))
		failv("the signal or O_ASYNC is lost");
	if (write(m, "x", 1) != 1)
		fail("write");
	for (int i = 0; i < 100 && !got; i++)
		usleep(10 * 1000);
	if (!got || got_fd != s)
		failv("got %d signals, si_fd %d (want some, %d)", got, got_fd, s);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
