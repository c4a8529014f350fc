// SPDX-License-Identifier: GPL-2.0-only
/*
 * Two UDP sockets sharing a port with SO_REUSEPORT (a DNS or QUIC server's
 * threads), each with the datagrams the kernel gave it from 16 senders:
 * the kernel picks a socket of the group by a hash of the addresses and by
 * the order the sockets joined, which restore (and another host, another
 * namespace: another hash) need not repeat. The first to join sits at fd
 * 60, the second at fd 50. After C/R each socket has its own datagrams
 * back, in order, and nothing else.
 */
#include <string.h>
#include <unistd.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

#define NS 16

int main(int argc, char **argv)
{
	struct sockaddr_storage a;
	socklen_t l;
	int r[2], snd, one = 1;
	char q[2][NS + 1], got[NS + 1], b;
	int nq[2] = { 0, 0 };

	test_init(argc, argv);
	for (int i = 0; i < 2; i++) {
		int sk = socket(AF_INET, SOCK_DGRAM, 0);

		l = zdtm_loopback(AF_INET, 0, i ? zdtm_port(r[0]) : 0, &a);
		if (sk < 0 || setsockopt(sk, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
		    bind(sk, (struct sockaddr *)&a, l))
			test_bug("bind");
		r[i] = zdtm_fd_at(sk, i ? 50 : 60);
	}
	l = zdtm_loopback(AF_INET, 0, zdtm_port(r[0]), &a);
	for (int i = 0; i < NS; i++) {
		b = 'a' + i;
		snd = socket(AF_INET, SOCK_DGRAM, 0);
		if (sendto(snd, &b, 1, 0, (struct sockaddr *)&a, l) != 1)
			test_bug("send");
		close(snd);
	}
	usleep(20000);
	for (int i = 0; i < 2; i++) {
		int off = 0;

		setsockopt(r[i], SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
		while (recv(r[i], &b, 1, MSG_PEEK | MSG_DONTWAIT) == 1)
			q[i][nq[i]++] = b;
		q[i][nq[i]] = 0;
		off = -1;
		setsockopt(r[i], SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
	}
	if (!nq[0] || !nq[1])
		test_msg("one socket got everything (%s / %s): nothing to check\n", q[0], q[1]);

	test_daemon();
	test_waitsig();

	for (int i = 0; i < 2; i++) {
		int n = 0;

		while (n < NS && recv(r[i], &b, 1, MSG_DONTWAIT) == 1)
			got[n++] = b;
		got[n] = 0;
		if (strcmp(got, q[i]))
			failv("socket at fd %d: datagrams \"%s\", had \"%s\"", i ? 50 : 60, got, q[i]);
	}
	if (test_failures)
		return 1;
	pass();
	return 0;
}
