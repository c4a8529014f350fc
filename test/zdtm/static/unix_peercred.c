// SPDX-License-Identifier: GPL-2.0-only
/*
 * SO_PEERCRED of unix sockets (run as nobody it shows nobody's ids): a
 * stream socketpair, a seqpacket socketpair, a listener on a path (its own
 * credentials, given to its clients) with a connection accepted, and a
 * client connected to it not accepted yet. After C/R every socket shows
 * the same pid, uid and gid as before (restore makes them as root), and
 * the pending client is accepted with the same credentials.
 */
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "zdtmtst.h"

#define NR 7

static struct ucred peercred(int sk)
{
	struct ucred u = { 0, (uid_t)-1, (gid_t)-1 };
	socklen_t l = sizeof(u);

	if (getsockopt(sk, SOL_SOCKET, SO_PEERCRED, &u, &l))
		fail("SO_PEERCRED");
	return u;
}

int main(int argc, char **argv)
{
	static const char *names[NR] = { "stream pair 0", "stream pair 1", "seqpacket pair 0", "seqpacket pair 1",
					 "listener", "client", "accepted" };
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct ucred before[NR], now, acc;
	int sk[NR], pending, p;

	test_init(argc, argv);
	test_path(a.sun_path, sizeof(a.sun_path), "sock");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sk) || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sk + 2))
		test_bug("socketpair");
	sk[4] = socket(AF_UNIX, SOCK_STREAM, 0);
	sk[5] = socket(AF_UNIX, SOCK_STREAM, 0);
	pending = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(sk[4], (struct sockaddr *)&a, sizeof(a)) || listen(sk[4], 4) ||
	    connect(sk[5], (struct sockaddr *)&a, sizeof(a)))
		test_bug("listen/connect");
	sk[6] = accept(sk[4], NULL, NULL);
	if (sk[6] < 0 || connect(pending, (struct sockaddr *)&a, sizeof(a)))
		test_bug("accept/connect");
	for (int i = 0; i < NR; i++) {
		before[i] = peercred(sk[i]);
		if (before[i].pid != getpid() || before[i].uid != geteuid() || before[i].gid != getegid())
			test_bug("%s: peer %d/%u/%u", names[i], before[i].pid, before[i].uid, before[i].gid);
	}

	test_daemon();
	test_waitsig();

	for (int i = 0; i < NR; i++) {
		now = peercred(sk[i]);
		if (now.pid != before[i].pid || now.uid != before[i].uid || now.gid != before[i].gid)
			failv("%s: SO_PEERCRED pid %d uid %u gid %u, was %d %u %u", names[i], now.pid, now.uid,
			      now.gid, before[i].pid, before[i].uid, before[i].gid);
	}
	p = accept(sk[4], NULL, NULL);
	if (p < 0) {
		fail("accept of the pending client");
	} else {
		acc = peercred(p);
		now = peercred(pending);
		if (now.uid != geteuid() || now.gid != getegid())
			failv("pending client: the listener's credentials %u %u", now.uid, now.gid);
		test_msg("pending connection: uid %u gid %u pid %d\n", acc.uid, acc.gid, acc.pid);
	}
	if (test_failures)
		return 1;
	pass();
	return 0;
}
