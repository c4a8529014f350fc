// SPDX-License-Identifier: GPL-2.0-only
/*
 * Packet sockets without rings (root: CAP_NET_RAW):
 *  - s1: SOCK_RAW bound to lo for protocol 0x88B6, with PACKET_AUXDATA,
 *    ORIGDEV, TIMESTAMP, QDISC_BYPASS, IGNORE_OUTGOING, RESERVE and
 *    COPY_THRESH set, SO_RCVBUF, a classic BPF filter taking frames whose
 *    first payload byte is 'A' (and the test's tag: every frame carries
 *    one, so that other runs' frames on lo don't count), and memberships
 *    on lo: PROMISC twice, ALLMULTI once;
 *  - s2 (SOCK_DGRAM) and s3 (SOCK_RAW, PACKET_VNET_HDR_SZ 12) in one fanout
 *    group (hash, with the rollover and defrag flags), bound to lo for
 *    0x88B7;
 *  - s4: SOCK_PACKET (the old interface) bound to "lo" for 0x88B8;
 *  - s5: SOCK_RAW for protocol 0, TPACKET_V2, PACKET_LOSS, bound nowhere.
 * After restore: addresses, options, fanout (with its flags), filter and
 * memberships (two promiscuous ones, one allmulti, as packet_diag counts
 * them) read back the same,
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
#include <linux/netlink.h>
#include <linux/packet_diag.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

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

static uint32_t tag;	/* in every frame of this test, at payload byte 8: other runs' frames don't count */

/* How many times socket @sk joined membership @type on lo, from packet_diag; -1 on errors. */
static int mc_count(int sk, int type)
{
	struct {
		struct nlmsghdr h;
		struct packet_diag_req r;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.r = { .sdiag_family = AF_PACKET, .pdiag_show = PACKET_SHOW_MCLIST },
	};
	static char buf[65536];
	int nl = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_SOCK_DIAG), count = -1, done = 0;
	struct stat st;

	if (nl < 0 || fstat(sk, &st) || send(nl, &req, sizeof(req), 0) != sizeof(req))
		goto out;
	while (!done) {
		ssize_t n = recv(nl, buf, sizeof(buf), 0);

		if (n <= 0)
			break;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			struct packet_diag_msg *m = NLMSG_DATA(h);
			int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));

			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
				done = 1;
				break;
			}
			if (m->pdiag_ino != st.st_ino)
				continue;
			count = 0;
			for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
				struct packet_diag_mclist *mc = RTA_DATA(a);

				if (a->rta_type != PACKET_DIAG_MCLIST)
					continue;
				for (size_t i = 0; i < RTA_PAYLOAD(a) / sizeof(*mc); i++)
					if (mc[i].pdmc_index == (uint32_t)lo && mc[i].pdmc_type == type)
						count += mc[i].pdmc_count;
			}
		}
	}
out:
	if (nl >= 0)
		close(nl);
	return count;
}

/* Take only our frames whose first payload byte is @c (or any, if 0) at @off (the payload). */
static void tag_filter(int sk, int off, char c)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, off),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, c, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, off + 8),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, tag, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = 6, .filter = code };

	if (!c) {
		/* no byte check: jump straight to the tag */
		code[0] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, off + 8);
		code[1] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, tag, 2, 3);
	}
	if (setsockopt(sk, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)))
		test_bug("SO_ATTACH_FILTER");
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

	uint32_t t = htonl(tag);

	memset(payload, c, sizeof(payload));
	memcpy(payload + 8, &t, 4);
	if (sendto(tx, payload, sizeof(payload), 0, (struct sockaddr *)&to, sizeof(to)) != sizeof(payload))
		fail("sending a frame");
}

/*
 * How many of our frames @sk has within @ms (the payload at @off of what
 * recv gives); the first payload byte of each in @first (if not NULL).
 */
static int drain(int sk, int off, int ms, char *first, int max, int *aux)
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
		{
			uint32_t t;

			if (r < off + 12)
				continue;
			memcpy(&t, buf + off + 8, 4);
			if (ntohl(t) != tag)
				continue;	/* another run's */
			if (first && n < max)
				first[n] = buf[off];
		}
		n++;
	}
}

int main(int argc, char **argv)
{
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
	if (setsockopt(s1, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)))
		test_bug("s1 socket options");
	tag = getpid();
	tag_filter(s1, ETH_HLEN, 'A');
	pk_bind(s1, lo, P1);
	if (membership(s1, 1, PACKET_MR_PROMISC) || membership(s1, 1, PACKET_MR_PROMISC) ||
	    membership(s1, 1, PACKET_MR_ALLMULTI))
		test_bug("memberships");

	s2 = pk_socket(SOCK_DGRAM, 0);
	s3 = pk_socket(SOCK_RAW, 0);
	seti(s3, PACKET_VNET_HDR_SZ, 12);
	tag_filter(s2, 0, 0);
	tag_filter(s3, ETH_HLEN, 0);
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
	if (drain(s5, ETH_HLEN, 200, NULL, 0, NULL))	/* a moment for lo to deliver it */
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
	if (getsockopt(s1, SOL_SOCKET, SO_GET_FILTER, NULL, &len) || len != 6)
		failv("s1: a filter of %u instructions", len);
	if (mc_count(s1, PACKET_MR_PROMISC) != 2 || mc_count(s1, PACKET_MR_ALLMULTI) != 1)
		failv("s1 has %d promiscuous and %d allmulti memberships, want 2 and 1", mc_count(s1, PACKET_MR_PROMISC),
		      mc_count(s1, PACKET_MR_ALLMULTI));
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
	n = drain(s1, ETH_HLEN, 500, first, 8, &aux);
	if (n != 2 || first[0] != 'A' || first[1] != 'A' || aux != 2)
		failv("s1 took %d frames (%d with auxdata), want the 2 'A' ones", n, aux);
	for (int i = 0; i < 5; i++)
		send_frame(tx, P2, 'C');
	n = drain(s2, 0, 500, NULL, 0, NULL) + drain(s3, 12 + ETH_HLEN, 100, NULL, 0, NULL);
	if (n != 5)
		failv("the fanout group took %d frames, want 5", n);
	send_frame(tx, P4, 'D');
	n = drain(s4, ETH_HLEN, 500, NULL, 0, NULL);
	if (n != 1)
		failv("s4 took %d frames, want 1", n);
	if (drain(s5, ETH_HLEN, 100, NULL, 0, NULL))
		fail("s5 took frames");

	if (test_failures)
		return 1;
	pass();
	return 0;
}
