// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative: epoll fd 50 watches a pipe registered as fd 60, which the
 * task then moved to fd 65, putting /dev/null at 60. No process of the
 * tree has the pipe at fd 60, so the target could not be added again by
 * number: the dump must fail naming the epoll fd and the target's fd. The
 * epoll still reports the pipe (data 0x6060) afterwards.
 */
#include <fcntl.h>
#include <sys/epoll.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0x6060 }, out[2];
	int p[2], null, n;

	test_init(argc, argv);
	if (zdtm_fd_at(epoll_create1(0), 50) < 0 || pipe(p) || zdtm_fd_at(p[0], 60) < 0 || zdtm_fd_at(p[1], 61) < 0)
		test_bug("setup");
	if (write(61, "x", 1) != 1 || epoll_ctl(50, EPOLL_CTL_ADD, 60, &ev))
		test_bug("epoll_ctl");
	null = open("/dev/null", O_RDONLY);
	if (dup2(60, 65) != 65 || null < 0 || dup2(null, 60) != 60)
		test_bug("move the target");
	close(null);

	test_daemon();
	test_waitsig();

	n = epoll_wait(50, out, 2, 0);
	if (n != 1 || out[0].data.u64 != 0x6060)
		failv("the epoll reports %d events, want the pipe", n);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
