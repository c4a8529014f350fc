// SPDX-License-Identifier: GPL-2.0-only
/*
 * Socket options on inet sockets: a TCP listener, both ends of a TCP
 * connection, a UDP socket of each family. Every option below is set to a
 * value other than the default before the dump and must read back the same
 * after restore (getsockopt, byte for byte): SO_KEEPALIVE with
 * TCP_KEEPIDLE/INTVL/CNT, SO_LINGER, SO_PRIORITY, SO_MARK (root),
 * SO_RCVBUF/SO_SNDBUF (and SO_RCVBUFFORCE past the limit, root),
 * SO_RCVLOWAT, SO_RCVTIMEO/SNDTIMEO, SO_BINDTODEVICE, SO_BROADCAST,
 * SO_OOBINLINE, SO_TIMESTAMP, SO_TIMESTAMPNS, SO_TIMESTAMPING,
 * IP_FREEBIND, IPV6_FREEBIND, IP_TOS, IP_TTL, IPV6_V6ONLY, IP_PKTINFO,
 * IPV6_RECVPKTINFO, IPV6_TCLASS, TCP_NODELAY, TCP_CORK, TCP_USER_TIMEOUT,
 * TCP_CONGESTION, TCP_NOTSENT_LOWAT, TCP_DEFER_ACCEPT, TCP_MAXSEG (user
 * MSS of a listener), multicast TTL, loop and interface, multicast
 * memberships (any source, and source-specific) and classic BPF socket
 * filters (on the TCP server too, as root: the kernel lets only the
 * privileged filter TCP sockets), one locked with SO_LOCK_FILTER (which
 * then can't be detached); the IPv6 ancillary data flags IPV6_RECVHOPOPTS,
 * RECVRTHDR, RECVDSTOPTS, RECVPATHMTU and the RFC 2292 ones, TCP_RTO_MAX_MS,
 * TCP_RTO_MIN_US (also of a listener), TCP_DELACK_MAX_US, SO_TXREHASH and
 * SO_PREFER_BUSY_POLL (root).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/net_tstamp.h>
#include <net/if.h>
#include <string.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

#ifndef SO_BUF_LOCK
#define SO_BUF_LOCK 72
#endif
#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_TXREHASH
#define SO_TXREHASH 74
#endif
#ifndef IPV6_RECVPATHMTU
#define IPV6_RECVPATHMTU 60
#endif
#ifndef TCP_RTO_MAX_MS
#define TCP_RTO_MAX_MS 44
#endif
#ifndef TCP_RTO_MIN_US
#define TCP_RTO_MIN_US 45
#endif
#ifndef TCP_DELACK_MAX_US
#define TCP_DELACK_MAX_US 46
#endif

enum { L, C, S, U, U6, NSK };
static const char *const skname[NSK] = { "listener", "client", "server", "UDP", "UDPv6" };
static int sk[NSK];

struct opt {
	int s, level, name, size;
	const char *str;
	uint8_t before[64];
	socklen_t blen;
};

#define O(s, l, n, sz) { s, l, n, sz, #n }
static struct opt opts[] = {
	O(C, SOL_SOCKET, SO_KEEPALIVE, 4), O(C, SOL_TCP, TCP_KEEPIDLE, 4), O(C, SOL_TCP, TCP_KEEPINTVL, 4),
	O(C, SOL_TCP, TCP_KEEPCNT, 4), O(C, SOL_SOCKET, SO_LINGER, 8), O(U, SOL_SOCKET, SO_PRIORITY, 4),
	O(U, SOL_SOCKET, SO_MARK, 4), O(U, SOL_SOCKET, SO_RCVBUF, 4), O(U, SOL_SOCKET, SO_SNDBUF, 4),
	O(U, SOL_SOCKET, SO_BUF_LOCK, 4), O(U6, SOL_SOCKET, SO_RCVBUF, 4), O(C, SOL_SOCKET, SO_SNDBUF, 4),
	O(C, SOL_SOCKET, SO_BUF_LOCK, 4), O(S, SOL_SOCKET, SO_BUF_LOCK, 4),
	O(S, SOL_SOCKET, SO_RCVLOWAT, 4), O(U, SOL_SOCKET, SO_RCVTIMEO, 16), O(U, SOL_SOCKET, SO_SNDTIMEO, 16),
	O(U6, SOL_SOCKET, SO_BINDTODEVICE, 16), O(U, SOL_SOCKET, SO_BROADCAST, 4),
	O(S, SOL_SOCKET, SO_OOBINLINE, 4), O(U, SOL_SOCKET, SO_TIMESTAMP, 4),
	O(U6, SOL_SOCKET, SO_TIMESTAMPNS, 4), O(C, SOL_SOCKET, SO_TIMESTAMPING, 4),
	O(U, SOL_IP, IP_FREEBIND, 4), O(U6, SOL_IPV6, IPV6_FREEBIND, 4), O(C, SOL_IP, IP_TOS, 4),
	O(U, SOL_IP, IP_TTL, 4), O(U6, SOL_IPV6, IPV6_V6ONLY, 4), O(U, SOL_IP, IP_PKTINFO, 4),
	O(U6, SOL_IPV6, IPV6_RECVPKTINFO, 4), O(U6, SOL_IPV6, IPV6_TCLASS, 4), O(C, SOL_TCP, TCP_NODELAY, 4),
	O(S, SOL_TCP, TCP_CORK, 4), O(C, SOL_TCP, TCP_USER_TIMEOUT, 4), O(C, SOL_TCP, TCP_CONGESTION, 16),
	O(C, SOL_TCP, TCP_NOTSENT_LOWAT, 4), O(L, SOL_TCP, TCP_DEFER_ACCEPT, 4), O(L, SOL_TCP, TCP_MAXSEG, 4),
	O(L, SOL_TCP, TCP_CONGESTION, 16), O(U, SOL_IP, IP_MULTICAST_TTL, 4), O(U, SOL_IP, IP_MULTICAST_LOOP, 4),
	O(U, SOL_IP, IP_MULTICAST_IF, 4), O(U, SOL_SOCKET, SO_LOCK_FILTER, 4), O(S, SOL_SOCKET, SO_LOCK_FILTER, 4),
	O(U6, SOL_IPV6, IPV6_UNICAST_HOPS, 4), O(U6, SOL_IPV6, IPV6_RECVHOPOPTS, 4),
	O(U6, SOL_IPV6, IPV6_RECVRTHDR, 4), O(U6, SOL_IPV6, IPV6_RECVDSTOPTS, 4), O(U6, SOL_IPV6, IPV6_RECVPATHMTU, 4),
	O(U6, SOL_IPV6, IPV6_2292PKTINFO, 4), O(U6, SOL_IPV6, IPV6_2292HOPLIMIT, 4),
	O(U6, SOL_IPV6, IPV6_2292HOPOPTS, 4), O(U6, SOL_IPV6, IPV6_2292DSTOPTS, 4), O(U6, SOL_IPV6, IPV6_2292RTHDR, 4),
	O(C, SOL_TCP, TCP_RTO_MAX_MS, 4), O(C, SOL_TCP, TCP_RTO_MIN_US, 4), O(C, SOL_TCP, TCP_DELACK_MAX_US, 4),
	O(L, SOL_TCP, TCP_RTO_MIN_US, 4), O(C, SOL_SOCKET, SO_TXREHASH, 4), O(U, SOL_SOCKET, SO_PREFER_BUSY_POLL, 4),
};
#define NOPT (int)(sizeof(opts) / sizeof(opts[0]))

static void set(int s, int level, int name, const void *val, socklen_t len, const char *what)
{
	if (setsockopt(sk[s], level, name, val, len))
		test_bug("setting %s on the %s", what, skname[s]);
}
#define SETI(s, l, n, v) set(s, l, n, &(int){ v }, sizeof(int), #n)

static struct sock_filter prog_u[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
	BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 1000, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, 0),
	BPF_STMT(BPF_RET | BPF_K, 0xffff),
};
static struct sock_filter prog_s[] = {
	BPF_STMT(BPF_RET | BPF_K, 0x40000),
};

/* The filter reads back (SO_GET_FILTER) as it was attached. */
static void check_filter(int s, struct sock_filter *p, int n)
{
	struct sock_filter got[16];
	socklen_t len = 16;

	if (getsockopt(sk[s], SOL_SOCKET, SO_GET_FILTER, got, &len) || (int)len != n ||
	    memcmp(got, p, n * sizeof(*p)))
		failv("the %s has another socket filter (%u instructions)", skname[s], len);
}

