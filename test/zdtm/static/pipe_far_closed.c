// SPDX-License-Identifier: GPL-2.0-only
/*
 * Pipe and FIFO ends whose other end is closed everywhere:
 *  - fd 40: the read end of a pipe whose writer wrote 3000 bytes and
 *    closed: after restore it reads those bytes, then EOF, and polls
 *    POLLIN|POLLHUP;
 *  - fd 41: the write end of a pipe whose reader closed: it polls POLLERR
 *    and a write fails with EPIPE (SIGPIPE ignored); F_GETPIPE_SZ kept;
 *  - fd 42: the read end of a FIFO whose writer closed, with bytes queued;
 *  - fd 43: the write end of a FIFO whose reader closed.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "zdtmtst.h"

#define QUEUED	3000

static int revents(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, 0) < 0 ? -1 : p.revents;
}

/* Reads back the QUEUED bytes of seed @seed, then EOF. */
static void check_read_end(int fd, uint64_t seed, const char *what)
{
	char buf[QUEUED + 100];
	ssize_t n, got = 0;

	if (revents(fd, POLLIN) != (POLLIN | POLLHUP))
		failv("%s: poll says %x, not POLLIN|POLLHUP", what, revents(fd, POLLIN));
	while ((n = read(fd, buf + got, sizeof(buf) - got)) > 0)
		got += n;
	if (n < 0)
		fail("%s: read", what);
	if (got != QUEUED)
		failv("%s: %zd bytes queued, want %d", what, got, QUEUED);
	else if (zdtm_check(buf, QUEUED - QUEUED % 8, seed) != (size_t)-1)
		failv("%s: the queued bytes differ", what);
	if (revents(fd, POLLIN) != POLLHUP)
		failv("%s: after the data poll says %x, not POLLHUP", what, revents(fd, POLLIN));
}

static void check_write_end(int fd, const char *what)
{
	if (revents(fd, POLLOUT) & POLLERR) {
		errno = 0;
		if (write(fd, "x", 1) != -1 || errno != EPIPE)
			fail("%s: a write did not fail with EPIPE", what);
	} else {
		failv("%s: poll says %x, no POLLERR", what, revents(fd, POLLOUT));
	}
}

int main(int argc, char **argv)
{
	char buf[QUEUED], fifo[4096];
	uint64_t seed = zdtm_random();
	int p[2], size, fd;

	test_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	zdtm_fill(buf, sizeof(buf) - sizeof(buf) % 8, seed);

	if (pipe(p) || write(p[1], buf, QUEUED) != QUEUED || close(p[1]) || dup2(p[0], 40) != 40 || close(p[0]))
		test_bug("pipe 1");
	if (pipe(p) || fcntl(p[1], F_SETPIPE_SZ, 1 << 17) < 0 || close(p[0]) || dup2(p[1], 41) != 41 ||
	    close(p[1]))
		test_bug("pipe 2");
	size = fcntl(41, F_GETPIPE_SZ);

	test_path(fifo, sizeof(fifo), "fifo.r");
	if (mkfifo(fifo, 0600) || (fd = open(fifo, O_RDONLY | O_NONBLOCK)) < 0 || dup2(fd, 42) != 42 || close(fd))
		test_bug("fifo 1");
	fd = open(fifo, O_WRONLY);
	if (fd < 0 || write(fd, buf, QUEUED) != QUEUED || close(fd))
		test_bug("fifo 1 writer");
	test_path(fifo, sizeof(fifo), "fifo.w");
	if (mkfifo(fifo, 0600) || (fd = open(fifo, O_RDONLY | O_NONBLOCK)) < 0)
		test_bug("fifo 2");
	p[1] = open(fifo, O_WRONLY);
	if (p[1] < 0 || dup2(p[1], 43) != 43 || close(p[1]) || close(fd))
		test_bug("fifo 2 writer");

	test_daemon();
	test_waitsig();

	check_read_end(40, seed, "pipe read end");
	check_write_end(41, "pipe write end");
	if (fcntl(41, F_GETPIPE_SZ) != size)
		failv("pipe size %d, was %d", fcntl(41, F_GETPIPE_SZ), size);
	/* a FIFO reader that never saw a writer polls no POLLHUP: this one did */
	check_read_end(42, seed, "FIFO read end");
	check_write_end(43, "FIFO write end");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
