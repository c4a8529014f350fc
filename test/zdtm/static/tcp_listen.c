// SPDX-License-Identifier: GPL-2.0-only
/*
 * TCP sockets that are not connections: listeners of IPv4, IPv6 (v6only,
 * on ::1) and dual stack (::, reached by v4-mapped clients), with their
 * backlogs and SO_REUSEADDR, two listeners sharing a port with
 * SO_REUSEPORT, a socket bound but not listening, one neither bound nor
 * connected, and a connection that is over (closed by both sides). After
 * restore: the same ports, addresses, backlogs (TCP_INFO of a listener),
 * options, clients connect and are accepted, the bound socket can listen,
 * the unconnected one connect, and the finished one reads EOF.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <string.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

struct lst {
	int sk, family, mapped, backlog, noreuse;
	uint16_t port;
	const char *name;
};

static int getint(int sk, int level, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);

	getsockopt(sk, level, opt, &v, &len);
	return v;
}

static void check_listener(struct lst *l, int family, int mapped)
{
	struct tcp_info ti;
	int c, a;

	if (zdtm_tcp_info(l->sk, &ti) || ti.tcpi_state != TCP_LISTEN) {
		failv("%s: not listening (state %u)", l->name, ti.tcpi_state);
		return;
	}
	if ((int)ti.tcpi_sacked != l->backlog)
		failv("%s: backlog %u, was %d", l->name, ti.tcpi_sacked, l->backlog);
	if (zdtm_port(l->sk) != l->port)
		failv("%s: port %u, was %u", l->name, zdtm_port(l->sk), l->port);
	if (getint(l->sk, SOL_SOCKET, SO_REUSEADDR) != !l->noreuse)
		failv("%s: SO_REUSEADDR is %d", l->name, getint(l->sk, SOL_SOCKET, SO_REUSEADDR));
	c = zdtm_tcp_connect(l->sk, family, mapped);
	a = c < 0 ? -1 : accept(l->sk, NULL, NULL);
	if (c < 0 || a < 0)
		fail("%s: connect/accept", l->name);
	if (c >= 0 && a >= 0 && (write(c, "x", 1) != 1 || read(a, &(char){ 0 }, 1) != 1))
		fail("%s: data", l->name);
	close(c);
	close(a);
}

int main(int argc, char **argv)
{
	struct lst l[3] = {
		{ .family = AF_INET, .backlog = 7, .name = "IPv4 listener" },
		{ .family = AF_INET6, .backlog = 11, .name = "IPv6-only listener" },
		{ .family = AF_INET6, .backlog = 13, .name = "dual-stack listener" },
	};
	struct sockaddr_storage ss;
	socklen_t len;
	int rp1, rp2, bound, fresh, done_c, done_s, one = 1;
	uint16_t rp_port, bound_port;
	char b;

	test_init(argc, argv);
	for (int i = 0; i < 3; i++) {
		l[i].sk = zdtm_tcp_listener(l[i].family, i == 1, l[i].backlog);
		if (l[i].sk < 0)
			test_bug("%s", l[i].name);
		l[i].port = zdtm_port(l[i].sk);
	}
	/* two listeners on one port */
	rp1 = socket(AF_INET, SOCK_STREAM, 0);
	rp2 = socket(AF_INET, SOCK_STREAM, 0);
	len = zdtm_loopback(AF_INET, 0, 0, &ss);
	if (setsockopt(rp1, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(rp1, (struct sockaddr *)&ss, len) || listen(rp1, 5))
		test_bug("reuseport 1");
	rp_port = zdtm_port(rp1);
	len = zdtm_loopback(AF_INET, 0, rp_port, &ss);
	if (setsockopt(rp2, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(rp2, (struct sockaddr *)&ss, len) || listen(rp2, 5))
		test_bug("reuseport 2");
	/* bound only */
	bound = socket(AF_INET6, SOCK_STREAM, 0);
	len = zdtm_loopback(AF_INET6, 0, 0, &ss);
	if (bound < 0 || bind(bound, (struct sockaddr *)&ss, len))
		test_bug("bound");
	bound_port = zdtm_port(bound);
	fresh = socket(AF_INET, SOCK_STREAM, 0);
	/* a connection over on both sides: EOF to read, nothing held */
	if (zdtm_tcp_pair(AF_INET, 0, &done_c, &done_s))
		test_bug("pair");
	shutdown(done_s, SHUT_WR);
	shutdown(done_c, SHUT_WR);
	close(done_s);
	usleep(100000);

	test_daemon();
	test_waitsig();

	check_listener(&l[0], AF_INET, 0);
	check_listener(&l[1], AF_INET6, 0);
	check_listener(&l[2], AF_INET6, 0);
	check_listener(&l[2], AF_INET6, 1);
	check_listener(&l[2], AF_INET, 0);
	if (getint(l[1].sk, SOL_IPV6, IPV6_V6ONLY) != 1 || getint(l[2].sk, SOL_IPV6, IPV6_V6ONLY) != 0)
		failv("IPV6_V6ONLY differs");
	if (zdtm_port(rp1) != rp_port || zdtm_port(rp2) != rp_port || getint(rp1, SOL_SOCKET, SO_REUSEPORT) != 1 ||
	    getint(rp2, SOL_SOCKET, SO_REUSEPORT) != 1)
		failv("the SO_REUSEPORT listeners differ");
	for (int i = 0; i < 8; i++) {
		/* the kernel spreads clients over both */
		int c = zdtm_tcp_connect(rp1, AF_INET, 0);
		struct pollfd p[2] = { { .fd = rp1, .events = POLLIN }, { .fd = rp2, .events = POLLIN } };

		if (c < 0 || poll(p, 2, 1000) < 1)
			fail("connect to the shared port");
		for (int j = 0; j < 2; j++)
			if (p[j].revents & POLLIN)
				close(accept(p[j].fd, NULL, NULL));
		close(c);
	}
	if (zdtm_port(bound) != bound_port)
		failv("the bound socket has port %u, had %u", zdtm_port(bound), bound_port);
	if (listen(bound, 1))
		fail("listen on the bound socket");
	else
		check_listener(&(struct lst){ .sk = bound, .backlog = 1, .port = bound_port, .noreuse = 1,
					       .name = "bound" }, AF_INET6, 0);
	if (zdtm_port(fresh) != 0)
		failv("the unconnected socket has a port");
	if (connect(fresh, (struct sockaddr *)&ss, zdtm_loopback(AF_INET, 0, l[0].port, &ss)))
		fail("connect of the unconnected socket");
	if (read(done_c, &b, 1) != 0)
		fail("the finished connection does not read EOF");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
