// SPDX-License-Identifier: GPL-2.0-only
/*
 * An established TCP connection whose only reference is in flight on a
 * unix socket (SCM_RIGHTS), with data queued both ways. After the restore
 * the fd that comes out of the unix socket is a working connection (out of
 * repair mode): it reads what was queued, and both ends exchange more.
 */
#include <string.h>
#include <sys/socket.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

#define BEFORE	3000
#define AFTER	5000

static int send_fd(int via, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	char c = 'x';
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(via, &mh, 0) == 1 ? 0 : -1;
}

static int recv_fd(int via)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	char c;
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(via, &mh, 0) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

int main(int argc, char **argv)
{
	uint64_t seed, c2s = 0, s2c = 0, c2s_rd = 0, s2c_rd = 0;
	int cli, srv, un[2];
	uint16_t sport;

	test_init(argc, argv);
	seed = zdtm_random();
	if (zdtm_tcp_pair(AF_INET, 0, &cli, &srv))
		test_bug("TCP connection");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, un))
		test_bug("socketpair");
	sport = zdtm_port(srv);
	if (zdtm_stream_write(cli, BEFORE, seed, &c2s) || zdtm_stream_write(srv, BEFORE, seed + 1, &s2c))
		test_bug("write");
	if (send_fd(un[0], srv))
		test_bug("SCM_RIGHTS");
	close(srv);

	test_daemon();
	test_waitsig();

	srv = recv_fd(un[1]);
	if (srv < 0) {
		fail("no fd came out of the unix socket");
		return 1;
	}
	if (zdtm_port(srv) != sport)
		failv("the connection in flight has port %u, was %u", zdtm_port(srv), sport);
	if (zdtm_stream_write(srv, AFTER, seed + 1, &s2c) || zdtm_stream_write(cli, AFTER, seed, &c2s)) {
		fail("write after the restore");
		return 1;
	}
	shutdown(srv, SHUT_WR);
	shutdown(cli, SHUT_WR);
	if (zdtm_stream_read(srv, (size_t)-1, seed, &c2s_rd, 5000) < 0 || c2s_rd != c2s)
		failv("the connection in flight read %llu bytes of %llu", (unsigned long long)c2s_rd,
		      (unsigned long long)c2s);
	else if (zdtm_stream_read(cli, (size_t)-1, seed + 1, &s2c_rd, 5000) < 0 || s2c_rd != s2c)
		failv("its peer read %llu bytes of %llu", (unsigned long long)s2c_rd, (unsigned long long)s2c);
	else
		pass();
	return 0;
}
