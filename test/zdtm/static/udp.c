// SPDX-License-Identifier: GPL-2.0-only
/*
 * UDP and UDP-Lite sockets: two bound to one port with SO_REUSEADDR, a
 * pair of IPv6 sockets connected to each other, a wildcard one with
 * SO_REUSEPORT, an unbound one, a UDP-Lite one with a checksum coverage.
 * Datagrams are queued on them before the dump: from sockets of the test,
 * from one already closed (its port free), empty ones (one between
 * others), one sent to 127.0.0.2 (the wildcard socket sees that address
 * with IP_PKTINFO). After
 * restore every datagram is there once, in order, with its bytes, source
 * address and port (and destination), and new datagrams go both ways.
 */
#include <arpa/inet.h>
#include <netinet/udp.h>
#include <string.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

#ifndef UDPLITE_SEND_CSCOV
#define UDPLITE_SEND_CSCOV	10
#endif

struct ep {
	struct sockaddr_storage ss;
	socklen_t len;
};

static struct ep name_of(int sk)
{
	struct ep e = { .len = sizeof(e.ss) };

	getsockname(sk, (struct sockaddr *)&e.ss, &e.len);
	return e;
}

/* Same port, and same address unless @a's is the wildcard (the source is then a real one). */
static int same(const struct ep *a, const struct sockaddr_storage *b, socklen_t blen)
{
	if (a->len != blen || a->ss.ss_family != b->ss_family)
		return 0;
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)&a->ss, *y = (const void *)b;

		return x->sin_port == y->sin_port && (!x->sin_addr.s_addr || x->sin_addr.s_addr == y->sin_addr.s_addr);
	}
	return !memcmp(&a->ss, b, blen);
}

static int udp(int family, int proto, const char *addr, uint16_t port, int opt)
{
	int sk = socket(family, SOCK_DGRAM, proto), one = 1;
	struct sockaddr_storage ss = { .ss_family = family };
	socklen_t len;

	if (sk < 0)
		test_bug("socket");
	if (opt && setsockopt(sk, SOL_SOCKET, opt, &one, sizeof(one)))
		test_bug("setsockopt");
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		inet_pton(AF_INET6, addr, &a->sin6_addr);
		a->sin6_port = htons(port);
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		inet_pton(AF_INET, addr, &a->sin_addr);
		a->sin_port = htons(port);
		len = sizeof(*a);
	}
	if (bind(sk, (struct sockaddr *)&ss, len))
		test_bug("bind %s:%u", addr, port);
	return sk;
}

static void send_to(int from, int to, const char *msg, const char *dst_addr)
{
	struct ep d = name_of(to);

	if (dst_addr)
		inet_pton(AF_INET, dst_addr, &((struct sockaddr_in *)&d.ss)->sin_addr);
	if (sendto(from, msg, strlen(msg), 0, (struct sockaddr *)&d.ss, d.len) != (ssize_t)strlen(msg))
		test_bug("sendto");
}

/* The next datagram must be @msg from @src (NULL: don't care) to @dst (an IPv4 address, or NULL). */
static void expect(int sk, const char *msg, const struct ep *src, const char *dst)
{
	char buf[256] = {}, ctl[256];
	struct sockaddr_storage from;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	ssize_t n = recvmsg(sk, &mh, MSG_DONTWAIT);

	if (n != (ssize_t)strlen(msg) || memcmp(buf, msg, n)) {
		failv("expected \"%s\", got %zd bytes \"%s\"", msg, n, buf);
		return;
	}
	if (src && !same(src, &from, mh.msg_namelen))
		failv("\"%s\" came from another address or port", msg);
	if (dst) {
		struct in_addr want;
		int ok = 0;

		inet_pton(AF_INET, dst, &want);
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_PKTINFO)
				ok = ((struct in_pktinfo *)CMSG_DATA(c))->ipi_addr.s_addr == want.s_addr;
		if (!ok)
			failv("\"%s\" was not sent to %s", msg, dst);
	}
}

