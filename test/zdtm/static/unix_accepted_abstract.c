// SPDX-License-Identifier: GPL-2.0-only
/*
 * Connections accepted on abstract names, which they carry without
 * holding them (chromium's zygotes, D-Bus-like servers):
 *  - a stream listener bound to an abstract name with a connection
 *    accepted (data queued both ways) and one waiting to be accepted;
 *  - a seqpacket listener on an autobound name with a connection
 *    accepted, the listener closed since (its name is free);
 *  - a client with SO_PASSCRED, autobound as it connected: its name is
 *    its own, held, and its accepted peer has the listener's.
 * After C/R: the accepted ends still have the names (getsockname) and
 * their clients see them (getpeername), the queued data and message
 * boundaries are there, accept() gives the waiting client, the listener
 * still holds its name and takes new clients, the name of the
 * listener gone is still free, and the autobound client keeps its name,
 * held.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "zdtmtst.h"

static socklen_t abstract(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	strncpy(a->sun_path + 1, name, sizeof(a->sun_path) - 2);
	return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

static int same(const struct sockaddr_un *a, socklen_t al, const struct sockaddr_un *b, socklen_t bl)
{
	return al == bl && !memcmp(a, b, al);
}

static int name_taken(const struct sockaddr_un *a, socklen_t al, int type)
{
	int s = socket(AF_UNIX, type, 0), ret;

	ret = bind(s, (const struct sockaddr *)a, al) && errno == EADDRINUSE;
	close(s);
	return ret;
}

int main(int argc, char **argv)
{
	struct sockaddr_un a, g, n;
	socklen_t al, gl = sizeof(g), nl;
	int l, c1, a1, c3, l2, c2, a2, s, x, c4, a4, one = 1;
	struct sockaddr_un b;
	socklen_t bl = sizeof(b);
	char name[64], buf[64] = {};

	test_init(argc, argv);
	snprintf(name, sizeof(name), "zdtm-accepted-%d", getpid());
	al = abstract(&a, name);
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	c1 = socket(AF_UNIX, SOCK_STREAM, 0);
	c3 = socket(AF_UNIX, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, al) || listen(l, 4) || connect(c1, (struct sockaddr *)&a, al) ||
	    (a1 = accept(l, NULL, NULL)) < 0)
		test_bug("the stream listener");
	if (write(c1, "hello", 5) != 5 || write(a1, "world", 5) != 5)
		test_bug("queueing");
	c4 = socket(AF_UNIX, SOCK_STREAM, 0);
	if (c4 < 0 || setsockopt(c4, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) ||
	    connect(c4, (struct sockaddr *)&a, al) || (a4 = accept(l, NULL, NULL)) < 0 ||
	    getsockname(c4, (struct sockaddr *)&b, &bl) || bl <= sizeof(sa_family_t))
		test_bug("the autobound client");
	/* and one waiting to be accepted */
	if (c3 < 0 || connect(c3, (struct sockaddr *)&a, al))
		test_bug("the waiting client");

	/* autobind: an abstract name of the kernel's choosing */
	l2 = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	c2 = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	memset(&g, 0, sizeof(g));
	g.sun_family = AF_UNIX;
	if (l2 < 0 || bind(l2, (struct sockaddr *)&g, sizeof(sa_family_t)) || listen(l2, 1) ||
	    getsockname(l2, (struct sockaddr *)&g, &gl) || connect(c2, (struct sockaddr *)&g, gl) ||
	    (a2 = accept(l2, NULL, NULL)) < 0 || close(l2))
		test_bug("the seqpacket listener");
	if (write(c2, "m1", 2) != 2 || write(c2, "m22", 3) != 3)
		test_bug("queueing messages");

	test_daemon();
	test_waitsig();

	nl = sizeof(n);
	if (getsockname(a1, (struct sockaddr *)&n, &nl) || !same(&n, nl, &a, al))
		fail("the accepted stream socket lost its name");
	nl = sizeof(n);
	if (getpeername(c1, (struct sockaddr *)&n, &nl) || !same(&n, nl, &a, al))
		fail("its client does not see the name as its peer's");
	if (read(a1, buf, sizeof(buf)) != 5 || memcmp(buf, "hello", 5) || read(c1, buf, sizeof(buf)) != 5 ||
	    memcmp(buf, "world", 5))
		fail("the stream's queued data");
	s = accept(l, NULL, NULL);
	if (s < 0 || write(c3, "3", 1) != 1 || read(s, buf, 1) != 1 || buf[0] != '3')
		fail("accept() does not give the client that waited");
	if (!name_taken(&a, al, SOCK_STREAM))
		fail("the listener does not hold its name");
	x = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(x, (struct sockaddr *)&a, al) || (s = accept(l, NULL, NULL)) < 0 || write(x, "n", 1) != 1 ||
	    read(s, buf, 1) != 1 || buf[0] != 'n')
		fail("the listener takes no new client");

	nl = sizeof(n);
	if (getsockname(c4, (struct sockaddr *)&n, &nl) || !same(&n, nl, &b, bl))
		fail("the autobound client lost its name");
	nl = sizeof(n);
	if (getpeername(a4, (struct sockaddr *)&n, &nl) || !same(&n, nl, &b, bl))
		fail("its peer does not see the client's name");
	nl = sizeof(n);
	if (getsockname(a4, (struct sockaddr *)&n, &nl) || !same(&n, nl, &a, al))
		fail("the client's peer lost the listener's name");
	if (!name_taken(&b, bl, SOCK_STREAM))
		fail("the autobound client does not hold its name");
	if (write(c4, "4", 1) != 1 || read(a4, buf, 1) != 1 || buf[0] != '4')
		fail("the autobound client's connection");

	nl = sizeof(n);
	if (getsockname(a2, (struct sockaddr *)&n, &nl) || !same(&n, nl, &g, gl))
		fail("the accepted seqpacket socket lost its autobound name");
	if (read(a2, buf, sizeof(buf)) != 2 || memcmp(buf, "m1", 2) || read(a2, buf, sizeof(buf)) != 3 ||
	    memcmp(buf, "m22", 3))
		fail("the seqpacket messages");
	if (write(a2, "r", 1) != 1 || read(c2, buf, sizeof(buf)) != 1 || buf[0] != 'r')
		fail("the seqpacket answer");
	if (name_taken(&g, gl, SOCK_SEQPACKET))
		fail("the name of the listener gone is held");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
