// SPDX-License-Identifier: GPL-2.0-only
/*
 * Files in flight on unix sockets (SCM_RIGHTS), of several kinds, some
 * held by no task any more:
 *  - stream pair 40/41: "pre" (no fds), then "a" carrying a pipe's write
 *    end (we keep only the read end, fd 52), a file at offset 123 (also
 *    our fd 50: one description), and one end of another socketpair (we
 *    keep its peer, fd 51), then "b";
 *  - dgram pair 42/43: a datagram carrying an eventfd (count 5) and a
 *    memfd holding "memfd", both closed by us;
 *  - seqpacket pair 44/45: a message carrying a socket that itself has a
 *    file in flight (a message "inner" with a pipe's write end; we keep
 *    that pipe's read end, fd 53);
 *  - dgram pair 46/47: a datagram carrying one end of a stream pair made
 *    before it (we keep its peer, fd 38, which sent it "hi" unread), so
 *    that pair is restored first.
 * After restore each message comes with its fds, which are the same files:
 * the pipe ends connect, the file shares its offset with fd 50, the socket
 * talks to fd 51 (and the other one to fd 38 after "hi"), the eventfd counts 5, the memfd reads "memfd", and the
 * nested socket hands out its own file.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "zdtmtst.h"

static int send_fds(int sk, const char *data, const int *fds, int nr)
{
	union {
		char buf[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)data, strlen(data) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (nr) {
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(nr * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nr * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nr * sizeof(int));
	}
	return sendmsg(sk, &mh, 0) == (ssize_t)strlen(data) ? 0 : -1;
}

/* Receive @len bytes that must read @want, with exactly @nr fds into @fds. */
static int recv_fds(int sk, size_t len, const char *want, int *fds, int nr)
{
	union {
		char buf[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	char data[64] = "";
	struct iovec iov = { data, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c;
	int got = 0;

	if (recvmsg(sk, &mh, MSG_DONTWAIT) != (ssize_t)len || memcmp(data, want, len)) {
		failv("fd %d: received '%.*s', want '%s'", sk, (int)len, data, want);
		return -1;
	}
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			got = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			memcpy(fds, CMSG_DATA(c), got * sizeof(int));
		}
	if (got != nr) {
		failv("fd %d: '%s' came with %d fds, want %d", sk, want, got, nr);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int sv[2], p[2], q[2], in[2], fds[4], got[4];
	char buf[16] = "";
	uint64_t cnt;

	test_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, q) || zdtm_fd_at(q[0], 38) < 0 || zdtm_fd_at(q[1], 39) < 0 ||
	    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) || zdtm_fd_at(sv[0], 46) < 0 || zdtm_fd_at(sv[1], 47) < 0)
		test_bug("early pair");
	fds[0] = 39;
	if (write(38, "hi", 2) != 2 || send_fds(46, "e", fds, 1))
		test_bug("send on the early pair");
	close(39);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || zdtm_fd_at(sv[0], 40) < 0 || zdtm_fd_at(sv[1], 41) < 0)
		test_bug("stream pair");
	{
		char path[4096];

		test_path(path, sizeof(path), "scm.file");
		if (zdtm_fd_at(open(path, O_RDWR | O_CREAT, 0600), 50) < 0 || lseek(50, 123, SEEK_SET) != 123)
			test_bug("file");
	}
	if (pipe(p) || zdtm_fd_at(p[0], 52) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, q) || zdtm_fd_at(q[1], 51) < 0)
		test_bug("pipe, pair");
	fds[0] = p[1];
	fds[1] = 50;
	fds[2] = q[0];
	if (send_fds(40, "pre", NULL, 0) || send_fds(40, "a", fds, 3) || send_fds(40, "b", NULL, 0))
		test_bug("send on the stream");
	close(p[1]);
	close(q[0]);

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) || zdtm_fd_at(sv[0], 42) < 0 || zdtm_fd_at(sv[1], 43) < 0)
		test_bug("dgram pair");
	fds[0] = eventfd(5, 0);
	fds[1] = memfd_create("scm", 0);
	if (fds[0] < 0 || fds[1] < 0 || write(fds[1], "memfd", 5) != 5 || send_fds(42, "d", fds, 2))
		test_bug("send on the dgram pair");
	close(fds[0]);
	close(fds[1]);

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) || zdtm_fd_at(sv[0], 44) < 0 || zdtm_fd_at(sv[1], 45) < 0)
		test_bug("seqpacket pair");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, in) || pipe(p) || zdtm_fd_at(p[0], 53) < 0)
		test_bug("inner pair");
	if (send_fds(in[0], "inner", &p[1], 1) || send_fds(44, "s", &in[1], 1))
		test_bug("nested sends");
	close(p[1]);
	close(in[0]);
	close(in[1]);

	test_daemon();
	test_waitsig();

	if (!recv_fds(41, 3, "pre", got, 0) && !recv_fds(41, 1, "a", got, 3)) {
		if (write(got[0], "P", 1) != 1 || read(52, buf, 1) != 1 || buf[0] != 'P')
			fail("the pipe's write end in flight");
		if (lseek(got[1], 0, SEEK_CUR) != 123 || lseek(50, 7, SEEK_SET) != 7 || lseek(got[1], 0, SEEK_CUR) != 7)
			fail("the file in flight is not fd 50's description");
		if (write(got[2], "Q", 1) != 1 || read(51, buf, 1) != 1 || buf[0] != 'Q')
			fail("the socket in flight");
		recv_fds(41, 1, "b", got, 0);
	}
	if (!recv_fds(43, 1, "d", got, 2)) {
		if (read(got[0], &cnt, sizeof(cnt)) != sizeof(cnt) || cnt != 5)
			fail("the eventfd in flight");
		if (pread(got[1], buf, 5, 0) != 5 || memcmp(buf, "memfd", 5))
			fail("the memfd in flight");
	}
	if (!recv_fds(45, 1, "s", got, 1) && !recv_fds(got[0], 5, "inner", got + 1, 1)) {
		if (write(got[1], "N", 1) != 1 || read(53, buf, 1) != 1 || buf[0] != 'N')
			fail("the pipe in flight on the socket in flight");
	}
	if (!recv_fds(47, 1, "e", got, 1)) {
		if (read(got[0], buf, 2) != 2 || memcmp(buf, "hi", 2) || write(got[0], "R", 1) != 1 ||
		    read(38, buf, 1) != 1 || buf[0] != 'R')
			fail("the socket in flight whose peer was restored before its carrier");
	}
	if (test_failures)
		return 1;
	pass();
	return 0;
}
