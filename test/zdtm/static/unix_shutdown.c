// SPDX-License-Identifier: GPL-2.0-only
/*
 * Half shut-down stream pairs: a[0] shut for writing after sending
 * "bye", b[0] shut for reading, and c whose peer was closed with data
 * left in it. After C/R a[1] reads "bye" then 0, a write on a[0] gets
 * EPIPE while a[1] can still write to a[0]; b[1] gets EPIPE writing, b[0]
 * reads 0 and can still write; c reads its data, then 0.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>

#include "zdtmtst.h"

static void expect_eof(int fd, const char *what)
{
	char buf[8];

	if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) != 0)
		failv("%s: no end of file", what);
}

static void expect_epipe(int fd, const char *what)
{
	errno = 0;
	if (send(fd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) != -1 || errno != EPIPE)
		failv("%s: a write doesn't fail with EPIPE (errno %d)", what, errno);
}

int main(int argc, char **argv)
{
	int a[2], b[2], c[2];
	char buf[8] = {};

	test_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, a) || socketpair(AF_UNIX, SOCK_STREAM, 0, b) ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, c))
		test_bug("socketpair");
	if (write(a[0], "bye", 3) != 3 || shutdown(a[0], SHUT_WR) || shutdown(b[0], SHUT_RD) ||
	    write(c[1], "left", 4) != 4)
		test_bug("shutdown");
	close(c[1]);

	test_daemon();
	test_waitsig();

	if (recv(a[1], buf, sizeof(buf), MSG_DONTWAIT) != 3 || memcmp(buf, "bye", 3))
		fail("a: the data before the shutdown is lost");
	expect_eof(a[1], "a[1]");
	expect_epipe(a[0], "a[0]");
	if (send(a[1], "ok", 2, MSG_DONTWAIT) != 2 || recv(a[0], buf, sizeof(buf), MSG_DONTWAIT) != 2)
		fail("a: the other way is closed too");
	expect_epipe(b[1], "b[1]");
	expect_eof(b[0], "b[0]");
	if (send(b[0], "ok", 2, MSG_DONTWAIT) != 2 || recv(b[1], buf, sizeof(buf), MSG_DONTWAIT) != 2)
		fail("b: the other way is closed too");
	if (recv(c[0], buf, sizeof(buf), MSG_DONTWAIT) != 4 || memcmp(buf, "left", 4))
		fail("c: the data left by the closed peer is lost");
	expect_eof(c[0], "c[0]");
	expect_epipe(c[0], "c[0]");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
