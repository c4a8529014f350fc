// SPDX-License-Identifier: GPL-2.0-only
/*
 * Connected UDP sockets (IPv4 and IPv6) whose receive queue holds a
 * datagram from another sender, which came before the socket connected,
 * then one from the peer. After C/R each connected socket reads the
 * other's datagram, then the peer's, then takes only the peer's.
 */
#include <string.h>
#include <unistd.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

struct conn {
	int sk, other, peer;
};

static void make_conn(struct conn *c, int family)
{
	struct sockaddr_storage me, pa;
	socklen_t ml, pl;

	c->sk = socket(family, SOCK_DGRAM, 0);
	c->other = socket(family, SOCK_DGRAM, 0);
	c->peer = socket(family, SOCK_DGRAM, 0);
	ml = zdtm_loopback(family, 0, 0, &me);
	pl = zdtm_loopback(family, 0, 0, &pa);
	if (bind(c->sk, (struct sockaddr *)&me, ml) || bind(c->peer, (struct sockaddr *)&pa, pl))
		test_bug("bind");
	ml = zdtm_loopback(family, 0, zdtm_port(c->sk), &me);
	pl = zdtm_loopback(family, 0, zdtm_port(c->peer), &pa);
	if (sendto(c->other, "O", 1, 0, (struct sockaddr *)&me, ml) != 1)
		test_bug("send");
	usleep(10000);
	if (connect(c->sk, (struct sockaddr *)&pa, pl) || sendto(c->peer, "P", 1, 0, (struct sockaddr *)&me, ml) != 1)
		test_bug("connect");
	usleep(10000);
}

static void check_conn(struct conn *c, const char *name)
{
	char b[4];

	if (recv(c->sk, b, sizeof(b), MSG_DONTWAIT) != 1 || b[0] != 'O')
		failv("%s: the other sender's datagram is not first", name);
	if (recv(c->sk, b, sizeof(b), MSG_DONTWAIT) != 1 || b[0] != 'P')
		failv("%s: the peer's datagram is not next", name);
	if (recv(c->sk, b, sizeof(b), MSG_DONTWAIT) != -1)
		failv("%s: more datagrams", name);
	if (send(c->other, "o", 1, 0) == 1 && recv(c->sk, b, sizeof(b), MSG_DONTWAIT) != -1)
		failv("%s: a datagram from someone else came in after restore", name);
	if (send(c->peer, "p", 1, 0) != 1)
		fail("send");
	usleep(10000);
	if (recv(c->sk, b, sizeof(b), MSG_DONTWAIT) != 1 || b[0] != 'p')
		failv("%s: the peer's new datagram", name);
}

int main(int argc, char **argv)
{
	struct conn c4, c6;

	test_init(argc, argv);
	make_conn(&c4, AF_INET);
	make_conn(&c6, AF_INET6);
	/* the others send to c4/c6 from a port of their own now */
	for (int i = 0; i < 2; i++) {
		struct sockaddr_storage pa;
		socklen_t pl;
		struct conn *c = i ? &c6 : &c4;

		pl = zdtm_loopback(i ? AF_INET6 : AF_INET, 0, zdtm_port(c->sk), &pa);
		if (connect(c->other, (struct sockaddr *)&pa, pl) || connect(c->peer, (struct sockaddr *)&pa, pl))
			test_bug("connect the senders");
	}

	test_daemon();
	test_waitsig();

	check_conn(&c4, "IPv4");
	check_conn(&c6, "IPv6");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
