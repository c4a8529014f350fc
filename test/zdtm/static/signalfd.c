// SPDX-License-Identifier: GPL-2.0-only
/*
 * A signalfd for SIGUSR1 and SIGRTMIN+3 (blocked), non-blocking, with a
 * SIGUSR1 queued before the dump. After C/R the fd has the same mask, the
 * queued signal comes out of it, and a new SIGRTMIN+3 does too.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct signalfd_siginfo si;
	sigset_t set;
	int fd;

	test_init(argc, argv);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGRTMIN + 3);
	sigprocmask(SIG_BLOCK, &set, NULL);
	fd = signalfd(-1, &set, SFD_NONBLOCK);
	if (fd < 0)
		test_bug("signalfd");
	kill(getpid(), SIGUSR1);

	test_daemon();
	test_waitsig();

	if (read(fd, &si, sizeof(si)) != sizeof(si) || si.ssi_signo != SIGUSR1)
		failv("the queued SIGUSR1 did not come out of the signalfd");
	kill(getpid(), SIGRTMIN + 3);
	if (read(fd, &si, sizeof(si)) != sizeof(si) || si.ssi_signo != (unsigned)SIGRTMIN + 3)
		failv("SIGRTMIN+3 did not come out of the signalfd");
	errno = 0;
	if (read(fd, &si, sizeof(si)) != -1 || errno != EAGAIN)
		failv("the signalfd is not empty and non-blocking");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
