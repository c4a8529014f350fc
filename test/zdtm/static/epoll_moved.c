// SPDX-License-Identifier: GPL-2.0-only
/*
 * epoll targets that are no longer at the fd number they were added with
 * (the registration is by file and number and lives as long as the file):
 *  - epoll fd 50 watches a pipe added as fd 60, which was moved to fd 65
 *    and /dev/null put at 60;
 *  - an eventfd added as fd 70, dup'ed to 71, fd 70 closed;
 *  - a socket added as fd 80 whose only fd is now a child's fd 81.
 * After restore fdinfo of the epoll still lists targets 60, 70 and 80,
 * events of each file come with their data, fds 60 and 65 and 71 are what
 * they were, fd 70 and 80 are closed, and the child's fd 81 is the socket.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "zdtmtst.h"

static int tfds_listed(int efd, const int *want, int nr)
{
	char path[64], *buf, needle[32];
	int found = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", efd);
	if (zdtm_read_file(path, &buf) < 0)
		return -1;
	for (int i = 0; i < nr; i++) {
		snprintf(needle, sizeof(needle), "tfd: %8d ", want[i]);
		found += strstr(buf, needle) != NULL;
	}
	free(buf);
	return found;
}

/* The data of the events ready now, OR-ed. */
static uint64_t ready(int efd)
{
	struct epoll_event out[8];
	uint64_t got = 0;
	int n = epoll_wait(efd, out, 8, 0);

	for (int i = 0; i < n; i++)
		got |= out[i].data.u64;
	return got;
}

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int p[2], sv[2], go[2], null, want[] = { 60, 70, 80 }, status;
	struct stat pst, nst, est;
	pid_t kid;
	uint64_t c;

	test_init(argc, argv);
	if (zdtm_fd_at(epoll_create1(0), 50) < 0 || pipe(p) || zdtm_fd_at(p[0], 60) < 0 || zdtm_fd_at(p[1], 61) < 0)
		test_bug("setup");
	ev.data.u64 = 1;
	if (epoll_ctl(50, EPOLL_CTL_ADD, 60, &ev))
		test_bug("epoll_ctl 60");
	null = open("/dev/null", O_RDONLY);
	if (dup2(60, 65) != 65 || null < 0 || dup2(null, 60) != 60 || close(null))
		test_bug("move the pipe");
	if (zdtm_fd_at(eventfd(0, 0), 70) < 0)
		test_bug("eventfd");
	ev.data.u64 = 2;
	if (epoll_ctl(50, EPOLL_CTL_ADD, 70, &ev) || dup2(70, 71) != 71 || close(70))
		test_bug("epoll_ctl 70");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || zdtm_fd_at(sv[0], 80) < 0 || zdtm_fd_at(sv[1], 82) < 0)
		test_bug("socketpair");
	ev.data.u64 = 4;
	if (epoll_ctl(50, EPOLL_CTL_ADD, 80, &ev))
		test_bug("epoll_ctl 80");
	if (pipe(go))
		test_bug("pipe");
	kid = zdtm_fork();
	if (kid == 0) {
		char b;

		close(50);
		if (dup2(80, 81) != 81 || close(80))
			_exit(2);
		/* once the parent saw the event, read what it wrote */
		if (read(go[0], &b, 1) != 1 || read(81, &b, 1) != 1 || b != 's')
			_exit(1);
		_exit(0);
	}
	close(80);
	if (fstat(65, &pst) || fstat(60, &nst) || fstat(71, &est) || ready(50))
		test_bug("stat");

	test_daemon();
	test_waitsig();

	if (tfds_listed(50, want, 3) != 3)
		failv("the epoll does not list its targets as fds 60, 70, 80");
	if (fcntl(70, F_GETFD) >= 0 || fcntl(80, F_GETFD) >= 0)
		failv("fd 70 or 80 is open after restore");
	{
		struct stat a, b, e;

		if (fstat(65, &a) || fstat(60, &b) || fstat(71, &e) || !S_ISFIFO(a.st_mode) ||
		    !S_ISCHR(b.st_mode) || b.st_rdev != nst.st_rdev)
			fail("fds 60, 65, 71 are not what they were");
	}
	if (ready(50))
		failv("events before any happened: %lx", (unsigned long)ready(50));
	c = 1;
	if (write(61, "p", 1) != 1 || write(71, &c, sizeof(c)) != sizeof(c) || write(82, "s", 1) != 1)
		fail("making events");
	if (ready(50) != 7)
		failv("the events say %lx, want 7 (the pipe, the eventfd, the socket)", (unsigned long)ready(50));
	if (write(go[1], "g", 1) != 1 || waitpid(kid, &status, 0) != kid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		failv("the child's socket (status %x)", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
