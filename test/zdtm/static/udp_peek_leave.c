// SPDX-License-Identifier: GPL-2.0-only
/*
 * A dump with -R of sockets with datagrams queued, which the dump reads
 * by peeking at an offset it moves (SO_PEEK_OFF): a UDP socket of each
 * family with two datagrams queued (peek offset off, as by default), one
 * whose task set a peek offset of 0 itself, and a unix dgram pair. The
 * task peeks (MSG_PEEK) at its queues all along. After the dump every
 * socket has its own peek offset, a peek gives the first datagram and the
 * reads give both in order.
 */
#include <string.h>
#include <unistd.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

#define NR 4

static int peek_off(int sk)
{
	int v = -2;
	socklen_t l = sizeof(v);

	getsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &v, &l);
	return v;
}

int main(int argc, char **argv)
{
	static const char *names[NR] = { "UDP", "UDPv6", "UDP with a peek offset", "unix dgram" };
	int sk[NR], snd[NR], off[NR], up[2], zero = 0;
	char b[16];

	test_init(argc, argv);
	for (int i = 0; i < 3; i++) {
		int family = i == 1 ? AF_INET6 : AF_INET;
		struct sockaddr_storage a;
		socklen_t l = zdtm_loopback(family, 0, 0, &a);

		sk[i] = socket(family, SOCK_DGRAM, 0);
		snd[i] = socket(family, SOCK_DGRAM, 0);
		if (bind(sk[i], (struct sockaddr *)&a, l))
			test_bug("bind");
		l = zdtm_loopback(family, 0, zdtm_port(sk[i]), &a);
		if (connect(snd[i], (struct sockaddr *)&a, l))
			test_bug("connect");
	}
	if (setsockopt(sk[2], SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) ||
	    socketpair(AF_UNIX, SOCK_DGRAM, 0, up))
		test_bug("setup");
	sk[3] = up[0];
	snd[3] = up[1];
	for (int i = 0; i < NR; i++) {
		if (send(snd[i], "first", 5, 0) != 5 || send(snd[i], "second", 6, 0) != 6)
			test_bug("send");
		off[i] = peek_off(sk[i]);
	}
	usleep(10000);

	test_daemon();
	while (test_go()) {
		for (int i = 0; i < NR; i++) {
			/* a task with a peek offset moves it itself: only the others peek all along */
			if (i == 2)
				continue;
			if (recv(sk[i], b, sizeof(b), MSG_PEEK | MSG_DONTWAIT) != 5 || memcmp(b, "first", 5)) {
				failv("%s: a peek does not give the first datagram", names[i]);
				break;
			}
		}
		if (test_failures)
			break;
		usleep(5000);
	}
	test_waitsig();

	for (int i = 0; i < NR; i++) {
		if (peek_off(sk[i]) != off[i])
			failv("%s: SO_PEEK_OFF %d, was %d", names[i], peek_off(sk[i]), off[i]);
		if (i != 2 && (recv(sk[i], b, sizeof(b), MSG_PEEK | MSG_DONTWAIT) != 5 || memcmp(b, "first", 5)))
			failv("%s: a peek does not give the first datagram", names[i]);
		if (i == 2)
			setsockopt(sk[i], SOL_SOCKET, SO_PEEK_OFF, &(int){ -1 }, sizeof(int));
		if (recv(sk[i], b, sizeof(b), MSG_DONTWAIT) != 5 || memcmp(b, "first", 5) ||
		    recv(sk[i], b, sizeof(b), MSG_DONTWAIT) != 6 || memcmp(b, "second", 6))
			failv("%s: the datagrams are not read in order", names[i]);
	}
	if (test_failures)
		return 1;
	pass();
	return 0;
}
