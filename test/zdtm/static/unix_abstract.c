// SPDX-License-Identifier: GPL-2.0-only
/*
 * Abstract names: a stream listener on "\0zdtm-abstract-PID" with a
 * connection not accepted yet, and a dgram socket on another abstract
 * name with a datagram queued from a third, abstract-bound sender. After
 * C/R the names are the same (getsockname), the pending connection is
 * accepted and talks, the datagram names its sender, and the names still
 * reach the sockets.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "zdtmtst.h"

static socklen_t aname(struct sockaddr_un *a, const char *tag)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "zdtm-%s-%d", tag, getpid());
	return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a->sun_path + 1);
}

static void check_name(int fd, const char *tag)
{
	struct sockaddr_un want, got;
	socklen_t wl = aname(&want, tag), gl = sizeof(got);

	if (getsockname(fd, (struct sockaddr *)&got, &gl) || gl != wl || memcmp(&got, &want, wl))
		failv("%s: the name changed (%u bytes)", tag, gl);
}

int main(int argc, char **argv)
{
	struct sockaddr_un a, src;
	socklen_t al, sl = sizeof(src);
	int l, c, d, s, x;
	char buf[16] = {};

	test_init(argc, argv);
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	d = socket(AF_UNIX, SOCK_DGRAM, 0);
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	al = aname(&a, "listen");
	if (bind(l, (struct sockaddr *)&a, al) || listen(l, 4) || connect(c, (struct sockaddr *)&a, al))
		test_bug("listen");
	al = aname(&a, "src");
	if (bind(s, (struct sockaddr *)&a, al))
		test_bug("bind src");
	al = aname(&a, "dgram");
	if (bind(d, (struct sockaddr *)&a, al) || sendto(s, "abc", 3, 0, (struct sockaddr *)&a, al) != 3)
		test_bug("dgram");

	test_daemon();
	test_waitsig();

	check_name(l, "listen");
	check_name(d, "dgram");
	check_name(s, "src");
	x = accept(l, NULL, NULL);
	if (x < 0 || write(c, "hi", 2) != 2 || read(x, buf, 2) != 2 || strcmp(buf, "hi"))
		fail("the pending connection doesn't talk");
	else
		check_name(x, "listen");
	if (recvfrom(d, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&src, &sl) != 3 || memcmp(buf, "abc", 3))
		fail("the datagram is lost");
	else if (sl != aname(&a, "src") || memcmp(&src, &a, sl))
		failv("the datagram's sender is not named the same (%u bytes)", sl);
	al = aname(&a, "dgram");
	if (sendto(s, "z", 1, 0, (struct sockaddr *)&a, al) != 1 || recv(d, buf, 1, MSG_DONTWAIT) != 1)
		fail("the dgram name doesn't reach the socket");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
