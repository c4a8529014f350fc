// SPDX-License-Identifier: GPL-2.0-only
/*
 * Packet sockets without rings (root: CAP_NET_RAW):
 *  - s1: SOCK_RAW bound to lo for protocol 0x88B6, with PACKET_AUXDATA,
 *    ORIGDEV, TIMESTAMP, QDISC_BYPASS, IGNORE_OUTGOING, RESERVE and
 *    COPY_THRESH set, SO_RCVBUF, a classic BPF filter taking frames whose
 *    first payload byte is 'A', and memberships on lo: PROMISC twice,
 *    ALLMULTI once;
 *  - s2 (SOCK_DGRAM) and s3 (SOCK_RAW, PACKET_VNET_HDR_SZ 12) in one fanout
 *    group (hash, with the rollover and defrag flags), bound to lo for
 *    0x88B7;
 *  - s4: SOCK_PACKET (the old interface) bound to "lo" for 0x88B8;
 *  - s5: SOCK_RAW for protocol 0, TPACKET_V2, PACKET_LOSS, bound nowhere.
 * After restore: addresses, options, fanout (with its flags), filter and
 * memberships (lo's IFF_PROMISC and IFF_ALLMULTI go exactly when s1 drops
 * them: two promiscuous ones, one allmulti; this takes nobody else to use
 * lo so meanwhile) read back the same,
 * and frames sent on lo reach the socket they should: s1 takes 'A' frames
 * only, with their auxiliary data (an 'A' frame queued at the dump is
 * gone: packet sockets can't be read past the first frame without taking
 * it, so criu drops their queues with a warning); s2 and s3 together take every 0x88B7
 * frame; s4 its 0x88B8 frames; s5 nothing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "zdtmtst.h"

#ifndef PACKET_VNET_HDR_SZ
#define PACKET_VNET_HDR_SZ 24
#endif
#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define P1 0x88B6
#define P2 0x88B7
#define P4 0x88B8

static const int s1_opts[] = { PACKET_AUXDATA, PACKET_ORIGDEV, PACKET_TIMESTAMP, PACKET_QDISC_BYPASS,
			       PACKET_IGNORE_OUTGOING, PACKET_RESERVE, PACKET_COPY_THRESH };
static const int s1_vals[] = { 1, 1, 3, 1, 1, 64, 1 };

static int lo;

static int pk_socket(int type, int proto)
{
	int sk = socket(AF_PACKET, type, htons(proto));

	if (sk < 0)
		test_bug("socket(AF_PACKET, %d, %x)", type, proto);
	return sk;
}

static void pk_bind(int sk, int ifindex, int proto)
{
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_protocol = htons(proto) };

	if (bind(sk, (struct sockaddr *)&ll, sizeof(ll)))
		test_bug("bind packet socket");
}

static int geti(int sk, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(sk, SOL_PACKET, opt, &v, &len))
		return -12345;
	return v;
}

static void seti(int sk, int opt, int v)
{
	if (setsockopt(sk, SOL_PACKET, opt, &v, sizeof(v)))
		test_bug("packet option %d", opt);
}

static int lo_flags(void)
{
	char buf[32];
	FILE *f = fopen("/sys/class/net/lo/flags", "r");
	int v = -1;

	if (!f || !fgets(buf, sizeof(buf), f))
		test_bug("reading the flags of lo");
	fclose(f);
	v = strtol(buf, NULL, 0);
	return v;
}

static int membership(int sk, int add, int type)
{
	struct packet_mreq mr = { .mr_ifindex = lo, .mr_type = type };

	return setsockopt(sk, SOL_PACKET, add ? PACKET_ADD_MEMBERSHIP : PACKET_DROP_MEMBERSHIP, &mr, sizeof(mr));
}

/* A frame on lo of protocol @proto whose payload starts with @c. */
static void send_frame(int tx, int proto, char c)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = lo, .sll_protocol = htons(proto),
				  .sll_halen = ETH_ALEN };
	char payload[46];

	memset(payload, c, sizeof(payload));
	if (sendto(tx, payload, sizeof(payload), 0, (struct sockaddr *)&to, sizeof(to)) != sizeof(payload))
		fail("sending a frame");
}

/* How many frames @sk has within @ms; the first payload byte of each in @first (if not NULL). */
static int drain(int sk, int ms, char *first, int max, int *aux)
{
	int n = 0;

	for (;;) {
		struct pollfd p = { .fd = sk, .events = POLLIN };
		char buf[2048], ctl[256];
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
		ssize_t r;

		if (poll(&p, 1, ms) != 1)
			return n;
		r = recvmsg(sk, &mh, MSG_DONTWAIT);
		if (r <= 0)
			return n;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); aux && cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_PACKET && cm->cmsg_type == PACKET_AUXDATA)
				(*aux)++;
		if (first && n < max)
			first[n] = r > ETH_HLEN ? buf[ETH_HLEN] : 0;
		n++;
	}
}

