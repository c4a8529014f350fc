// SPDX-License-Identifier: GPL-2.0-only
/*
 * Pipes with data in them, both ends held by the test: a pipe with a
 * raised capacity holding ~100 KiB that was partly consumed, a
 * completely full pipe with a non-blocking write end, and an empty
 * pipe at fixed descriptor numbers with FD_CLOEXEC on one end.  After
 * C/R the queued bytes, capacities and flags are the same.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>

#include "zdtmtst.h"

#define A_SIZE		(128 << 10)
#define A_WRITTEN	(100 << 10)
#define A_CONSUMED	1000

struct pipe_state {
	int fd[2];
	int size, queued, fl[2], fdfl[2];
};

static unsigned char data_a[A_WRITTEN], data_c[1 << 20];

static void record(struct pipe_state *p)
{
	int i;

	p->size = fcntl(p->fd[0], F_GETPIPE_SZ);
	if (ioctl(p->fd[0], FIONREAD, &p->queued) || p->size < 0)
		test_bug("query pipe");
	for (i = 0; i < 2; i++) {
		p->fl[i] = fcntl(p->fd[i], F_GETFL);
		p->fdfl[i] = fcntl(p->fd[i], F_GETFD);
	}
}

static void compare(const char *name, const struct pipe_state *p)
{
	struct pipe_state now = { .fd = { p->fd[0], p->fd[1] } };
	int i;

	now.size = fcntl(p->fd[0], F_GETPIPE_SZ);
	if (now.size < 0 || ioctl(p->fd[0], FIONREAD, &now.queued)) {
		fail("%s: pipe is broken", name);
		return;
	}
	if (now.size != p->size)
		failv("%s: capacity %d, expected %d", name, now.size, p->size);
	if (now.queued != p->queued)
		failv("%s: %d bytes queued, expected %d", name, now.queued,
		      p->queued);
	for (i = 0; i < 2; i++) {
		if (fcntl(p->fd[i], F_GETFL) != p->fl[i])
			failv("%s: fd %d flags %#o, expected %#o", name,
			      p->fd[i], fcntl(p->fd[i], F_GETFL), p->fl[i]);
		if (fcntl(p->fd[i], F_GETFD) != p->fdfl[i])
			failv("%s: fd %d fd flags changed", name, p->fd[i]);
	}
}

/* Reads len bytes and compares them with data. */
static void drain(const char *name, int fd, const unsigned char *data,
		  size_t len)
{
	static unsigned char buf[1 << 20];
	size_t got = 0;
	ssize_t ret;
	int left;

	while (got < len) {
		ret = read(fd, buf + got, len - got);
		if (ret <= 0) {
			fail("%s: read after %zu of %zu bytes", name, got, len);
			return;
		}
		got += ret;
	}
	if (memcmp(buf, data, len))
		failv("%s: pipe data differs", name);
	if (ioctl(fd, FIONREAD, &left) || left)
		failv("%s: %d extra bytes in the pipe", name, left);
}

int main(int argc, char **argv)
{
	struct pipe_state a = {}, b = {}, c = {};
	unsigned char tmp[A_CONSUMED];
	uint64_t seed;
	ssize_t ret;
	int fds[2], c_len = 0;

	test_init(argc, argv);
	seed = zdtm_random();
	zdtm_fill(data_a, sizeof(data_a), seed);
	zdtm_fill(data_c, sizeof(data_c), seed + 1);

	if (pipe(a.fd) || pipe(c.fd) || pipe(fds))
		test_bug("pipe");

	if (fcntl(a.fd[0], F_SETPIPE_SZ, A_SIZE) < A_SIZE)
		test_bug("F_SETPIPE_SZ");
	if (write(a.fd[1], data_a, A_WRITTEN) != A_WRITTEN)
		test_bug("write pipe a");
	if (read(a.fd[0], tmp, A_CONSUMED) != A_CONSUMED ||
	    memcmp(tmp, data_a, A_CONSUMED))
		test_bug("read pipe a");

	fcntl(c.fd[1], F_SETFL, O_NONBLOCK);
	while ((ret = write(c.fd[1], data_c + c_len, 4096)) > 0)
		c_len += ret;
	if (errno != EAGAIN || !c_len)
		test_bug("fill pipe c");

	b.fd[0] = 60;
	b.fd[1] = 61;
	if (dup2(fds[0], 60) != 60 || dup2(fds[1], 61) != 61)
		test_bug("dup2");
	close(fds[0]);
	close(fds[1]);
	fcntl(60, F_SETFD, FD_CLOEXEC);

	record(&a);
	record(&b);
	record(&c);

	test_daemon();
	test_waitsig();

	compare("a", &a);
	compare("b", &b);
	compare("c", &c);

	drain("a", a.fd[0], data_a + A_CONSUMED, A_WRITTEN - A_CONSUMED);
	drain("c", c.fd[0], data_c, c_len);

	if (write(61, "ping", 4) != 4)
		fail("write to pipe b");
	else
		drain("b", 60, (const unsigned char *)"ping", 4);

	/* A drained pipe accepts data again. */
	if (write(c.fd[1], "pong", 4) != 4)
		fail("write to pipe c after draining");
	else
		drain("c again", c.fd[0], (const unsigned char *)"pong", 4);

	if (test_failures)
		return 1;
	pass();
	return 0;
}
