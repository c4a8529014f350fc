// SPDX-License-Identifier: GPL-2.0-only
/*
 * Netlink sockets (no privileges needed):
 *  - a route socket bound to a port id of its own choosing, in groups 1
 *    (RTNLGRP_NOTIFY, quiet) and 33 and 36 (past the 32 getsockname shows), with
 *    NETLINK_PKTINFO, BROADCAST_ERROR, NO_ENOBUFS, CAP_ACK, EXT_ACK and
 *    GET_STRICT_CHK on (and as root LISTEN_ALL_NSID) and SO_RCVBUF set;
 *  - a route socket never bound, and one autobound by connecting to the
 *    kernel;
 *  - usersock sockets: A bound to a port, B connected to A's port; as
 *    root (nobody may not join usersock groups) also D autobound in group
 *    3 and C connected to A's port and group 3.
 * After restore: port ids, the whole membership bitmap, peers, flags and
 * buffer read back the same; a RTM_GETLINK request on the route socket
 * gets its answer; B's datagram reaches A from B's port; C's datagram
 * reaches A and, through group 3, D; the unbound socket is still unbound.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "zdtmtst.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef NETLINK_LISTEN_ALL_NSID
#define NETLINK_LISTEN_ALL_NSID 8
#endif
#ifndef NETLINK_LIST_MEMBERSHIPS
#define NETLINK_LIST_MEMBERSHIPS 9
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif

static const int flag_opts[] = { NETLINK_PKTINFO, NETLINK_BROADCAST_ERROR, NETLINK_NO_ENOBUFS, NETLINK_CAP_ACK,
				 NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK };

static int nl_socket(int proto)
{
	int sk = socket(AF_NETLINK, SOCK_RAW, proto);

	if (sk < 0)
		test_bug("socket(AF_NETLINK, %d)", proto);
	return sk;
}

static void nl_bind(int sk, uint32_t port, uint32_t groups)
{
	struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_pid = port, .nl_groups = groups };

	if (bind(sk, (struct sockaddr *)&a, sizeof(a)))
		test_bug("bind netlink to %u", port);
}

static void nl_connect(int sk, uint32_t port, uint32_t groups)
{
	struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_pid = port, .nl_groups = groups };

	if (connect(sk, (struct sockaddr *)&a, sizeof(a)))
		test_bug("connect netlink to %u/%x", port, groups);
}

static struct sockaddr_nl name_of(int sk, int peer)
{
	struct sockaddr_nl a;
	socklen_t len = sizeof(a);

	memset(&a, 0, sizeof(a));
	if (peer ? getpeername(sk, (struct sockaddr *)&a, &len) : getsockname(sk, (struct sockaddr *)&a, &len))
		test_bug("getsockname");
	return a;
}

static int groups_of(int sk, uint32_t *g, int words)
{
	socklen_t len = words * sizeof(uint32_t);

	memset(g, 0, len);
	if (getsockopt(sk, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, g, &len))
		return -1;
	return len;
}

static int geti(int sk, int level, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(sk, level, opt, &v, &len))
		return -12345;
	return v;
}

/* A RTM_GETLINK request for lo (index 1) and its answer. */
static int ask_link(int sk, uint32_t seq)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST,
		       .nlmsg_seq = seq },
		.i = { .ifi_family = AF_UNSPEC, .ifi_index = 1 },
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	char buf[16384];
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	struct pollfd p = { .fd = sk, .events = POLLIN };
	ssize_t n;

	if (sendto(sk, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) != sizeof(req))
		return -1;
	if (poll(&p, 1, 5000) != 1)
		return -1;
	n = recv(sk, buf, sizeof(buf), 0);
	if (n < (ssize_t)sizeof(*h) || h->nlmsg_seq != seq || h->nlmsg_type != RTM_NEWLINK)
		return -1;
	return 0;
}

/* A datagram on @sk within 5 s: its bytes and the sender's port. */
static ssize_t recv_from(int sk, char *buf, size_t size, uint32_t *port)
{
	struct sockaddr_nl from;
	socklen_t len = sizeof(from);
	struct pollfd p = { .fd = sk, .events = POLLIN };

	if (poll(&p, 1, 5000) != 1)
		return -1;
	memset(&from, 0, sizeof(from));
	ssize_t n = recvfrom(sk, buf, size, MSG_DONTWAIT, (struct sockaddr *)&from, &len);

	*port = from.nl_pid;
	return n;
}