int main(int argc, char **argv)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, ETH_HLEN),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 'A', 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = 4, .filter = code };
	int s1, s2, s3, s4, s5, tx, fanout, rcvbuf, n, aux = 0;
	struct sockaddr_ll ll;
	struct sockaddr sa;
	socklen_t len;
	char first[8];

	test_init(argc, argv);
	lo = if_nametoindex("lo");
	if (!lo)
		test_bug("no lo");

	s1 = pk_socket(SOCK_RAW, 0);
	for (size_t i = 0; i < sizeof(s1_opts) / sizeof(s1_opts[0]); i++)
		seti(s1, s1_opts[i], s1_vals[i]);
	rcvbuf = 200000;
	if (setsockopt(s1, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) ||
	    setsockopt(s1, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)))
		test_bug("s1 socket options");
	pk_bind(s1, lo, P1);
	if (membership(s1, 1, PACKET_MR_PROMISC) || membership(s1, 1, PACKET_MR_PROMISC) ||
	    membership(s1, 1, PACKET_MR_ALLMULTI))
		test_bug("memberships");

	s2 = pk_socket(SOCK_DGRAM, 0);
	s3 = pk_socket(SOCK_RAW, 0);
	seti(s3, PACKET_VNET_HDR_SZ, 12);
	pk_bind(s2, lo, P2);
	pk_bind(s3, lo, P2);
	fanout = (getpid() & 0xffff) | (PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_ROLLOVER | PACKET_FANOUT_FLAG_DEFRAG) << 16;
	seti(s2, PACKET_FANOUT, fanout);
	seti(s3, PACKET_FANOUT, fanout);
	fanout = geti(s2, PACKET_FANOUT);

	s4 = pk_socket(SOCK_PACKET, P4);
	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_PACKET;
	strcpy(sa.sa_data, "lo");
	if (bind(s4, &sa, sizeof(sa)))
		test_bug("bind SOCK_PACKET");

	s5 = pk_socket(SOCK_RAW, 0);
	seti(s5, PACKET_VERSION, TPACKET_V2);
	seti(s5, PACKET_LOSS, 1);

	tx = pk_socket(SOCK_DGRAM, 0);
	send_frame(tx, P1, 'A');
	if (drain(s5, 200, NULL, 0, NULL))	/* a moment for lo to deliver it */
		test_bug("s5 took frames");

	test_daemon();
	test_waitsig();

	len = sizeof(ll);
	if (getsockname(s1, (struct sockaddr *)&ll, &len) || ll.sll_ifindex != lo || ll.sll_protocol != htons(P1))
		failv("s1 is bound to %d/%x", ll.sll_ifindex, ntohs(ll.sll_protocol));
	for (size_t i = 0; i < sizeof(s1_opts) / sizeof(s1_opts[0]); i++)
		if (geti(s1, s1_opts[i]) != s1_vals[i])
			failv("s1: option %d is %d, want %d", s1_opts[i], geti(s1, s1_opts[i]), s1_vals[i]);
	len = sizeof(n);
	if (getsockopt(s1, SOL_SOCKET, SO_RCVBUF, &n, &len) || n != 2 * rcvbuf)
		failv("s1: SO_RCVBUF %d", n);
	len = 0;
	if (getsockopt(s1, SOL_SOCKET, SO_GET_FILTER, NULL, &len) || len != 4)
		failv("s1: a filter of %u instructions", len);
	/* the kernel says nothing about drops: the interface's flags show the count (nobody else uses lo so) */
	n = lo_flags();
	membership(s1, 0, PACKET_MR_PROMISC);
	if (!(n & IFF_PROMISC) || !(n & IFF_ALLMULTI) || !(lo_flags() & IFF_PROMISC))
		failv("lo flags %x, then %x: s1 lost memberships", n, lo_flags());
	membership(s1, 0, PACKET_MR_PROMISC);
	membership(s1, 0, PACKET_MR_ALLMULTI);
	if (lo_flags() & (IFF_PROMISC | IFF_ALLMULTI))
		failv("lo flags %x: s1 has more memberships than it had", lo_flags());

	for (int *s = (int[]){ s2, s3 }, i = 0; i < 2; i++) {
		len = sizeof(ll);
		if (getsockname(s[i], (struct sockaddr *)&ll, &len) || ll.sll_ifindex != lo || ll.sll_protocol != htons(P2))
			failv("s%d is bound to %d/%x", i + 2, ll.sll_ifindex, ntohs(ll.sll_protocol));
		if (geti(s[i], PACKET_FANOUT) != fanout)
			failv("s%d: fanout %x, want %x", i + 2, geti(s[i], PACKET_FANOUT), fanout);
	}
	if (geti(s3, PACKET_VNET_HDR_SZ) != 12)
		failv("s3: vnet header size %d", geti(s3, PACKET_VNET_HDR_SZ));
	len = sizeof(sa);
	if (getsockname(s4, &sa, &len) || strcmp(sa.sa_data, "lo"))
		failv("s4 is bound to '%.14s'", sa.sa_data);
	len = sizeof(ll);
	if (getsockname(s5, (struct sockaddr *)&ll, &len) || ll.sll_ifindex != 0 || ll.sll_protocol != 0 ||
	    geti(s5, PACKET_VERSION) != TPACKET_V2 || geti(s5, PACKET_LOSS) != 1)
		failv("s5: bound to %d/%x, version %d, loss %d", ll.sll_ifindex, ntohs(ll.sll_protocol),
		      geti(s5, PACKET_VERSION), geti(s5, PACKET_LOSS));

	send_frame(tx, P1, 'B');
	send_frame(tx, P1, 'A');
	send_frame(tx, P1, 'A');
	n = drain(s1, 500, first, 8, &aux);
	if (n != 2 || first[0] != 'A' || first[1] != 'A' || aux != 2)
		failv("s1 took %d frames (%d with auxdata), want the 2 'A' ones", n, aux);
	for (int i = 0; i < 5; i++)
		send_frame(tx, P2, 'C');
	n = drain(s2, 500, NULL, 0, NULL) + drain(s3, 100, NULL, 0, NULL);
	if (n != 5)
		failv("the fanout group took %d frames, want 5", n);
	send_frame(tx, P4, 'D');
	n = drain(s4, 500, NULL, 0, NULL);
	if (n != 1)
		failv("s4 took %d frames, want 1", n);
	if (drain(s5, 100, NULL, 0, NULL))
		fail("s5 took frames");

	if (test_failures)
		return 1;
	pass();
	return 0;
}