static int mc_joined(const char *group, const char *source)
{
	char buf[sizeof(struct group_filter) + 4 * sizeof(struct sockaddr_storage)];
	struct group_filter *gf = (void *)buf;
	socklen_t len = sizeof(buf);
	struct sockaddr_in *g = (void *)&gf->gf_group;

	memset(buf, 0, sizeof(buf));
	gf->gf_interface = if_nametoindex("lo");
	gf->gf_numsrc = 4;
	g->sin_family = AF_INET;
	inet_pton(AF_INET, group, &g->sin_addr);
	if (getsockopt(sk[U], SOL_IP, MCAST_MSFILTER, gf, &len))
		return 0;
	if (!source)
		return gf->gf_fmode == MCAST_EXCLUDE && gf->gf_numsrc == 0;
	return gf->gf_fmode == MCAST_INCLUDE && gf->gf_numsrc == 1 &&
	       ((struct sockaddr_in *)&gf->gf_slist[0])->sin_addr.s_addr == inet_addr(source);
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	struct linger lg = { 1, 9 };
	struct timeval rt = { 3, 500000 }, st = { 1, 250000 };
	struct sock_fprog fu = { 4, prog_u }, fs = { 1, prog_s };
	struct ip_mreqn mr = { .imr_ifindex = 0 };
	struct ip_mreq_source ms = {};
	struct in_addr mcif;
	int root = getuid() == 0;

	test_init(argc, argv);
	sk[L] = socket(AF_INET, SOCK_STREAM, 0);
	SETI(L, SOL_TCP, TCP_MAXSEG, 1000);
	if (bind(sk[L], (struct sockaddr *)&ss, zdtm_loopback(AF_INET, 0, 0, &ss)) || listen(sk[L], 4))
		test_bug("listener");
	set(L, SOL_TCP, TCP_CONGESTION, "reno", 4, "TCP_CONGESTION");
	sk[C] = zdtm_tcp_connect(sk[L], AF_INET, 0);
	sk[S] = accept(sk[L], NULL, NULL);
	if (sk[C] < 0 || sk[S] < 0)
		test_bug("connection");
	/* after the accept: set before, it held the silent connection back for 7 s */
	SETI(L, SOL_TCP, TCP_DEFER_ACCEPT, 5);
	SETI(C, SOL_SOCKET, SO_KEEPALIVE, 1);
	SETI(C, SOL_TCP, TCP_KEEPIDLE, 77);
	SETI(C, SOL_TCP, TCP_KEEPINTVL, 13);
	SETI(C, SOL_TCP, TCP_KEEPCNT, 4);
	set(C, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg), "SO_LINGER");
	SETI(C, SOL_SOCKET, SO_SNDBUF, 300000);
	SETI(C, SOL_SOCKET, SO_TIMESTAMPING, SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE);
	SETI(C, SOL_IP, IP_TOS, 0x10);
	SETI(C, SOL_TCP, TCP_NODELAY, 1);
	SETI(C, SOL_TCP, TCP_USER_TIMEOUT, 12345);
	set(C, SOL_TCP, TCP_CONGESTION, "reno", 4, "TCP_CONGESTION");
	SETI(C, SOL_TCP, TCP_NOTSENT_LOWAT, 77777);
	SETI(S, SOL_SOCKET, SO_RCVLOWAT, 10);
	SETI(S, SOL_SOCKET, SO_OOBINLINE, 1);
	SETI(S, SOL_TCP, TCP_CORK, 1);
	/* on TCP sockets the kernel lets only the privileged attach filters */
	if (root)
		set(S, SOL_SOCKET, SO_ATTACH_FILTER, &fs, sizeof(fs), "SO_ATTACH_FILTER");

	sk[U] = socket(AF_INET, SOCK_DGRAM, 0);
	SETI(U, SOL_IP, IP_FREEBIND, 1);
	if (bind(sk[U], (struct sockaddr *)&ss, zdtm_loopback(AF_INET, 0, 0, &ss)))
		test_bug("bind");
	SETI(U, SOL_SOCKET, SO_PRIORITY, 5);
	if (root)
		SETI(U, SOL_SOCKET, SO_MARK, 0x42);
	SETI(U, SOL_SOCKET, SO_RCVBUF, 100000);
	SETI(U, SOL_SOCKET, SO_SNDBUF, 200000);
	set(U, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof(rt), "SO_RCVTIMEO");
	set(U, SOL_SOCKET, SO_SNDTIMEO, &st, sizeof(st), "SO_SNDTIMEO");
	SETI(U, SOL_SOCKET, SO_BROADCAST, 1);
	SETI(U, SOL_SOCKET, SO_TIMESTAMP, 1);
	SETI(U, SOL_IP, IP_TTL, 33);
	SETI(U, SOL_IP, IP_PKTINFO, 1);
	SETI(U, SOL_IP, IP_MULTICAST_TTL, 5);
	SETI(U, SOL_IP, IP_MULTICAST_LOOP, 0);
	mcif.s_addr = htonl(INADDR_LOOPBACK);
	set(U, SOL_IP, IP_MULTICAST_IF, &mcif, sizeof(mcif), "IP_MULTICAST_IF");
	mr.imr_multiaddr.s_addr = inet_addr("239.1.2.3");
	mr.imr_ifindex = if_nametoindex("lo");
	set(U, SOL_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr), "IP_ADD_MEMBERSHIP");
	ms.imr_multiaddr.s_addr = inet_addr("239.1.2.4");
	ms.imr_interface.s_addr = htonl(INADDR_LOOPBACK);
	ms.imr_sourceaddr.s_addr = inet_addr("127.0.0.9");
	set(U, SOL_IP, IP_ADD_SOURCE_MEMBERSHIP, &ms, sizeof(ms), "IP_ADD_SOURCE_MEMBERSHIP");
	set(U, SOL_SOCKET, SO_ATTACH_FILTER, &fu, sizeof(fu), "SO_ATTACH_FILTER");
	SETI(U, SOL_SOCKET, SO_LOCK_FILTER, 1);
	fcntl(sk[U], F_SETFL, O_NONBLOCK);

	sk[U6] = socket(AF_INET6, SOCK_DGRAM, 0);
	SETI(U6, SOL_IPV6, IPV6_V6ONLY, 1);
	SETI(U6, SOL_IPV6, IPV6_FREEBIND, 1);
	set(U6, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3, "SO_BINDTODEVICE");
	if (bind(sk[U6], (struct sockaddr *)&ss, zdtm_loopback(AF_INET6, 0, 0, &ss)))
		test_bug("bind6");
	SETI(U6, SOL_SOCKET, root ? SO_RCVBUFFORCE : SO_RCVBUF, 8 << 20);
	SETI(U6, SOL_SOCKET, SO_TIMESTAMPNS, 1);
	SETI(U6, SOL_IPV6, IPV6_RECVPKTINFO, 1);
	SETI(U6, SOL_IPV6, IPV6_TCLASS, 0x20);
	SETI(U6, SOL_IPV6, IPV6_UNICAST_HOPS, 17);
	SETI(U6, SOL_IPV6, IPV6_RECVHOPOPTS, 1);
	SETI(U6, SOL_IPV6, IPV6_RECVRTHDR, 1);
	SETI(U6, SOL_IPV6, IPV6_RECVDSTOPTS, 1);
	SETI(U6, SOL_IPV6, IPV6_RECVPATHMTU, 1);
	SETI(U6, SOL_IPV6, IPV6_2292PKTINFO, 1);
	SETI(U6, SOL_IPV6, IPV6_2292HOPLIMIT, 1);
	SETI(U6, SOL_IPV6, IPV6_2292HOPOPTS, 1);
	SETI(U6, SOL_IPV6, IPV6_2292DSTOPTS, 1);
	SETI(U6, SOL_IPV6, IPV6_2292RTHDR, 1);
	SETI(C, SOL_TCP, TCP_RTO_MAX_MS, 5000);
	SETI(C, SOL_TCP, TCP_RTO_MIN_US, 50000);
	SETI(C, SOL_TCP, TCP_DELACK_MAX_US, 20000);
	SETI(L, SOL_TCP, TCP_RTO_MIN_US, 80000);
	SETI(C, SOL_SOCKET, SO_TXREHASH, 0);
	if (root)
		SETI(U, SOL_SOCKET, SO_PREFER_BUSY_POLL, 1);

	for (int i = 0; i < NOPT; i++) {
		opts[i].blen = opts[i].size;
		if (getsockopt(sk[opts[i].s], opts[i].level, opts[i].name, opts[i].before, &opts[i].blen))
			test_bug("reading %s of the %s", opts[i].str, skname[opts[i].s]);
	}

	test_daemon();
	test_waitsig();

	for (int i = 0; i < NOPT; i++) {
		uint8_t now[64];
		socklen_t len = opts[i].size;

		if (getsockopt(sk[opts[i].s], opts[i].level, opts[i].name, now, &len)) {
			fail("reading %s of the %s", opts[i].str, skname[opts[i].s]);
			continue;
		}
		if (len != opts[i].blen || memcmp(now, opts[i].before, len))
			failv("%s of the %s differs (%d, was %d)", opts[i].str, skname[opts[i].s], *(int *)now,
			      *(int *)opts[i].before);
	}
	check_filter(U, prog_u, 4);
	if (root)
		check_filter(S, prog_s, 1);
	if (!setsockopt(sk[U], SOL_SOCKET, SO_DETACH_FILTER, &(int){ 0 }, sizeof(int)) || errno != EPERM)
		fail("the locked filter could be detached");
	if (root && setsockopt(sk[S], SOL_SOCKET, SO_DETACH_FILTER, &(int){ 0 }, sizeof(int)))
		fail("the unlocked filter could not be detached");
	if (!mc_joined("239.1.2.3", NULL) || !mc_joined("239.1.2.4", "127.0.0.9"))
		failv("a multicast membership is lost");
	if (mc_joined("239.1.2.5", NULL))
		failv("a multicast membership too many");
	if (!(fcntl(sk[U], F_GETFL) & O_NONBLOCK))
		failv("O_NONBLOCK lost");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
