// SPDX-License-Identifier: GPL-2.0-only
/*
 * Raw sockets (root): an IPv4 ICMP one bound to 127.0.0.1 with an
 * ICMP_FILTER letting only echo replies through, an IPPROTO_RAW one
 * (IP_HDRINCL), an IPv6 ICMPv6 one with an ICMPV6_FILTER and a raw IPv6
 * UDP one connected to ::1 with IPV6_CHECKSUM and IPV6_HDRINCL off. After
 * restore: protocols, addresses, options and filters read back the same,
 * and an echo request sent on the ICMP socket brings its reply there.
 * Packets queued before the dump are lost (no SO_PEEK_OFF on raw sockets).
 */
#include <arpa/inet.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <poll.h>
#include <string.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

#ifndef IPV6_HDRINCL
#define IPV6_HDRINCL 36
#endif

static int geti(int sk, int level, int opt)
{
	int v = -12345;
	socklen_t len = sizeof(v);

	getsockopt(sk, level, opt, &v, &len);
	return v;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss, got;
	struct icmp_filter f4 = { ~(1U << ICMP_ECHOREPLY) }, g4;
	struct icmp6_filter f6, g6;
	int r4, rr, r6, ru6, v;
	socklen_t len;

	test_init(argc, argv);
	r4 = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	rr = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	r6 = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
	ru6 = socket(AF_INET6, SOCK_RAW, IPPROTO_UDP);
	if (r4 < 0 || rr < 0 || r6 < 0 || ru6 < 0)
		test_bug("raw sockets");
	len = zdtm_loopback(AF_INET, 0, 0, &ss);
	if (bind(r4, (struct sockaddr *)&ss, len) || setsockopt(r4, SOL_RAW, ICMP_FILTER, &f4, sizeof(f4)))
		test_bug("r4");
	ICMP6_FILTER_SETBLOCKALL(&f6);
	ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f6);
	if (setsockopt(r6, SOL_ICMPV6, ICMP6_FILTER, &f6, sizeof(f6)))
		test_bug("r6");
	v = 6;
	/* a peer "port" of a raw socket is a protocol number; without one getpeername says ENOTCONN */
	len = zdtm_loopback(AF_INET6, 0, IPPROTO_UDP, &ss);
	if (setsockopt(ru6, SOL_IPV6, IPV6_CHECKSUM, &v, sizeof(v)) || connect(ru6, (struct sockaddr *)&ss, len))
		test_bug("ru6");
	len = sizeof(got);
	if (getpeername(ru6, (struct sockaddr *)&got, &len))
		test_bug("getpeername");

	test_daemon();
	test_waitsig();

	if (geti(r4, SOL_SOCKET, SO_PROTOCOL) != IPPROTO_ICMP || geti(rr, SOL_SOCKET, SO_PROTOCOL) != IPPROTO_RAW ||
	    geti(r6, SOL_SOCKET, SO_PROTOCOL) != IPPROTO_ICMPV6 || geti(ru6, SOL_SOCKET, SO_PROTOCOL) != IPPROTO_UDP)
		failv("a protocol changed");
	if (geti(rr, SOL_IP, IP_HDRINCL) != 1 || geti(r4, SOL_IP, IP_HDRINCL) != 0)
		failv("IP_HDRINCL changed");
	if (geti(ru6, SOL_IPV6, IPV6_CHECKSUM) != 6 || geti(ru6, SOL_IPV6, IPV6_HDRINCL) != 0)
		failv("IPV6_CHECKSUM or IPV6_HDRINCL changed");
	len = sizeof(g4);
	if (getsockopt(r4, SOL_RAW, ICMP_FILTER, &g4, &len) || g4.data != f4.data)
		failv("ICMP_FILTER changed");
	len = sizeof(g6);
	if (getsockopt(r6, SOL_ICMPV6, ICMP6_FILTER, &g6, &len) || memcmp(&g6, &f6, sizeof(f6)))
		failv("ICMP6_FILTER changed");
	len = sizeof(got);
	if (getsockname(r4, (struct sockaddr *)&got, &len) ||
	    ((struct sockaddr_in *)&got)->sin_addr.s_addr != htonl(INADDR_LOOPBACK))
		failv("the ICMP socket lost its address");
	len = sizeof(got);
	if (getpeername(ru6, (struct sockaddr *)&got, &len) ||
	    memcmp(&((struct sockaddr_in6 *)&got)->sin6_addr, &in6addr_loopback, 16))
		failv("the raw UDPv6 socket lost its peer");
	{
		uint8_t req[8] = { 8, 0, 0, 0, 0x12, 0x34, 0, 1 }, buf[128];
		struct pollfd p = { .fd = r4, .events = POLLIN };
		uint32_t sum = 0;

		for (int i = 0; i < 8; i += 2)
			sum += req[i] << 8 | req[i + 1];
		sum = ~((sum & 0xffff) + (sum >> 16)) & 0xffff;
		req[2] = sum >> 8;
		req[3] = sum;
		len = zdtm_loopback(AF_INET, 0, 0, &ss);
		if (sendto(r4, req, 8, 0, (struct sockaddr *)&ss, len) != 8)
			fail("echo request");
		/* the filter keeps our own request out: the first packet is the reply */
		if (poll(&p, 1, 2000) != 1 || recv(r4, buf, sizeof(buf), 0) < 28 || buf[20] != ICMP_ECHOREPLY ||
		    buf[24] != 0x12 || buf[25] != 0x34)
			failv("no echo reply on the raw ICMP socket");
	}
	if (test_failures)
		return 1;
	pass();
	return 0;
}
