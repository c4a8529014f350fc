// SPDX-License-Identifier: GPL-2.0-only
/*
 * A packet ring shared across fork (root): the parent made a TPACKET_V2
 * socket with a receive ring, mapped it and forked; the child closed its
 * copy of the fd, so it holds the ring only through its mapping. After
 * restore the child's mapping must be the ring of the parent's restored
 * socket: a frame sent after restore shows in the child's mapping at the
 * frame after the three that came before the dump.
 */
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "zdtmtst.h"

#define P_RX	0x88BB
#define SIZE	(4 * 4096)

static uint32_t tag;	/* at payload byte 8 of every frame: other runs' frames are filtered out */

static void tag_filter(int sk)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ETH_HLEN + 8),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, tag, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = 4, .filter = code };

	if (setsockopt(sk, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)))
		test_bug("SO_ATTACH_FILTER");
}

static void send_frame(int snd, int lo, char c)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = lo, .sll_protocol = htons(P_RX),
				  .sll_halen = ETH_ALEN };
	char payload[46];

	uint32_t t = htonl(tag);

	memset(payload, c, sizeof(payload));
	memcpy(payload + 8, &t, 4);
	if (sendto(snd, payload, sizeof(payload), 0, (struct sockaddr *)&to, sizeof(to)) != sizeof(payload))
		fail("send");
}

static int wait_frame(uint8_t *ring, int i, char c)
{
	struct tpacket2_hdr *h = (struct tpacket2_hdr *)(ring + i * 2048);

	for (int t = 0; t < 3000; t++) {
		if (*(volatile uint32_t *)&h->tp_status & TP_STATUS_USER)
			return ((char *)h)[h->tp_mac + ETH_HLEN] == c ? 0 : -1;
		usleep(1000);
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct tpacket_req req = { .tp_block_size = 4096, .tp_block_nr = 4, .tp_frame_size = 2048, .tp_frame_nr = 8 };
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(P_RX) };
	int sk, snd, v = TPACKET_V2, lo, status;
	uint8_t *ring;
	pid_t child;

	test_init(argc, argv);
	lo = if_nametoindex("lo");
	sk = socket(AF_PACKET, SOCK_RAW, 0);
	snd = socket(AF_PACKET, SOCK_DGRAM, 0);
	ll.sll_ifindex = lo;
	tag = getpid();
	if (sk >= 0)
		tag_filter(sk);
	if (sk < 0 || snd < 0 || setsockopt(sk, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) ||
	    setsockopt(sk, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) ||
	    bind(sk, (struct sockaddr *)&ll, sizeof(ll)))
		test_bug("packet socket");
	ring = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, sk, 0);
	if (ring == MAP_FAILED)
		test_bug("mmap");
	for (int i = 0; i < 3; i++) {
		send_frame(snd, lo, 'a' + i);
		if (wait_frame(ring, i, 'a' + i))
			test_bug("frame %d", i);
		*(volatile uint32_t *)(ring + i * 2048) = TP_STATUS_KERNEL;
	}
	zdtm_block_usr1(true);
	child = zdtm_fork();
	if (child == 0) {
		close(sk);
		close(snd);
		zdtm_wait_usr1();
		/* the parent sent 'x' after restore */
		exit(wait_frame(ring, 3, 'x') ? 1 : 0);
	}

	test_daemon();
	test_waitsig();

	send_frame(snd, lo, 'x');
	if (wait_frame(ring, 3, 'x'))
		fail("the parent's mapping did not get the frame at 3");
	status = zdtm_wake_and_reap(child, NULL);
	if (status)
		failv("the child's mapping did not get the frame at 3 (exit %d)", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
