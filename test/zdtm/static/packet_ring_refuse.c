// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test (root): a packet socket's receive ring is mapped and the
 * socket's fd closed, so only the mapping keeps the socket. Nothing can
 * open a socket through a mapping, so the dump must fail naming the area
 * and the socket (see the .desc), and leave the ring working: after
 * SIGTERM a frame sent on lo still lands in it.
 */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "zdtmtst.h"

#define P_RX	0x88BC

int main(int argc, char **argv)
{
	struct tpacket_req req = { .tp_block_size = 4096, .tp_block_nr = 2, .tp_frame_size = 2048, .tp_frame_nr = 4 };
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(P_RX), .sll_halen = ETH_ALEN };
	int sk, snd, v = TPACKET_V2;
	char payload[46] = "after";
	volatile uint32_t *st;
	uint8_t *ring;

	test_init(argc, argv);
	ll.sll_ifindex = if_nametoindex("lo");
	sk = socket(AF_PACKET, SOCK_RAW, 0);
	if (sk < 0 || setsockopt(sk, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) ||
	    setsockopt(sk, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) ||
	    bind(sk, (struct sockaddr *)&ll, sizeof(ll)))
		test_bug("packet socket");
	ring = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, sk, 0);
	if (ring == MAP_FAILED)
		test_bug("mmap");
	close(sk);
	st = (volatile uint32_t *)ring;

	test_daemon();
	test_waitsig();

	snd = socket(AF_PACKET, SOCK_DGRAM, 0);
	if (sendto(snd, payload, sizeof(payload), 0, (struct sockaddr *)&ll, sizeof(ll)) != sizeof(payload))
		fail("send");
	for (int i = 0; i < 3000 && !*st; i++)
		usleep(1000);
	if (!*st)
		fail("the ring no longer receives");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
