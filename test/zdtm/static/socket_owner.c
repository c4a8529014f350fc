// SPDX-License-Identifier: GPL-2.0-only
/*
 * The owner of sockets (fstat; the kernel's sk_uid, which SO_REUSEPORT
 * groups, uid routing rules and owner matches go by), run as nobody: a
 * TCP listener and a UDP socket of each family with SO_REUSEPORT, a
 * connection, a netlink and a unix socket. After C/R every socket is still
 * the test's (restore makes them as root), and new sockets of the test
 * join the SO_REUSEPORT groups (a group takes only its owner's sockets:
 * EADDRINUSE otherwise).
 */
#include <errno.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

#define NR 8

static int reuseport_sk(int family, int type, uint16_t port)
{
	struct sockaddr_storage a;
	socklen_t l = zdtm_loopback(family, 0, port, &a);
	int sk = socket(family, type, 0), one = 1;

	if (sk < 0 || setsockopt(sk, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(sk, (struct sockaddr *)&a, l) || (type == SOCK_STREAM && listen(sk, 4))) {
		if (sk >= 0)
			close(sk);
		return -1;
	}
	return sk;
}

int main(int argc, char **argv)
{
	static const char *names[NR] = { "TCP listener", "UDP socket", "TCP6 listener", "UDP6 socket",
					 "TCP client", "TCP server", "netlink socket", "unix socket" };
	struct stat st;
	int sk[NR];

	test_init(argc, argv);
	sk[0] = reuseport_sk(AF_INET, SOCK_STREAM, 0);
	sk[1] = reuseport_sk(AF_INET, SOCK_DGRAM, 0);
	sk[2] = reuseport_sk(AF_INET6, SOCK_STREAM, 0);
	sk[3] = reuseport_sk(AF_INET6, SOCK_DGRAM, 0);
	if (zdtm_tcp_pair(AF_INET, 0, &sk[4], &sk[5]))
		test_bug("pair");
	sk[6] = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	sk[7] = socket(AF_UNIX, SOCK_STREAM, 0);
	for (int i = 0; i < NR; i++)
		if (sk[i] < 0 || fstat(sk[i], &st) || st.st_uid != geteuid() || st.st_gid != getegid())
			test_bug("%s", names[i]);

	test_daemon();
	test_waitsig();

	for (int i = 0; i < NR; i++) {
		if (fstat(sk[i], &st))
			fail("fstat");
		else if (st.st_uid != geteuid() || st.st_gid != getegid())
			failv("%s: owned by %u:%u, not %u:%u", names[i], st.st_uid, st.st_gid, geteuid(), getegid());
	}
	for (int i = 0; i < 4; i++) {
		int n = reuseport_sk(i < 2 ? AF_INET : AF_INET6, i % 2 ? SOCK_DGRAM : SOCK_STREAM, zdtm_port(sk[i]));

		if (n < 0)
			failv("%s: a new socket can't join its SO_REUSEPORT group: %s", names[i], strerror(errno));
		close(n);
	}
	if (test_failures)
		return 1;
	pass();
	return 0;
}