int main(int argc, char **argv)
{
	uint32_t g1[8], g2[8], port_r, port_auto, port_a, port_b, port_c = 0, got_port;
	int r, un, au, a, b, c = -1, d = -1, len1, len2, one = 1, rcvbuf, root = getuid() == 0;
	struct sockaddr_nl n;
	char buf[64];
	ssize_t got;

	test_init(argc, argv);
	port_r = 0x40000000 | (getpid() & 0xffff);
	port_a = port_r + 0x10000;

	r = nl_socket(NETLINK_ROUTE);
	nl_bind(r, port_r, 1 << (RTNLGRP_NOTIFY - 1));
	for (int g = 33; g <= 36; g += 3)
		if (setsockopt(r, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)))
			test_bug("join group %d", g);
	for (size_t i = 0; i < sizeof(flag_opts) / sizeof(flag_opts[0]); i++)
		if (setsockopt(r, SOL_NETLINK, flag_opts[i], &one, sizeof(one)))
			test_bug("netlink option %d", flag_opts[i]);
	if (root && setsockopt(r, SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, &one, sizeof(one)))
		test_bug("NETLINK_LISTEN_ALL_NSID");
	rcvbuf = 123456;
	if (setsockopt(r, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)))
		test_bug("SO_RCVBUF");
	rcvbuf = geti(r, SOL_SOCKET, SO_RCVBUF);
	len1 = groups_of(r, g1, 8);
	if (len1 < 8 || !(g1[1] & (1 << 0)) || !(g1[1] & (1 << 3)))
		test_bug("membership list");

	un = nl_socket(NETLINK_ROUTE);
	au = nl_socket(NETLINK_ROUTE);
	nl_connect(au, 0, 0);
	port_auto = name_of(au, 0).nl_pid;

	a = nl_socket(NETLINK_USERSOCK);
	nl_bind(a, port_a, 0);
	b = nl_socket(NETLINK_USERSOCK);
	nl_connect(b, port_a, 0);
	port_b = name_of(b, 0).nl_pid;
	if (root) {
		d = nl_socket(NETLINK_USERSOCK);
		nl_bind(d, 0, 1 << 2);
		c = nl_socket(NETLINK_USERSOCK);
		nl_connect(c, port_a, 1 << 2);
		port_c = name_of(c, 0).nl_pid;
	}

	test_daemon();
	test_waitsig();

	n = name_of(r, 0);
	if (n.nl_pid != port_r || n.nl_groups != (1 << (RTNLGRP_NOTIFY - 1)))
		failv("route socket: port %u groups %x, want %u %x", n.nl_pid, n.nl_groups, port_r,
		      1 << (RTNLGRP_NOTIFY - 1));
	len2 = groups_of(r, g2, 8);
	if (len2 != len1 || memcmp(g1, g2, len1))
		failv("route socket: memberships differ (%d bytes, word 1 %x; was %d, %x)", len2, g2[1], len1, g1[1]);
	for (size_t i = 0; i < sizeof(flag_opts) / sizeof(flag_opts[0]); i++)
		if (geti(r, SOL_NETLINK, flag_opts[i]) != 1)
			failv("netlink option %d is %d", flag_opts[i], geti(r, SOL_NETLINK, flag_opts[i]));
	if (geti(r, SOL_NETLINK, NETLINK_LISTEN_ALL_NSID) != root)
		failv("NETLINK_LISTEN_ALL_NSID is %d", geti(r, SOL_NETLINK, NETLINK_LISTEN_ALL_NSID));
	if (geti(r, SOL_SOCKET, SO_RCVBUF) != rcvbuf)
		failv("SO_RCVBUF %d, want %d", geti(r, SOL_SOCKET, SO_RCVBUF), rcvbuf);
	if (ask_link(r, 77))
		fail("no answer to RTM_GETLINK on the route socket");
	if (name_of(un, 0).nl_pid != 0)
		failv("the unbound socket has port %u", name_of(un, 0).nl_pid);
	if (name_of(au, 0).nl_pid != port_auto)
		failv("the autobound socket has port %u, want %u", name_of(au, 0).nl_pid, port_auto);
	if (ask_link(au, 78))
		fail("no answer to RTM_GETLINK on the autobound socket");
	if (name_of(b, 1).nl_pid != port_a || name_of(b, 0).nl_pid != port_b)
		failv("usersock B: peer %u port %u", name_of(b, 1).nl_pid, name_of(b, 0).nl_pid);
	if (root && (name_of(c, 1).nl_groups != 1 << 2 || name_of(c, 1).nl_pid != port_a))
		failv("usersock C: peer %u groups %x", name_of(c, 1).nl_pid, name_of(c, 1).nl_groups);

	if (send(b, "to-a", 4, 0) != 4)
		fail("send from B");
	got = recv_from(a, buf, sizeof(buf), &got_port);
	if (got != 4 || memcmp(buf, "to-a", 4) || got_port != port_b)
		failv("A got %zd bytes from %u, want 4 from %u", got, got_port, port_b);
	if (root) {
		if (send(c, "to-group", 8, 0) != 8)
			fail("send from C");
		got = recv_from(a, buf, sizeof(buf), &got_port);
		if (got != 8 || memcmp(buf, "to-group", 8) || got_port != port_c)
			failv("A got %zd bytes from %u, want 8 from %u", got, got_port, port_c);
		/* other runs' senders to group 3 may come first */
		do
			got = recv_from(d, buf, sizeof(buf), &got_port);
		while (got >= 0 && got_port != port_c);
		if (got != 8 || memcmp(buf, "to-group", 8) || got_port != port_c)
			failv("D got %zd bytes from %u on its group, want 8 from %u", got, got_port, port_c);
	}

	if (test_failures)
		return 1;
	pass();
	return 0;
}
