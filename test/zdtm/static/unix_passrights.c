// SPDX-License-Identifier: GPL-2.0-only
/*
 * SO_PASSRIGHTS (Linux 6.16): a unix socket that refuses files in flight.
 * A stream pair and a dgram pair, each receiver with SO_PASSRIGHTS off;
 * the dgram one got a message carrying a pipe's write end before it was
 * turned off. After C/R both still refuse files (a send with SCM_RIGHTS
 * to them fails with EPERM) and the message queued before comes with its
 * file, which writes into the pipe.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif

static int send_fd(int sk, int fd)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} c;
	struct iovec iov = { "f", 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.b, .msg_controllen = sizeof(c.b) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sk, &mh, MSG_DONTWAIT) == 1 ? 0 : -1;
}

static int recv_fd(int sk)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} c;
	char x;
	struct iovec iov = { &x, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.b, .msg_controllen = sizeof(c.b) };
	struct cmsghdr *cm;
	int fd = -1;

	if (recvmsg(sk, &mh, MSG_DONTWAIT) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&mh);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

static int passrights(int sk)
{
	int v = -1;
	socklen_t l = sizeof(v);

	getsockopt(sk, SOL_SOCKET, SO_PASSRIGHTS, &v, &l);
	return v;
}

int main(int argc, char **argv)
{
	int st[2], dg[2], pp[2], off = 0, fd;
	char b;

	test_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, st) || socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) || pipe(pp))
		test_bug("setup");
	if (send_fd(dg[1], pp[1]))
		test_bug("send a file");
	close(pp[1]);
	if (setsockopt(st[0], SOL_SOCKET, SO_PASSRIGHTS, &off, sizeof(off)) ||
	    setsockopt(dg[0], SOL_SOCKET, SO_PASSRIGHTS, &off, sizeof(off))) {
		test_msg("no SO_PASSRIGHTS on this kernel\n");
		test_daemon();
		test_waitsig();
		pass();
		return 0;
	}
	if (!send_fd(st[1], 0) || errno != EPERM)
		test_bug("a file got through");

	test_daemon();
	test_waitsig();

	if (passrights(st[0]) != 0 || passrights(dg[0]) != 0)
		failv("SO_PASSRIGHTS is %d and %d, not 0", passrights(st[0]), passrights(dg[0]));
	if (!send_fd(st[1], 0) || errno != EPERM)
		fail("the stream socket takes a file");
	fd = recv_fd(dg[0]);
	if (fd < 0 || write(fd, "x", 1) != 1 || read(pp[0], &b, 1) != 1)
		fail("the message queued before has no file, or not the pipe");
	if (!send_fd(dg[1], 0) || errno != EPERM)
		fail("the dgram socket takes a file");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
