// SPDX-License-Identifier: GPL-2.0-only
/*
 * Empty datagrams already peeked at. The kernel marks an empty datagram
 * when a peek returns it, and a peek at an offset (SO_PEEK_OFF, how a dump
 * reads a queue) skips a marked one. Queues of empty and non-empty
 * datagrams, from several senders, some with credentials or fds; the task
 * peeks (MSG_PEEK) at some of the empty ones itself: at the head with no
 * offset, further on at an offset, which marks exactly the one it returns.
 * Some empty ones stay unmarked. After C/R every datagram is read back in
 * order, with its length, bytes and sender.
 *
 * By the test's name:
 *   unix_dgram_peeked      a bound unix dgram socket, from a bound sender
 *                          with SO_PASSCRED and an unbound one
 *   unix_seqpacket_peeked  a seqpacket pair, an empty message with an fd at
 *                          the head (peeked: a peek at no offset brings it)
 *   udp_peeked             UDP: IPv4, and dual stack IPv6 (v6 and v4 senders)
 *   dgram_peeked           all three
 *   dgram_peeked_leave     all three, none peeked by the task: the first dump
 *                          (-R) marks them, the second must still see them
 *   unix_dgram_peeked_refuse  an empty datagram already peeked, with an fd,
 *                          past the head: refused, named
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* one datagram: who sends it, its bytes, whether the task marks it (0: no, 1: at no offset, 2: at the offset) */
struct dg {
	int from;
	const char *data;
	int mark;
	int fd;		/* unix: a pipe's read end goes with it */
	int cred;	/* unix: the sender has SO_PASSCRED on */
};

static const struct dg unix_q[] = {
	{ 1, "", 1 }, { 0, "abc" }, { 0, "", 2, 0, 1 }, { 1, "defg" }, { 1, "" }, { 0, "h" },
	{ 0, "", 2, 0, 1 }, { 1, "", 2 }, { 1, "ij" }, { 0, "", 2, 0, 1 }, { 1, "" },
};
static const struct dg seq_q[] = {
	{ 0, "", 1, 1 }, { 0, "hello" }, { 0, "", 2, 0, 1 }, { 0, "" }, { 0, "wo" }, { 0, "", 2 },
	{ 0, "", 0, 1 }, { 0, "x" }, { 0, "", 2, 0, 1 },
};
/*
 * Without the task's peeks (the -R dump marks every empty one): an empty
 * one with fds past the head would be refused by the second dump, which
 * can't read it (dgram_peeked_refuse); here the fds go with bytes.
 */
static const struct dg seq_leave_q[] = {
	{ 0, "", 1, 1 }, { 0, "hello" }, { 0, "", 2, 0, 1 }, { 0, "" }, { 0, "wo" }, { 0, "", 2 },
	{ 0, "f", 0, 1 }, { 0, "x" }, { 0, "", 2, 0, 1 },
};
static const struct dg udp4_q[] = {
	{ 0, "", 1 }, { 1, "abc" }, { 1, "", 2 }, { 0, "" }, { 0, "xy" }, { 1, "", 2 }, { 0, "" },
};
static const struct dg udp6_q[] = {
	{ 0, "q" }, { 1, "", 2 }, { 0, "", 2 }, { 1, "rs" }, { 0, "" },
};
static const struct dg refuse_q[] = {
	{ 0, "a" }, { 0, "", 2, 1 }, { 0, "b" },
};

static int peeking = 1;
static char rpath[108], bpath[108];

static int mark_one(int sk, int at)
{
	char b[8];
	int none = -1;
	ssize_t n;

	if (setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &at, sizeof(at)))
		return -1;
	n = recv(sk, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
	setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &none, sizeof(none));
	return n;
}

