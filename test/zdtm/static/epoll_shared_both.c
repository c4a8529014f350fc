// SPDX-License-Identifier: GPL-2.0-only
/*
 * An epoll (fd 50) held by the task and its child. The task registered
 * its pipe 60 (data queued, data 0x1111) and its eventfd 70 (count 0, data
 * 0x2222); the child then closed 60, 61 and 70, put an eventfd with count
 * 5 at 70 and registered its own eventfd 80 (count 0, data 0x8888), which
 * the task does not have. After C/R it is one epoll with those three
 * targets: the task sees exactly the pipe ready, then (after writing its
 * eventfd) the pipe and the eventfd; the child drains its own eventfd 70
 * (5), sees the same two, writes 80 and sees all three; once the child
 * has exited (and its eventfd with it) the task sees two again.
 */
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>

#include "zdtmtst.h"

static const uint64_t one[] = { 0x1111 }, two[] = { 0x1111, 0x2222 }, three[] = { 0x1111, 0x2222, 0x8888 };

/* Exactly the targets with data @want[] are ready (EPOLLIN); 0 or nonzero. */
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
	eventfd_t v;

	if (zdtm_wait_usr1())
		return 10;
	if (eventfd_read(70, &v) || v != 5)
		return 11;
	if (ready_are(50, two, 2))
		return 12;
	if (eventfd_write(80, 1))
		return 13;
	if (ready_are(50, three, 3))
		return 14;
	return 0;
}

static int child_setup(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0x8888 };

	close(60);
	close(61);
	close(70);
	if (zdtm_fd_at(eventfd(5, 0), 70) < 0)
		return 20;
	if (zdtm_fd_at(eventfd(0, 0), 80) < 0)
		return 21;
	if (epoll_ctl(50, EPOLL_CTL_ADD, 80, &ev))
		return 22;
	return 0;
}

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int p[2], status, go[2], ret;
	pid_t kid;

	test_init(argc, argv);

	if (zdtm_fd_at(epoll_create1(0), 50) < 0 || pipe(p) || zdtm_fd_at(p[0], 60) < 0 || zdtm_fd_at(p[1], 61) < 0)
		test_bug("setup");
	if (zdtm_fd_at(eventfd(0, 0), 70) < 0)
		test_bug("eventfd");
	if (write(61, "data", 4) != 4)
		test_bug("write");
	ev.data.u64 = 0x1111;
	if (epoll_ctl(50, EPOLL_CTL_ADD, 60, &ev))
		test_bug("epoll_ctl 60");
	ev.data.u64 = 0x2222;
	if (epoll_ctl(50, EPOLL_CTL_ADD, 70, &ev))
		test_bug("epoll_ctl 70");

	zdtm_block_usr1(true);
	if (pipe(go))
		test_bug("pipe");
	kid = zdtm_fork();
	if (kid == 0) {
		close(go[0]);
		ret = child_setup();
		close(go[1]);
		_exit(ret ? ret : child());
	}
	zdtm_block_usr1(false);
	/* the child has registered its target when it closes its end */
	if (zdtm_wait_ready(go))
		test_bug("sync with the child");
	test_daemon();
	test_waitsig();

	if (ready_are(50, one, 1))
		fail("before any write the epoll should report just the pipe");
	if (eventfd_write(70, 1) || ready_are(50, two, 2))
		fail("after writing the task's eventfd the epoll should report the pipe and the eventfd");
	if (zdtm_wake_and_reap(kid, &status))
		failv("the child's view of the epoll is not what it was (status %#x: step %d)", status,
		      WEXITSTATUS(status));
	/* the child's eventfd went with it */
	if (ready_are(50, two, 2))
		fail("after the child's exit the epoll should report the pipe and the eventfd");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
