// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: a dgram socketpair whose receiving end (fd 82) has a
 * message in flight carrying a pipe's write end (SCM_RIGHTS). The dump
 * must fail naming the fd and the fds in flight, and leave the message
 * in place: afterwards it is received once with its fd, which still
 * writes into the pipe.
 */
#include <string.h>
#include <sys/socket.h>

#include "zdtmtst.h"

#define SOCK_FD	82

int main(int argc, char **argv)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { "fd", 2 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c;
	int sk[2], p[2], got = -1;
	char buf[8] = {};

	test_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sk) || dup2(sk[1], SOCK_FD) != SOCK_FD || pipe(p))
		test_bug("setup");
	close(sk[1]);
	memset(&ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &p[1], sizeof(int));
	if (sendmsg(sk[0], &mh, 0) != 2)
		test_bug("sendmsg");
	close(p[1]);

	test_daemon();
	test_waitsig();

	iov.iov_base = buf;
	iov.iov_len = sizeof(buf);
	mh.msg_controllen = sizeof(ctl.buf);
	if (recvmsg(SOCK_FD, &mh, MSG_DONTWAIT) != 2 || memcmp(buf, "fd", 2)) {
		fail("the message is lost");
	} else {
		c = CMSG_FIRSTHDR(&mh);
		if (!c || c->cmsg_type != SCM_RIGHTS)
			fail("the message has no fd");
		else
			memcpy(&got, CMSG_DATA(c), sizeof(int));
		if (got < 0 || write(got, "x", 1) != 1 || read(p[0], buf, 1) != 1 || buf[0] != 'x')
			fail("the fd in flight is not the pipe's write end");
	}
	if (recv(SOCK_FD, buf, sizeof(buf), MSG_DONTWAIT) != -1)
		fail("a second message appeared");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