/* The task's own peeks: exactly the empty ones the table marks. */
static void mark(int sk, const struct dg *q, int nr, const char *what)
{
	int before = 0;

	if (!peeking)
		return;
	for (int i = 0; i < nr; i++) {
		/* a peek of a datagram with fds installs them: closed at once */
		struct msghdr mh = { 0 };
		char ctl[CMSG_SPACE(sizeof(int) * 4)], b[8];
		struct iovec iov = { b, sizeof(b) };

		if (q[i].mark == 1) {
			mh.msg_iov = &iov;
			mh.msg_iovlen = 1;
			mh.msg_control = ctl;
			mh.msg_controllen = sizeof(ctl);
			if (recvmsg(sk, &mh, MSG_PEEK | MSG_DONTWAIT) != 0)
				test_bug("%s: the head is not empty", what);
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
				if (c->cmsg_type == SCM_RIGHTS)
					close(*(int *)CMSG_DATA(c));
		} else if (q[i].mark == 2) {
			if (q[i].fd) {
				/* the fd comes with it: our copy closed */
				int fl = -1;

				if (setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &before, sizeof(before)))
					test_bug("SO_PEEK_OFF");
				mh.msg_iov = &iov;
				mh.msg_iovlen = 1;
				mh.msg_control = ctl;
				mh.msg_controllen = sizeof(ctl);
				if (recvmsg(sk, &mh, MSG_PEEK | MSG_DONTWAIT) != 0)
					test_bug("%s: datagram %d is not the one peeked", what, i);
				setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &fl, sizeof(fl));
				for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
					if (c->cmsg_type == SCM_RIGHTS)
						close(*(int *)CMSG_DATA(c));
			} else if (mark_one(sk, before) != 0) {
				test_bug("%s: datagram %d is not the one peeked", what, i);
			}
		}
		before += strlen(q[i].data);
	}
}

static void send_unix(int s, const struct sockaddr_un *to, socklen_t tolen, const struct dg *d, int pfd)
{
	struct iovec iov = { (void *)d->data, strlen(d->data) };
	char ctl[CMSG_SPACE(sizeof(int))];
	struct msghdr mh = { .msg_name = (void *)to, .msg_namelen = to ? tolen : 0, .msg_iov = &iov, .msg_iovlen = 1 };
	int on = d->cred;

	if (d->fd) {
		struct cmsghdr *c;

		mh.msg_control = ctl;
		mh.msg_controllen = sizeof(ctl);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pfd, sizeof(int));
	}
	if (setsockopt(s, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) ||
	    sendmsg(s, &mh, MSG_DONTWAIT) != (ssize_t)strlen(d->data))
		test_bug("send to a unix socket");
}

/* Read one back: its bytes, its sender (@from: path, "" unbound, NULL: don't check), creds, fds. */
static void expect_unix(int sk, const struct dg *d, int i, const char *what, const char *from)
{
	char b[64], ctl[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 4)];
	struct sockaddr_un src;
	struct iovec iov = { b, sizeof(b) };
	struct msghdr mh = { .msg_name = &src, .msg_namelen = sizeof(src), .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	ssize_t n = recvmsg(sk, &mh, MSG_DONTWAIT);
	int nfd = 0, cred = 0;

	if (n != (ssize_t)strlen(d->data) || memcmp(b, d->data, n)) {
		failv("%s: datagram %d: %zd bytes (errno %d), want %zu", what, i, n, n < 0 ? errno : 0, strlen(d->data));
		return;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_type == SCM_RIGHTS) {
			int fd;
			struct stat st;

			memcpy(&fd, CMSG_DATA(c), sizeof(fd));
			if (fstat(fd, &st) || !S_ISFIFO(st.st_mode))
				failv("%s: datagram %d: its fd is not the pipe", what, i);
			close(fd);
			nfd++;
		} else if (c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred uc;

			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			if (uc.pid == getpid() && uc.uid == getuid() && uc.gid == getgid())
				cred = 1;
		}
	}
	if (nfd != d->fd)
		failv("%s: datagram %d: %d fds, want %d", what, i, nfd, d->fd);
	if (d->cred && !cred)
		failv("%s: datagram %d: not the sender's credentials", what, i);
	if (from && (*from ? mh.msg_namelen <= sizeof(sa_family_t) || strcmp(src.sun_path, from)
			   : mh.msg_namelen > sizeof(sa_family_t)))
		failv("%s: datagram %d: from \"%s\", want \"%s\"", what, i,
		      mh.msg_namelen > sizeof(sa_family_t) ? src.sun_path : "", from);
}

static void expect_none(int sk, const char *what)
{
	char b;

	errno = 0;
	if (recv(sk, &b, 1, MSG_DONTWAIT) != -1 || errno != EAGAIN)
		failv("%s: more datagrams than queued", what);
}

/* a long queue: more empty ones already peeked than one pass of criu's iterator writes of a socket */
#define LONG_NR	400
static int lp[2];

static int ux_r, ux_s[2], sq[2], u4, u4s[2], u6, u6s[2], pipefd[2];
static const struct dg *seq = seq_q;
static size_t nr_seq = ARRAY_SIZE(seq_q);

static socklen_t un_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s", path);
	return sizeof(*a);
}