int main(int argc, char **argv)
{
	int r1, r1b, c6a, c6b, w, un, lite, tmp, one = 1, cov = 20;
	struct ep e_r1, e_w, e_un, e_tmp, e_c6a, e_lite;
	struct ep peer;
	char buf[16];

	test_init(argc, argv);
	r1 = udp(AF_INET, 0, "127.0.0.1", 0, SO_REUSEADDR);
	e_r1 = name_of(r1);
	r1b = udp(AF_INET, 0, "127.0.0.1", ntohs(((struct sockaddr_in *)&e_r1.ss)->sin_port), SO_REUSEADDR);
	c6a = udp(AF_INET6, 0, "::1", 0, 0);
	c6b = udp(AF_INET6, 0, "::1", 0, 0);
	e_c6a = name_of(c6a);
	peer = name_of(c6b);
	if (connect(c6a, (struct sockaddr *)&peer.ss, peer.len) ||
	    connect(c6b, (struct sockaddr *)&e_c6a.ss, e_c6a.len))
		test_bug("connect");
	w = udp(AF_INET, 0, "0.0.0.0", 0, SO_REUSEPORT);
	e_w = name_of(w);
	if (setsockopt(w, SOL_IP, IP_PKTINFO, &one, sizeof(one)))
		test_bug("IP_PKTINFO");
	un = socket(AF_INET, SOCK_DGRAM, 0);
	lite = udp(AF_INET, IPPROTO_UDPLITE, "127.0.0.1", 0, 0);
	e_lite = name_of(lite);
	if (setsockopt(lite, IPPROTO_UDPLITE, UDPLITE_SEND_CSCOV, &cov, sizeof(cov)))
		test_bug("UDPLITE_SEND_CSCOV");
	tmp = udp(AF_INET, 0, "127.0.0.1", 0, 0);
	e_tmp = name_of(tmp);

	send_to(un, r1, "from the unbound one", NULL);
	e_un = name_of(un);
	/* empty ones between others and last: a peek of one doesn't move the offset */
	if (sendto(w, "", 0, 0, (struct sockaddr *)&e_r1.ss, e_r1.len))
		test_bug("empty datagram");
	send_to(tmp, r1, "from one closed since", NULL);
	close(tmp);
	if (sendto(w, "", 0, 0, (struct sockaddr *)&e_r1.ss, e_r1.len))
		test_bug("empty datagram");
	send_to(un, w, "to 127.0.0.2", "127.0.0.2");
	if (send(c6a, "to my peer 1", 12, 0) != 12 || send(c6a, "to my peer 2", 12, 0) != 12 ||
	    send(c6b, "back", 4, 0) != 4)
		test_bug("send");
	send_to(lite, lite, "lite to itself", NULL);
	usleep(20000);

	test_daemon();
	test_waitsig();

	{
		struct ep n1 = name_of(r1), nw = name_of(w), nc = name_of(c6a), nu = name_of(un);

		if (!same(&e_r1, &n1.ss, n1.len) || !same(&e_w, &nw.ss, nw.len) || !same(&e_c6a, &nc.ss, nc.len) ||
		    !same(&e_un, &nu.ss, nu.len))
			failv("a socket has another address");
	}
	/* datagrams to a port two sockets share go to the last one bound */
	{
		int got = 0;

		for (int i = 0; i < 2; i++) {
			int sk = i ? r1b : r1;
			char ctl[16];

			if (recv(sk, ctl, sizeof(ctl), MSG_PEEK | MSG_DONTWAIT) >= 0) {
				expect(sk, "from the unbound one", &e_un, NULL);
				expect(sk, "", &e_w, NULL);
				expect(sk, "from one closed since", &e_tmp, NULL);
				expect(sk, "", &e_w, NULL);
				got++;
			}
		}
		if (got != 1)
			failv("the queued datagrams are on %d sockets", got);
	}
	expect(w, "to 127.0.0.2", &e_un, "127.0.0.2");
	expect(c6b, "to my peer 1", &e_c6a, NULL);
	expect(c6b, "to my peer 2", &e_c6a, NULL);
	expect(c6a, "back", NULL, NULL);
	expect(lite, "lite to itself", &e_lite, NULL);
	if (recv(c6b, buf, sizeof(buf), MSG_DONTWAIT) >= 0 || recv(w, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		failv("a datagram too many");
	/* new traffic */
	send_to(un, w, "new", NULL);
	usleep(10000);
	expect(w, "new", &e_un, NULL);
	if (send(c6b, "again", 5, 0) != 5)
		fail("send on a connected socket");
	usleep(10000);
	expect(c6a, "again", NULL, NULL);
	if (getsockopt(lite, IPPROTO_UDPLITE, UDPLITE_SEND_CSCOV, &cov, &(socklen_t){ sizeof(cov) }) || cov != 20)
		failv("UDPLITE_SEND_CSCOV is %d", cov);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
