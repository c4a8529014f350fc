// SPDX-License-Identifier: GPL-2.0-only
/*
 * epoll over a pipe (with data queued) and an eventfd (count 0 at dump
 * time), each with its own events and data; the epoll fd is numbered below
 * its targets. After C/R the pipe is reported ready with its data, and the
 * eventfd is once written to; one-shot and edge-triggered flags hold.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct epoll_event ev, out[4];
	int p[2], n;

	test_init(argc, argv);
	if (zdtm_fd_at(epoll_create1(0), 50) < 0 || pipe(p) || zdtm_fd_at(p[0], 60) < 0 || zdtm_fd_at(p[1], 61) < 0)
		test_bug("setup");
	if (zdtm_fd_at(eventfd(0, 0), 70) < 0)
		test_bug("eventfd");
	ev.events = EPOLLIN;
	ev.data.u64 = 0x1111222233334444ULL;
	if (epoll_ctl(50, EPOLL_CTL_ADD, 60, &ev))
		test_bug("epoll_ctl pipe");
	ev.events = EPOLLIN | EPOLLET | EPOLLONESHOT;
	ev.data.u64 = 0x5555;
	if (epoll_ctl(50, EPOLL_CTL_ADD, 70, &ev))
		test_bug("epoll_ctl eventfd");
	if (write(61, "data", 4) != 4)
		test_bug("write");

	test_daemon();
	test_waitsig();

	n = epoll_wait(50, out, 4, 1000);
	if (n != 1 || out[0].data.u64 != 0x1111222233334444ULL || !(out[0].events & EPOLLIN))
		failv("epoll reported %d events (first data %#llx), want the pipe", n,
		      n > 0 ? (unsigned long long)out[0].data.u64 : 0ULL);
	eventfd_write(70, 1);
	n = epoll_wait(50, out, 4, 1000);
	if (n != 2)
		failv("after the eventfd write epoll reported %d events, want 2", n);
	/* one-shot: the eventfd is not reported again */
	eventfd_write(70, 1);
	{
		char buf[4];

		if (read(60, buf, 4) != 4)
			fail("reading the pipe");
	}
	n = epoll_wait(50, out, 4, 100);
	if (n != 0)
		failv("a one-shot target was reported again (%d events)", n);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
