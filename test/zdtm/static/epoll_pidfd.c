// SPDX-License-Identifier: GPL-2.0-only
/*
 * An event loop watching its child through a pidfd in an epoll (Python's
 * asyncio PidfdChildWatcher, systemd, tokio), next to an eventfd. The
 * pidfd is opened again once every process exists, after the other fds:
 * it must be in the epoll again, with its events and data. After C/R
 * nothing is ready; the eventfd and the child's exit each wake the epoll
 * with their own data.
 */
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define PIDFD_DATA	0x1234567890abcdefULL
#define EFD_DATA	42

/* The data of what is ready, 0 for nothing, -1 for more than one. */
static long long ready(int ep)
{
	struct epoll_event ev[4];
	int n = epoll_wait(ep, ev, 4, 1000);

	if (n == 0)
		return 0;
	if (n != 1)
		return -1;
	return ev[0].data.u64;
}

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep, pfd, efd, status;
	pid_t child;

	test_init(argc, argv);
	child = fork();
	if (child < 0)
		test_bug("fork");
	if (!child) {
		pause();
		_exit(7);
	}
	pfd = syscall(SYS_pidfd_open, child, 0);
	efd = eventfd(0, EFD_NONBLOCK);
	ep = epoll_create1(0);
	if (pfd < 0 || efd < 0 || ep < 0)
		test_bug("pidfd_open, eventfd, epoll_create1");
	ev.data.u64 = PIDFD_DATA;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, pfd, &ev))
		test_bug("adding the pidfd");
	ev.data.u64 = EFD_DATA;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev))
		test_bug("adding the eventfd");

	test_daemon();
	test_waitsig();

	if (epoll_wait(ep, &ev, 1, 0) != 0)
		fail("something is ready before anything happened");
	if (eventfd_write(efd, 1) || ready(ep) != EFD_DATA)
		fail("the eventfd does not wake the epoll");
	eventfd_t v;
	eventfd_read(efd, &v);
	kill(child, SIGKILL);
	if (ready(ep) != (long long)PIDFD_DATA)
		fail("the child's exit does not wake the epoll through its pidfd");
	if (waitpid(child, &status, 0) != child || !WIFSIGNALED(status))
		fail("waitpid");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
