// SPDX-License-Identifier: GPL-2.0-only
/*
 * ICMP "ping" sockets (SOCK_DGRAM, IPPROTO_ICMP and IPPROTO_ICMPV6): one
 * bound with an echo id of its own (the port), one connected to
 * 127.0.0.1, one IPv6. The groups allowed to make them come from
 * net.ipv4.ping_group_range (set by the desc). After restore the ids are
 * the same and echo requests sent on each get their replies, with the id.
 * Replies queued before the dump are lost (ping sockets can't be read
 * without taking what is read: SO_PEEK_OFF is not there): none are queued.
 */
#include <arpa/inet.h>
#include <netinet/icmp6.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <string.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

static void ping(int sk, int family, int connected, const char *what)
{
	uint8_t buf[64] = {};
	struct sockaddr_storage ss;
	socklen_t len = zdtm_loopback(family, 0, 0, &ss);
	struct pollfd p = { .fd = sk, .events = POLLIN };
	ssize_t n;

	buf[0] = family == AF_INET6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
	memcpy(buf + 8, "zdtm", 4);
	n = connected ? send(sk, buf, 12, 0) : sendto(sk, buf, 12, 0, (struct sockaddr *)&ss, len);
	if (n != 12) {
		fail("%s: send", what);
		return;
	}
	if (poll(&p, 1, 2000) != 1 || recv(sk, buf, sizeof(buf), 0) != 12) {
		fail("%s: no reply", what);
		return;
	}
	if (buf[0] != (family == AF_INET6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY) || memcmp(buf + 8, "zdtm", 4))
		failv("%s: a wrong reply", what);
	/* the kernel puts our id (the port) in the header */
	if (ntohs(*(uint16_t *)(buf + 4)) != zdtm_port(sk))
		failv("%s: reply for id %u, our id is %u", what, ntohs(*(uint16_t *)(buf + 4)), zdtm_port(sk));
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	int a, b, c;
	uint16_t pa, pb, pc;
	socklen_t len;

	test_init(argc, argv);
	a = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
	b = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
	c = socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6);
	if (a < 0 || b < 0 || c < 0)
		test_bug("ping sockets (ping_group_range)");
	len = zdtm_loopback(AF_INET, 0, 4242, &ss);
	if (bind(a, (struct sockaddr *)&ss, len))
		test_bug("bind");
	len = zdtm_loopback(AF_INET, 0, 0, &ss);
	if (connect(b, (struct sockaddr *)&ss, len))
		test_bug("connect");
	ping(a, AF_INET, 0, "bound");
	ping(b, AF_INET, 1, "connected");
	ping(c, AF_INET6, 0, "IPv6");
	pa = zdtm_port(a);
	pb = zdtm_port(b);
	pc = zdtm_port(c);

	test_daemon();
	test_waitsig();

	if (zdtm_port(a) != pa || zdtm_port(b) != pb || zdtm_port(c) != pc)
		failv("the echo ids changed: %u %u %u, were %u %u %u", zdtm_port(a), zdtm_port(b), zdtm_port(c), pa,
		      pb, pc);
	ping(a, AF_INET, 0, "bound");
	ping(b, AF_INET, 1, "connected");
	ping(c, AF_INET6, 0, "IPv6");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
