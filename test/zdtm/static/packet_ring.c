// SPDX-License-Identifier: GPL-2.0-only
/*
 * A packet socket with a receive and a transmit ring mapped in one area
 * (root: CAP_NET_RAW), TPACKET_V1, V2 or V3 (the first argument; the
 * variants packet_ring_v1, packet_ring_v3 run the others), bound to lo.
 *  - receive, V3 with "full" (packet_ring_v3_full): blocks 2, 3 and 0 got
 *    a frame each after that, and the kernel is frozen at block 1, all
 *    four the task's.
 *  - receive, V1/V2: ten frames came, the task took six: four wait in
 *    frames 6-9; with "consumed" (packet_ring_consumed) it took all ten,
 *    nothing shows where the kernel is (criu probes); with "full"
 *    (packet_ring_full) twelve more came and fill the ring: the kernel
 *    waits at frame 6 (criu goes by the frames' times). packet_ring_leave
 *    dumps the "consumed" state with -R: the probing leaves the rings
 *    as they were. V3: two blocks came, the task took the first: the second
 *    waits with its two frames; the kernel fills block 2 next.
 *  - transmit: frames 0-4 were sent; frames 5 and 6 ask to be sent, but
 *    no send() came yet; frame 7 is written but not asked for yet.
 * After restore the area is at the same address (the runner compares the
 * maps) and is the new socket's ring: the waiting frames are there as
 * they were; new frames land where the kernel would have put them (right
 * after the waiting ones; block 2); a send() sends frames 5 and 6, then frame 7 once it is
 * asked for. Each would fail if the kernel's cursors started at 0 again.
 */
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>

#include "zdtmtst.h"

#define P_RX	0x88B9
#define P_TX	0x88BA
#define BLOCK	8192
#define NBLOCKS	4
#define FRAME	2048
#define NFRAMES	(BLOCK / FRAME * NBLOCKS)

static int version, lo, dgram;
static uint32_t tag;	/* in every frame of this test, at payload byte 8: other runs' frames are filtered out */

/* Take only frames with our tag at @off (payload + 8). */
static void tag_filter(int sk, int off)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, off),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, tag, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = 4, .filter = code };

	if (setsockopt(sk, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)))
		test_bug("SO_ATTACH_FILTER");
}

static void put_tag(char *payload)
{
	uint32_t t = htonl(tag);

	memcpy(payload + 8, &t, 4);
}
static uint8_t *rx, *tx;

static uint8_t *frame(uint8_t *ring, int i)
{
	return ring + (i / (BLOCK / FRAME)) * BLOCK + (i % (BLOCK / FRAME)) * FRAME;
}

static volatile uint32_t *rx_status(int i)
{
	if (version == TPACKET_V3)
		return &((struct tpacket_block_desc *)(rx + i * BLOCK))->hdr.bh1.block_status;
	return (volatile uint32_t *)frame(rx, i);	/* V1's is an unsigned long: its low half */
}

static void rx_release(int i)
{
	if (version == TPACKET_V1)
		*(volatile unsigned long *)frame(rx, i) = TP_STATUS_KERNEL;
	else
		*rx_status(i) = TP_STATUS_KERNEL;
}

static volatile uint32_t *tx_status(int i)
{
	uint8_t *f = frame(tx, i);

	if (version == TPACKET_V3)
		return &((struct tpacket3_hdr *)f)->tp_status;
	return (volatile uint32_t *)f;
}

/* The payload (after the Ethernet header) of a V1/V2 frame. */
static const char *rx_payload(int i)
{
	uint8_t *f = frame(rx, i);
	int mac = version == TPACKET_V1 ? ((struct tpacket_hdr *)f)->tp_mac : ((struct tpacket2_hdr *)f)->tp_mac;
	int net = version == TPACKET_V1 ? ((struct tpacket_hdr *)f)->tp_net : ((struct tpacket2_hdr *)f)->tp_net;

	return (const char *)f + (dgram ? net : mac + ETH_HLEN);
}