static void build_unix(void)
{
	struct sockaddr_un a, to;
	socklen_t tl;

	test_path(rpath, sizeof(rpath), "zdtm.peeked.r");
	test_path(bpath, sizeof(bpath), "zdtm.peeked.b");
	unlink(rpath);
	unlink(bpath);
	ux_r = socket(AF_UNIX, SOCK_DGRAM, 0);
	ux_s[0] = socket(AF_UNIX, SOCK_DGRAM, 0);
	ux_s[1] = socket(AF_UNIX, SOCK_DGRAM, 0);
	tl = un_addr(&to, rpath);
	if (bind(ux_r, (struct sockaddr *)&to, tl) || bind(ux_s[0], (struct sockaddr *)&a, un_addr(&a, bpath)))
		test_bug("bind");
	for (size_t i = 0; i < ARRAY_SIZE(unix_q); i++)
		send_unix(ux_s[unix_q[i].from], &to, tl, &unix_q[i], -1);
	mark(ux_r, unix_q, ARRAY_SIZE(unix_q), "unix dgram");

	/* a pair: the peer is connected back, so no limit on the queue's length but the send buffer's */
	{
		int sndbuf = 1 << 20, off = 0, none = -1;
		char b[4];

		if (socketpair(AF_UNIX, SOCK_DGRAM, 0, lp) ||
		    setsockopt(lp[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)))
			test_bug("socketpair");
		for (int i = 0; i < LONG_NR; i++)
			if (send(lp[0], "z", i % 2, MSG_DONTWAIT) != i % 2)
				test_bug("send %d to the long queue", i);
		/* every empty one peeked, as a dump does */
		if (peeking) {
			setsockopt(lp[1], SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
			while (recv(lp[1], b, sizeof(b), MSG_PEEK | MSG_DONTWAIT) >= 0)
				;
			setsockopt(lp[1], SOL_SOCKET, SO_PEEK_OFF, &none, sizeof(none));
		}
	}
}

static void check_unix(void)
{
	int on = 1;

	setsockopt(ux_r, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
	for (size_t i = 0; i < ARRAY_SIZE(unix_q); i++)
		expect_unix(ux_r, &unix_q[i], i, "unix dgram", unix_q[i].from ? "" : bpath);
	expect_none(ux_r, "unix dgram");
	for (int i = 0; i < LONG_NR; i++) {
		char b[4];
		ssize_t n = recv(lp[1], b, sizeof(b), MSG_DONTWAIT);

		if (n != i % 2) {
			failv("long queue: datagram %d: %zd bytes, want %d", i, n, i % 2);
			break;
		}
	}
	expect_none(lp[1], "long queue");
	unlink(rpath);
	unlink(bpath);
}

static void build_seqpacket(void)
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sq) || pipe(pipefd))
		test_bug("socketpair/pipe");
	if (!peeking) {
		seq = seq_leave_q;
		nr_seq = ARRAY_SIZE(seq_leave_q);
	}
	for (size_t i = 0; i < nr_seq; i++)
		send_unix(sq[0], NULL, 0, &seq[i], pipefd[0]);
	mark(sq[1], seq, nr_seq, "unix seqpacket");
}

