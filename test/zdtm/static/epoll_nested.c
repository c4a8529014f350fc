// SPDX-License-Identifier: GPL-2.0-only
/*
 * epoll in epoll: an outer epoll watches an inner one (data 0x1234) and a
 * pipe; the inner one watches an eventfd (data 77). After C/R a write to
 * the eventfd makes the outer report the inner as readable, and the
 * inner report the eventfd with its data.
 */
#include <sys/epoll.h>
#include <fcntl.h>
#include <sys/eventfd.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct epoll_event ev, out[4];
	int outer, inner, efd, p[2], n;
	uint64_t v = 1;

	test_init(argc, argv);
	outer = epoll_create1(0);
	inner = epoll_create1(EPOLL_CLOEXEC);
	efd = eventfd(0, EFD_NONBLOCK);
	if (outer < 0 || inner < 0 || efd < 0 || pipe(p))
		test_bug("setup");
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = 77 };
	if (epoll_ctl(inner, EPOLL_CTL_ADD, efd, &ev))
		test_bug("epoll_ctl inner");
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = 0x1234 };
	if (epoll_ctl(outer, EPOLL_CTL_ADD, inner, &ev))
		test_bug("epoll_ctl outer");
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = 0x99 };
	if (epoll_ctl(outer, EPOLL_CTL_ADD, p[0], &ev))
		test_bug("epoll_ctl pipe");

	test_daemon();
	test_waitsig();

	if (epoll_wait(outer, out, 4, 0) != 0)
		failv("outer epoll ready before anything happened");
	if (write(efd, &v, sizeof(v)) != sizeof(v))
		fail("write eventfd");
	n = epoll_wait(outer, out, 4, 1000);
	if (n != 1 || out[0].data.u64 != 0x1234)
		failv("outer epoll: %d events, data %#llx", n, n > 0 ? (unsigned long long)out[0].data.u64 : 0ULL);
	n = epoll_wait(inner, out, 4, 0);
	if (n != 1 || out[0].data.u64 != 77)
		failv("inner epoll: %d events", n);
	if (write(p[1], "x", 1) != 1)
		fail("write pipe");
	if (read(efd, &v, sizeof(v)) != sizeof(v))
		fail("read eventfd");
	n = epoll_wait(outer, out, 4, 1000);
	if (n != 1 || out[0].data.u64 != 0x99)
		failv("outer epoll after the pipe write: %d events", n);
	if (!(fcntl(inner, F_GETFD) & FD_CLOEXEC))
		failv("inner epoll lost close-on-exec");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