static int wait_for(volatile uint32_t *st, int set)
{
	for (int i = 0; i < 3000; i++) {
		if (!!(*st) == set)
			return 0;
		usleep(1000);
	}
	return -1;
}

static void send_rx(int snd, int n)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = lo, .sll_protocol = htons(P_RX),
				  .sll_halen = ETH_ALEN };
	char payload[46] = {};

	snprintf(payload, sizeof(payload), "rx-%02d", n);
	put_tag(payload);
	if (sendto(snd, payload, sizeof(payload), 0, (struct sockaddr *)&to, sizeof(to)) != sizeof(payload))
		fail("sending frame %d", n);
}

enum { MODE_WAITING, MODE_CONSUMED, MODE_FULL };
static int mode, cur, pend, seq;

/* @n more frames (rx-seq...), landing after the pending ones. */
static void rx_fill(int snd, int n)
{
	for (int i = 0; i < n; i++)
		send_rx(snd, seq++);
	pend += n;
	if (wait_for(rx_status((cur + pend - 1) % NFRAMES), 1))
		fail("frames did not arrive");
}

/* Take @n frames at the task's cursor, each with the next number. 0 if all were right. */
static int rx_take(int n)
{
	int bad = 0;

	for (int i = 0; i < n; i++) {
		int want = seq - pend;

		if (!*rx_status(cur) || strncmp(rx_payload(cur), "rx-", 3) || atoi(rx_payload(cur) + 3) != want) {
			failv("frame %d is '%.5s' (status %x), want rx-%02d", cur, rx_payload(cur), *rx_status(cur), want);
			bad = 1;
		}
		rx_release(cur);
		cur = (cur + 1) % NFRAMES;
		pend--;
	}
	return bad;
}

/* Check the frames of V3 block @b: @n of them, rx-@first on. Returns 0 if right. */
static int check_block(int b, int first, int n)
{
	struct tpacket_block_desc *bd = (struct tpacket_block_desc *)(rx + b * BLOCK);
	uint8_t *p = (uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt;
	char want[8];

	if ((int)bd->hdr.bh1.num_pkts != n) {
		failv("block %d has %u frames, want %d", b, bd->hdr.bh1.num_pkts, n);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct tpacket3_hdr *h = (struct tpacket3_hdr *)p;

		char *data = (char *)p + (dgram ? h->tp_net : h->tp_mac + ETH_HLEN);

		snprintf(want, sizeof(want), "rx-%02d", first + i);
		if (strncmp(data, want, 5)) {
			failv("block %d frame %d is '%.5s', want %s", b, i, data, want);
			return -1;
		}
		p += h->tp_next_offset;
	}
	return 0;
}

static void tx_ask(int i)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
	if (version == TPACKET_V1)
		*(volatile unsigned long *)frame(tx, i) = TP_STATUS_SEND_REQUEST;
	else
		*tx_status(i) = TP_STATUS_SEND_REQUEST;
}

/* A frame written, not yet asked to be sent. */
static void tx_fill(int i)
{
	uint8_t *f = frame(tx, i);
	size_t off = TPACKET_ALIGN(version == TPACKET_V1 ? sizeof(struct tpacket_hdr) :
				   version == TPACKET_V2 ? sizeof(struct tpacket2_hdr) : sizeof(struct tpacket3_hdr));
	struct ethhdr *eh = (struct ethhdr *)(f + off);
	int len = dgram ? 46 : ETH_HLEN + 46;

	memset(f + off, 0, len);
	if (dgram) {
		snprintf((char *)(f + off), 46, "tx-%02d", i);
		put_tag((char *)(f + off));
	} else {
		eh->h_proto = htons(P_TX);
		snprintf((char *)(eh + 1), 46, "tx-%02d", i);
		put_tag((char *)(eh + 1));
	}
	if (version == TPACKET_V1)
		((struct tpacket_hdr *)f)->tp_len = len;
	else if (version == TPACKET_V2)
		((struct tpacket2_hdr *)f)->tp_len = len;
	else
		((struct tpacket3_hdr *)f)->tp_len = len;
}