static void check_seqpacket(void)
{
	int on = 1;

	setsockopt(sq[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
	for (size_t i = 0; i < nr_seq; i++)
		expect_unix(sq[1], &seq[i], i, "unix seqpacket", NULL);
	expect_none(sq[1], "unix seqpacket");
}

static void build_udp(void)
{
	struct sockaddr_storage a4, a6, l;
	socklen_t l4, l6, ll;
	int zero = 0;

	u4 = socket(AF_INET, SOCK_DGRAM, 0);
	u6 = socket(AF_INET6, SOCK_DGRAM, 0);
	l4 = zdtm_loopback(AF_INET, 0, 0, &a4);
	if (bind(u4, (struct sockaddr *)&a4, l4) || setsockopt(u6, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)))
		test_bug("bind");
	/* dual stack: bound to the wildcard */
	memset(&l, 0, sizeof(l));
	l.ss_family = AF_INET6;
	if (bind(u6, (struct sockaddr *)&l, sizeof(struct sockaddr_in6)))
		test_bug("bind v6");
	l4 = zdtm_loopback(AF_INET, 0, zdtm_port(u4), &a4);
	for (int i = 0; i < 2; i++) {
		u4s[i] = socket(AF_INET, SOCK_DGRAM, 0);
		ll = zdtm_loopback(AF_INET, 0, 0, &l);
		if (bind(u4s[i], (struct sockaddr *)&l, ll))
			test_bug("bind");
	}
	u6s[0] = socket(AF_INET6, SOCK_DGRAM, 0);
	ll = zdtm_loopback(AF_INET6, 0, 0, &l);
	if (bind(u6s[0], (struct sockaddr *)&l, ll))
		test_bug("bind");
	u6s[1] = socket(AF_INET, SOCK_DGRAM, 0);
	ll = zdtm_loopback(AF_INET, 0, 0, &l);
	if (bind(u6s[1], (struct sockaddr *)&l, ll))
		test_bug("bind");
	for (size_t i = 0; i < ARRAY_SIZE(udp4_q); i++)
		if (sendto(u4s[udp4_q[i].from], udp4_q[i].data, strlen(udp4_q[i].data), 0, (struct sockaddr *)&a4,
			   l4) != (ssize_t)strlen(udp4_q[i].data))
			test_bug("sendto v4");
	for (size_t i = 0; i < ARRAY_SIZE(udp6_q); i++) {
		int v4 = udp6_q[i].from == 1;

		l6 = zdtm_loopback(v4 ? AF_INET : AF_INET6, 0, zdtm_port(u6), &a6);
		if (sendto(u6s[udp6_q[i].from], udp6_q[i].data, strlen(udp6_q[i].data), 0, (struct sockaddr *)&a6,
			   l6) != (ssize_t)strlen(udp6_q[i].data))
			test_bug("sendto v6");
	}
	/* loopback queues them from a softirq: all there before the peeks */
	usleep(20000);
	mark(u4, udp4_q, ARRAY_SIZE(udp4_q), "UDP");
	mark(u6, udp6_q, ARRAY_SIZE(udp6_q), "UDPv6");
}

static void expect_udp(int sk, const struct dg *d, int i, const char *what, int sender, int mapped)
{
	struct sockaddr_storage src;
	socklen_t sl = sizeof(src);
	char b[64];
	ssize_t n = recvfrom(sk, b, sizeof(b), MSG_DONTWAIT, (struct sockaddr *)&src, &sl);
	uint16_t port = 0;

	if (n != (ssize_t)strlen(d->data) || memcmp(b, d->data, n)) {
		failv("%s: datagram %d: %zd bytes (errno %d), want %zu", what, i, n, n < 0 ? errno : 0, strlen(d->data));
		return;
	}
	if (src.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&src;

		port = ntohs(s6->sin6_port);
		if (mapped != IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			failv("%s: datagram %d: %sa v4-mapped source", what, i, mapped ? "not " : "");
	} else {
		port = ntohs(((struct sockaddr_in *)&src)->sin_port);
	}
	if (port != zdtm_port(sender))
		failv("%s: datagram %d: from port %u, want %u", what, i, port, zdtm_port(sender));
}

static void check_udp(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(udp4_q); i++)
		expect_udp(u4, &udp4_q[i], i, "UDP", u4s[udp4_q[i].from], 0);
	expect_none(u4, "UDP");
	for (size_t i = 0; i < ARRAY_SIZE(udp6_q); i++)
		expect_udp(u6, &udp6_q[i], i, "UDPv6", u6s[udp6_q[i].from], udp6_q[i].from == 1);
	expect_none(u6, "UDPv6");
}

int main(int argc, char **argv)
{
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	int leave = !strcmp(name, "dgram_peeked_leave"), all = leave || !strcmp(name, "dgram_peeked");
	int ux = all || !strcmp(name, "unix_dgram_peeked"), sqp = all || !strcmp(name, "unix_seqpacket_peeked");
	int udp = all || !strcmp(name, "udp_peeked"), refuse = !strcmp(name, "unix_dgram_peeked_refuse");

	test_init(argc, argv);
	peeking = !leave;
	if (ux)
		build_unix();
	if (sqp)
		build_seqpacket();
	if (udp)
		build_udp();
	if (refuse) {
		/* fd 90 on the receiving side: the dump must name it */
		if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sq) || pipe(pipefd) || zdtm_fd_at(sq[1], 90) < 0)
			test_bug("socketpair");
		sq[1] = 90;
		for (size_t i = 0; i < ARRAY_SIZE(refuse_q); i++)
			send_unix(sq[0], NULL, 0, &refuse_q[i], pipefd[0]);
		mark(sq[1], refuse_q, ARRAY_SIZE(refuse_q), "refused");
	}

	test_daemon();
	test_waitsig();

	if (ux)
		check_unix();
	if (sqp)
		check_seqpacket();
	if (udp)
		check_udp();
	if (refuse) {
		for (size_t i = 0; i < ARRAY_SIZE(refuse_q); i++)
			expect_unix(sq[1], &refuse_q[i], i, "refused", NULL);
		expect_none(sq[1], "refused");
	}
	if (test_failures)
		return 1;
	pass();
	return 0;
}
