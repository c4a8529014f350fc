// SPDX-License-Identifier: GPL-2.0-only
/*
 * Signal-driven I/O on a FIFO opened by path: O_ASYNC, owned by the task
 * (F_SETOWN_EX), signalling SIGRTMIN+1 (F_SETSIG). After C/R a write into
 * the FIFO delivers SIGRTMIN+1 with si_fd naming it: O_ASYNC is armed (the
 * FIFO's fasync list), not only shown by F_GETFL.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

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
	char path[4096];
	int fd, wr;

	test_init(argc, argv);
	owner.pid = getpid();	/* after test_init(): it forks */
	sigaction(SIGRTMIN + 1, &sa, NULL);
	test_path(path, sizeof(path), "zdtm.fifo_async");
	unlink(path);
	if (mkfifo(path, 0600))
		test_bug("mkfifo");
	fd = open(path, O_RDWR | O_NONBLOCK);
	if (fd < 0 || fcntl(fd, F_SETOWN_EX, &owner) || fcntl(fd, F_SETSIG, SIGRTMIN + 1) ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC))
		test_bug("setup");

	test_daemon();
	test_waitsig();

	if (fcntl(fd, F_GETOWN_EX, &now) || now.pid != getpid() || now.type != F_OWNER_PID)
		failv("the owner is %d (type %d)", now.pid, now.type);
	if (fcntl(fd, F_GETSIG) != SIGRTMIN + 1 || !(fcntl(fd, F_GETFL) & O_ASYNC))
		failv("the signal or O_ASYNC is lost");
	wr = open(path, O_WRONLY | O_NONBLOCK);
	if (wr < 0 || write(wr, "x", 1) != 1)
		fail("write");
	for (int i = 0; i < 100 && !got; i++)
		usleep(10 * 1000);
	if (got != 1 || got_fd != fd)
		failv("got %d signals, si_fd %d (want 1, %d)", got, got_fd, fd);
	unlink(path);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
