// SPDX-License-Identifier: GPL-2.0-only
/*
 * An epoll (fd 50) made and filled by the task, inherited by its child;
 * the task then closes its epoll fd, and the child closes the task's
 * targets 60 (a pipe with data, data 0x1111) and 70 (an eventfd with count
 * 1, data 0x2222) and puts an eventfd of its own with count 5 at 70. A
 * third target, eventfd 72 (count 0, data 0x3333), is held by both. The
 * epoll watches files the child holds at other numbers or not at all:
 * after C/R, the child drains its own eventfd 70 (5), then its epoll must
 * report exactly the pipe and the task's eventfd (EPOLLIN, their data),
 * and after the child writes 72, all three. The task's pipe data and
 * eventfd count are intact.
 */
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>

#include "zdtmtst.h"

/* Exactly the targets with data @want[] are ready (EPOLLIN); 0 or a failing step. */
static int ready_are(int ep, const uint64_t *want, int nr)
{
	struct epoll_event out[8];
	int n = epoll_wait(ep, out, 8, 0), seen = 0;

	if (n != nr)
		return 1;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < nr; j++)
			if (out[i].data.u64 == want[j] && out[i].events == EPOLLIN)
				seen |= 1 << j;
	return seen == (1 << nr) - 1 ? 0 : 2;
}

static int child(void)
{
	const uint64_t two[] = { 0x1111, 0x2222 }, three[] = { 0x1111, 0x2222, 0x3333 };
	eventfd_t v;

	if (zdtm_wait_usr1())
		return 10;
	if (eventfd_read(70, &v) || v != 5)
		return 11;
	if (ready_are(50, two, 2))
		return 12;
	if (eventfd_write(72, 1))
		return 13;
	if (ready_are(50, three, 3))
		return 14;
	return 0;
}

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int p[2], status;
	char buf[8];
	eventfd_t v;
	pid_t kid;

	test_init(argc, argv);

	if (zdtm_fd_at(epoll_create1(0), 50) < 0 || pipe(p) || zdtm_fd_at(p[0], 60) < 0 || zdtm_fd_at(p[1], 61) < 0)
		test_bug("setup");
	if (zdtm_fd_at(eventfd(1, 0), 70) < 0)
		test_bug("eventfd");
	if (zdtm_fd_at(eventfd(0, 0), 72) < 0)
		test_bug("eventfd");
	if (write(61, "data", 4) != 4)
		test_bug("write");
	ev.data.u64 = 0x1111;
	if (epoll_ctl(50, EPOLL_CTL_ADD, 60, &ev))
		test_bug("epoll_ctl 60");
	ev.data.u64 = 0x2222;
	if (epoll_ctl(50, EPOLL_CTL_ADD, 70, &ev))
		test_bug("epoll_ctl 70");
	ev.data.u64 = 0x3333;
	if (epoll_ctl(50, EPOLL_CTL_ADD, 72, &ev))
		test_bug("epoll_ctl 72");

	zdtm_block_usr1(true);
	kid = zdtm_fork();
	if (kid == 0) {
		close(60);
		close(61);
		if (zdtm_fd_at(eventfd(5, 0), 70) < 0)
			_exit(20);
		_exit(child());
	}
	zdtm_block_usr1(false);
	close(50);
	test_daemon();
	test_waitsig();

	if (zdtm_wake_and_reap(kid, &status))
		failv("the child's epoll is not what it was (status %#x: step %d)", status, WEXITSTATUS(status));
	if (eventfd_read(70, &v) || v != 1)
		failv("the task's eventfd 70 lost its count 1");
	if (read(60, buf, sizeof(buf)) != 4 || memcmp(buf, "data", 4))
		fail("the task's pipe lost its data");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