static void tx_write(int i)
{
	tx_fill(i);
	tx_ask(i);
}

/* Send what the transmit ring asks to (a dgram socket needs the address). */
static int tx_send(int sk)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = lo, .sll_protocol = htons(P_TX),
				  .sll_halen = ETH_ALEN };

	if (!dgram)
		return send(sk, NULL, 0, 0);
	return sendto(sk, NULL, 0, 0, (struct sockaddr *)&to, sizeof(to));
}

/* The tx-NN numbers of the frames @sk got, in order, up to @max; how many. */
static int got_tx(int sk, int *nums, int max)
{
	int n = 0;
	char buf[128];

	while (n < max) {
		struct pollfd p = { .fd = sk, .events = POLLIN };

		if (poll(&p, 1, 1000) != 1)
			break;
		if (recv(sk, buf, sizeof(buf), 0) < 5 || strncmp(buf, "tx-", 3))
			continue;
		nums[n++] = atoi(buf + 3);
	}
	return n;
}

int main(int argc, char **argv)
{
	struct tpacket_req3 req = { .tp_block_size = BLOCK, .tp_block_nr = NBLOCKS, .tp_frame_size = FRAME,
				    .tp_frame_nr = NFRAMES };
	struct sockaddr_ll ll = { .sll_family = AF_PACKET };
	int sk, snd, rcv, nums[8], n;
	size_t rlen;

	test_init(argc, argv);
	version = test_argc > 1 ? atoi(test_argv[1]) - 1 : TPACKET_V2;
	dgram = test_argc > 2 && !strcmp(test_argv[2], "dgram");
	mode = test_argc > 2 && !strcmp(test_argv[2], "consumed") ? MODE_CONSUMED :
	       test_argc > 2 && !strcmp(test_argv[2], "full") ? MODE_FULL : MODE_WAITING;
	lo = if_nametoindex("lo");
	rlen = version == TPACKET_V3 ? sizeof(struct tpacket_req3) : sizeof(struct tpacket_req);

	sk = socket(AF_PACKET, dgram ? SOCK_DGRAM : SOCK_RAW, 0);
	snd = socket(AF_PACKET, SOCK_DGRAM, 0);
	rcv = socket(AF_PACKET, SOCK_DGRAM, 0);
	if (sk < 0 || snd < 0 || rcv < 0)
		test_bug("packet sockets");
	if (setsockopt(sk, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)))
		test_bug("PACKET_VERSION");
	n = 32;
	if (dgram && setsockopt(sk, SOL_PACKET, PACKET_RESERVE, &n, sizeof(n)))
		test_bug("PACKET_RESERVE");
	if (version == TPACKET_V3)
		req.tp_retire_blk_tov = 10;
	if (setsockopt(sk, SOL_PACKET, PACKET_RX_RING, &req, rlen))
		test_bug("PACKET_RX_RING");
	req.tp_retire_blk_tov = 0;
	if (setsockopt(sk, SOL_PACKET, PACKET_TX_RING, &req, rlen))
		test_bug("PACKET_TX_RING");
	rx = mmap(NULL, 2 * BLOCK * NBLOCKS, PROT_READ | PROT_WRITE, MAP_SHARED, sk, 0);
	if (rx == MAP_FAILED)
		test_bug("mmap");
	tx = rx + BLOCK * NBLOCKS;
	ll.sll_ifindex = lo;
	ll.sll_protocol = htons(P_RX);
	tag = getpid();
	tag_filter(sk, dgram ? 8 : ETH_HLEN + 8);
	tag_filter(rcv, 8);
	if (bind(sk, (struct sockaddr *)&ll, sizeof(ll)))
		test_bug("bind");
	ll.sll_protocol = htons(P_TX);
	if (bind(rcv, (struct sockaddr *)&ll, sizeof(ll)))
		test_bug("bind the receiver");

	if (version == TPACKET_V3) {
		for (int i = 0; i < 3; i++)
			send_rx(snd, i);
		if (wait_for(rx_status(0), 1))
			test_bug("block 0 not handed over");
		for (int i = 3; i < 5; i++)
			send_rx(snd, i);
		if (wait_for(rx_status(1), 1) || check_block(0, 0, 3))
			test_bug("block 1 not handed over");
		rx_release(0);
		if (mode == MODE_FULL) {
			/* blocks 2, 3 and 0 get a frame each; the kernel then freezes at block 1 */
			for (int i = 0; i < 3; i++) {
				send_rx(snd, 5 + i);
				if (wait_for(rx_status((2 + i) % NBLOCKS), 1))
					test_bug("block %d not handed over", (2 + i) % NBLOCKS);
			}
		}
	} else {
		/* frame f carries rx-(seq of f); the task reads at cur, pend frames wait */
		rx_fill(snd, 10);
		rx_take(mode == MODE_CONSUMED ? 10 : 6);
		if (mode == MODE_FULL)
			rx_fill(snd, NFRAMES - pend);
	}
	for (int i = 0; i < 5; i++)
		tx_write(i);
	if (tx_send(sk) < 0 || wait_for(tx_status(4), 0) || got_tx(rcv, nums, 8) != 5)
		test_bug("sending frames 0-4");
	tx_write(5);
	tx_write(6);
	tx_fill(7);

	test_daemon();
	test_waitsig();

	if (version == TPACKET_V3 && mode == MODE_FULL) {
		if (!*rx_status(1) || check_block(1, 3, 2))
			fail("block 1 lost its frames");
		for (int i = 0; i < 3; i++)
			if (!*rx_status((2 + i) % NBLOCKS) || check_block((2 + i) % NBLOCKS, 5 + i, 1))
				failv("block %d lost its frame", (2 + i) % NBLOCKS);
		for (int i = 1; i < 1 + NBLOCKS; i++)
			rx_release(i % NBLOCKS);
		send_rx(snd, 8);
		send_rx(snd, 9);
		if (wait_for(rx_status(1), 1))
			fail("new frames did not fill block 1, where the kernel was frozen");
		else
			check_block(1, 8, 2);
	} else if (version == TPACKET_V3) {
		if (!*rx_status(1) || check_block(1, 3, 2))
			fail("block 1 lost its frames");
		rx_release(1);
		send_rx(snd, 5);
		send_rx(snd, 6);
		if (wait_for(rx_status(2), 1))
			fail("new frames did not fill block 2");
		else
			check_block(2, 5, 2);
		if (*rx_status(0) || *rx_status(3))
			fail("blocks 0 or 3 were filled");
	} else {
		int at;

		if (rx_take(pend))
			fail("frames waiting in the ring were lost or changed");
		at = cur;
		rx_fill(snd, 3);
		for (int i = 0; i < 3; i++)
			if (!*rx_status((at + i) % NFRAMES))
				failv("new frame %d did not land at %d, after the old ones", seq - 3 + i, (at + i) % NFRAMES);
		if (rx_take(3))
			fail("new frames are not where they should be");
		for (int i = 0; i < NFRAMES; i++)
			if (*rx_status(i))
				failv("frame %d was filled too", i);
	}
	if (tx_send(sk) < 0 || wait_for(tx_status(6), 0))
		fail("frames 5 and 6 were not sent");
	tx_ask(7);
	if (tx_send(sk) < 0 || wait_for(tx_status(7), 0))
		fail("frame 7 was not sent");
	n = got_tx(rcv, nums, 8);
	if (n != 3 || nums[0] != 5 || nums[1] != 6 || nums[2] != 7)
		failv("the receiver got %d frames (%d %d %d), want 5 6 7", n, nums[0], nums[1], nums[2]);

	if (test_failures)
		return 1;
	pass();
	return 0;
}
