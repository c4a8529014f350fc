// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: an inet (UDP) socket at fd 79 bound to a loopback port,
 * with a datagram queued, is not supported, so the dump must fail, name
 * the resource (kind and fd) and leave the process running untouched
 * (see socket_refuse.desc). After SIGTERM the test checks its memory,
 * the socket's address and that the queued datagram is still there.
 */
#include <netinet/in.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "zdtmtst.h"

#define SOCK_FD		79
#define MEM_SIZE	(1UL << 20)
#define MSG		"still queued"

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) }, b;
	socklen_t len = sizeof(a), blen = sizeof(b);
	unsigned char *mem;
	char buf[64] = {};
	uint64_t seed;
	size_t bad;
	int sk;

	test_init(argc, argv);

	seed = zdtm_random();
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		test_bug("mmap");
	zdtm_fill(mem, MEM_SIZE, seed);

	sk = socket(AF_INET, SOCK_DGRAM, 0);
	if (sk < 0 || bind(sk, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(sk, (struct sockaddr *)&a, &len))
		test_bug("socket");
	if (dup2(sk, SOCK_FD) != SOCK_FD)
		test_bug("dup2");
	close(sk);
	if (sendto(SOCK_FD, MSG, sizeof(MSG), 0, (struct sockaddr *)&a, len) != sizeof(MSG))
		test_bug("send");

	test_daemon();
	test_waitsig();

	bad = zdtm_check(mem, MEM_SIZE, seed);
	if (bad != (size_t)-1)
		failv("memory differs at byte %zu", bad);
	if (getsockname(SOCK_FD, (struct sockaddr *)&b, &blen) || b.sin_port != a.sin_port)
		fail("the socket lost its address");
	if (recv(SOCK_FD, buf, sizeof(buf), MSG_DONTWAIT) != sizeof(MSG))
		fail("recv");
	else if (strcmp(buf, MSG))
		failv("received \"%s\"", buf);

	if (test_failures)
		return 1;
	pass();
	return 0;
}
